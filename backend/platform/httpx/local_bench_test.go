package httpx

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// BenchmarkUnaryHop compares one unary call (1 KB request, 6 KB response,
// the size of a feed page) in process, on the caller's goroutine (Connect
// unary) or piped from a handler goroutine (how streams go), with the same
// call over loopback HTTP/1.1, the hop it replaces when tiers share a
// process.
func BenchmarkUnaryHop(b *testing.B) {
	reqBody := bytes.Repeat([]byte("q"), 1<<10)
	respBody := bytes.Repeat([]byte("r"), 6<<10)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		deepStack(48) // a tier's handler chain runs ~16 KB deep (Connect, interceptors, pgx)
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/proto")
		w.Header().Set("Content-Length", strconv.Itoa(len(respBody)))
		_, _ = w.Write(respBody)
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	l := NewLocal()
	l.Register("tier.local:1", h)
	for _, c := range []struct {
		name, url string
		connect   bool
	}{
		{"in-process-connect-unary", "http://tier.local:1/svc/M", true},
		{"in-process-piped", "http://tier.local:1/svc/M", false},
		{"loopback-http1", srv.URL + "/svc/M", true},
	} {
		b.Run(c.name, func(b *testing.B) {
			hc := &http.Client{Transport: l.Transport(NewTransport())}
			b.ReportAllocs()
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				buf := make([]byte, 0, 8<<10)
				for pb.Next() {
					req, _ := http.NewRequest("POST", c.url, bytes.NewReader(reqBody))
					if c.connect {
						req.Header.Set("Connect-Protocol-Version", "1")
						req.Header.Set("Content-Type", "application/proto")
					}
					res, err := hc.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					out := bytes.NewBuffer(buf[:0])
					_, _ = out.ReadFrom(res.Body)
					res.Body.Close()
					if out.Len() != len(respBody) {
						b.Errorf("read %d bytes", out.Len())
						return
					}
				}
			})
		})
	}
}

//go:noinline
func deepStack(n int) byte {
	var frame [256]byte
	frame[n%256] = byte(n)
	if n == 0 {
		return frame[0]
	}
	return deepStack(n-1) + frame[n%256]
}
