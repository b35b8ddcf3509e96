package httpx

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientIPHeader is set by the gateway to the one client address it decided
// on; services behind it trust it because only the gateway is public.
const ClientIPHeader = "X-Forwarded-For"

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
