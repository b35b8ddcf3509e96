package httpx

import (
	"net"
	"net/http"
	"time"
)

// NewTransport returns an HTTP/1.1 transport tuned for one busy upstream.
// The default keeps two idle connections per host, which collapses a proxy
// under concurrency (about half the throughput on two cores).
func NewTransport() *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:           d.DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 0, // streams may wait; callers bound unary calls with contexts
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true, // pass bodies through as they are
		ForceAttemptHTTP2:     false,
	}
}

// NewH2CTransport returns a cleartext HTTP/2 transport (for gRPC upstreams,
// which need trailers and HTTP/2 framing end to end).
func NewH2CTransport() *http.Transport {
	t := NewTransport()
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	t.Protocols = &p
	t.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 1000, StrictMaxConcurrentRequests: false}
	return t
}
