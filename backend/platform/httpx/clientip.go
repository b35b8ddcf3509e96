package httpx

import (
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientIPHeader is set by the gateway to the one client address it decided
// on; services believe it only on requests the gateway marked (GatewayHeader).
const ClientIPHeader = "X-Forwarded-For"

// GatewayHeader marks a request forwarded by the gateway; its value is the
// internal token, so a caller that reaches a tier port directly cannot forge it.
const GatewayHeader = "X-Infliq-Gateway"

// forwardedHeaders are the headers only the gateway may set for a tier.
var forwardedHeaders = []string{ClientIPHeader, "X-Forwarded-Proto", "X-Forwarded-Host", "X-Real-Ip", "Forwarded"}

// TrustGatewayOnly keeps the forwarded-address headers of a request only
// when the gateway marked it with token; any other caller (a direct call on
// a tier port) is known by its own address, so a fresh X-Forwarded-For per
// request cannot escape a per-IP limit. An empty token trusts nobody.
func TrustGatewayOnly(token string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mark := r.Header.Get(GatewayHeader)
		if token == "" || mark == "" || subtle.ConstantTimeCompare([]byte(mark), []byte(token)) != 1 {
			for _, k := range forwardedHeaders {
				r.Header.Del(k)
			}
		}
		r.Header.Del(GatewayHeader)
		next.ServeHTTP(w, r)
	})
}

// MarkGateway sets the gateway's mark on every request rt sends (the legacy
// edge's calls to the tiers carry the client address too).
func MarkGateway(rt http.RoundTripper, token string) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set(GatewayHeader, token)
		return rt.RoundTrip(r)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// EdgeClientIP decides the client address at the public edge. X-Forwarded-For
// is believed only when the direct peer is a trusted proxy, and then the
// right-most entry that is not itself a trusted proxy wins.
func EdgeClientIP(r *http.Request, trusted func(netip.Addr) bool) netip.Addr {
	peer := remoteAddr(r)
	if !peer.IsValid() || !trusted(peer) {
		return peer
	}
	parts := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(parts) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(parts[i]))
		if err != nil {
			break
		}
		a = a.Unmap()
		if !trusted(a) {
			return a
		}
		peer = a
	}
	return peer
}

// ServiceClientIP is the client address as a service behind the gateway sees it.
func ServiceClientIP(r *http.Request) string {
	if v := r.Header.Get(ClientIPHeader); v != "" {
		first, _, _ := strings.Cut(v, ",")
		if a, err := netip.ParseAddr(strings.TrimSpace(first)); err == nil {
			return a.Unmap().String()
		}
	}
	if a := remoteAddr(r); a.IsValid() {
		return a.String()
	}
	return ""
}

func remoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}
