package gateway

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	realtimev1 "github.com/infliq/infliq/backend/gen/infliq/realtime/v1"
	"github.com/infliq/infliq/backend/gen/infliq/realtime/v1/realtimev1connect"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/cache/redistest"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/httpx"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/logx"
	"github.com/infliq/infliq/backend/platform/metrics"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
	"github.com/infliq/infliq/backend/realtime"
)

// TestPublicEdgeShowsNoInternals: no /metrics or profiling on the public
// gateway and a /health without tier URLs; both live on the internal handler.
func TestPublicEdgeShowsNoInternals(t *testing.T) {
	m := metrics.New()
	g := New(Options{Upstreams: Upstreams{"auth": mustURL("http://10.1.2.3:3001")}, Edge: edge(), Log: logx.Discard(), Metrics: m})
	pub := httptest.NewServer(g)
	t.Cleanup(pub.Close)
	for _, p := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/profile", "/debug/vars"} {
		if res, _ := do(t, "GET", pub.URL+p, "", nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("public %s: %d", p, res.StatusCode)
		}
	}
	res, body := do(t, "GET", pub.URL+"/health", "", nil)
	if res.StatusCode != 200 || len(body) != 2 || body["status"] != "OK" || body["service"] != "api-gateway" {
		t.Fatalf("public health: %d %v", res.StatusCode, body)
	}
	internal := httptest.NewServer(g.Internal())
	t.Cleanup(internal.Close)
	res, body = do(t, "GET", internal.URL+"/health", "", nil)
	if routes, _ := body["routes"].(map[string]any); res.StatusCode != 200 || routes["auth"] != "http://10.1.2.3:3001" {
		t.Fatalf("internal health: %v", body)
	}
	res, _ = do(t, "GET", internal.URL+"/metrics", "", nil)
	if res.StatusCode != 200 {
		t.Fatalf("internal metrics: %d", res.StatusCode)
	}
}

func mustURL(s string) *url.URL { u, _ := url.Parse(s); return u }

// headerUpstream answers like a tier that sets its own headers.
func headerUpstream(t *testing.T, hdr map[string]string) *url.URL {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		for k, v := range hdr {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	return mustURL(srv.URL)
}

// TestSecurityHeaders checks the headers of every kind of response over the gateway.
func TestSecurityHeaders(t *testing.T) {
	ups := Upstreams{
		"user":  headerUpstream(t, map[string]string{"X-Content-Type-Options": "nosniff"}),
		"media": headerUpstream(t, map[string]string{"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}),
	}
	e := edge()
	e.RateMax = 3
	base, _ := newGateway(t, Options{Upstreams: ups, Edge: e, HSTS: true, Limiter: newMemLimiter(5)})
	const csp = "default-src 'none'; frame-ancestors 'none'"
	auth := map[string]string{"Authorization": "Bearer x", "Content-Type": "application/json"}
	cases := []struct {
		name, method, path string
		hdr                map[string]string
		csp, noStore       bool
	}{
		{"health", "GET", "/health", nil, true, false},
		{"anonymous rpc", "POST", "/infliq.user.v1.UserService/GetLimits", map[string]string{"Content-Type": "application/json"}, true, false},
		{"authenticated rpc", "POST", "/infliq.user.v1.UserService/GetProfile", auth, true, true},
		{"unknown route", "GET", "/api/nope", auth, true, true},
		{"media bytes", "GET", "/api/media/proxy/general/x.png", auth, false, false},
		{"legacy uploads", "GET", "/uploads/a.png", nil, false, false},
		{"preflight", "OPTIONS", "/api/posts", map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}, true, false},
		{"rate limited", "POST", "/infliq.user.v1.UserService/GetLimits", auth, true, true},
	}
	for _, tc := range cases {
		res, _ := do(t, tc.method, base+tc.path, "", tc.hdr)
		h := res.Header
		if v := h.Values("X-Content-Type-Options"); len(v) != 1 || v[0] != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", tc.name, v)
		}
		if h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: Referrer-Policy %q", tc.name, h.Get("Referrer-Policy"))
		}
		if h.Get("Strict-Transport-Security") == "" {
			t.Errorf("%s: no HSTS", tc.name)
		}
		if got := h.Get("Content-Security-Policy"); (got == csp) != tc.csp {
			t.Errorf("%s: CSP %q", tc.name, got)
		}
		if got := h.Values("Cache-Control"); tc.noStore && (len(got) != 1 || got[0] != "no-store") {
			t.Errorf("%s: Cache-Control %q", tc.name, got)
		}
		if tc.name == "media bytes" && h.Get("Cache-Control") != "public, max-age=86400" {
			t.Errorf("media lost its caching: %q", h.Values("Cache-Control"))
		}
		if tc.name == "rate limited" && res.StatusCode != http.StatusTooManyRequests {
			t.Errorf("rate limited: %d", res.StatusCode)
		}
	}
	// No HSTS when the public origin is plain http.
	base, _ = newGateway(t, Options{})
	if res, _ := do(t, "GET", base+"/health", "", nil); res.Header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS over http")
	}
}

// memLimiter allows n requests in all.
type memLimiter struct{ left chan struct{} }

func newMemLimiter(n int) *memLimiter {
	l := &memLimiter{left: make(chan struct{}, n)}
	for range n {
		l.left <- struct{}{}
	}
	return l
}

func (l *memLimiter) Allow(context.Context, string) (Limit, error) {
	select {
	case <-l.left:
		return Limit{Allowed: true, Limit: cap(l.left)}, nil
	default:
		return Limit{Limit: cap(l.left), RetryAfter: time.Second}, nil
	}
}

// TestSlowBodyIsCut: a body trickling in at 2 bytes per tick no longer holds
// a connection: JSON/RPC bodies have a short deadline, uploads a minimum
// rate. A small deadline keeps the test short; the client gives up after 40
// ticks, so on a gateway without the bound the test fails instead of hanging.
func TestSlowBodyIsCut(t *testing.T) {
	e := edge()
	e.MaxBodyBytes = 1 << 20
	e.BodyReadTimeout = config.Duration(300 * time.Millisecond)
	e.UploadReadWindow = config.Duration(300 * time.Millisecond)
	base, _ := newGateway(t, Options{Edge: e})
	for _, tc := range []struct{ name, head, want string }{
		{"rpc", "POST /infliq.user.v1.UserService/GetLimits HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{", "408"},
		{"connect rpc", "POST /infliq.user.v1.UserService/GetLimits HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnect-Protocol-Version: 1\r\nTransfer-Encoding: chunked\r\n\r\n", " 504 "},
		{"upload", "POST /api/media/upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 10000000\r\n\r\n--b\r\n", "408"},
	} {
		tick, status := tiertest.Trickle(t, base, tc.head)
		if tick < 0 {
			t.Errorf("%s: a trickling body held the connection for the whole run", tc.name)
		} else if !strings.Contains(status, tc.want) {
			t.Errorf("%s: answered %q, want %s", tc.name, status, tc.want)
		}
	}
	// A normal body is unaffected.
	if res, body := do(t, "POST", base+"/infliq.user.v1.UserService/GetLimits", "{}", map[string]string{"Content-Type": "application/json"}); res.StatusCode != 200 || body["upstream"] != "user" {
		t.Fatalf("normal body: %d %v", res.StatusCode, body)
	}
}

// TestBodyDeadlineSparesStreams: once a request body is complete its
// deadline is lifted, so a server stream (here in process, as in `infliq
// all`) outlives BODY_READ_TIMEOUT.
func TestBodyDeadlineSparesStreams(t *testing.T) {
	sub := bus.NewSubscriber(bus.New(redistest.New(t), redistest.Prefix(), 10), logx.Discard())
	t.Cleanup(func() { _ = sub.Close() })
	rt := realtime.NewTier(tiertest.Deps(), realtime.Options{Config: config.Realtime{Heartbeat: config.Duration(50 * time.Millisecond)}, Sub: sub})
	local := httpx.NewLocal()
	local.Register("127.0.0.1:1", rt.Handler())
	e := edge()
	e.BodyReadTimeout = config.Duration(100 * time.Millisecond)
	g := New(Options{Upstreams: Upstreams{"realtime": mustURL("http://127.0.0.1:1")}, Local: local.Handler, Edge: e,
		Log: logx.Discard(), Metrics: metrics.New(), InternalToken: tiertest.InternalToken})
	base, h2c, h1 := tiertest.Serve(t, g)
	tok := tiertest.Token(t, id.New())
	for _, c := range []realtimev1connect.RealtimeServiceClient{
		realtimev1connect.NewRealtimeServiceClient(h1, base, tiertest.Bearer(tok)),
		realtimev1connect.NewRealtimeServiceClient(h2c, base, connect.WithGRPC(), tiertest.Bearer(tok)),
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		stream, err := c.Subscribe(ctx, connect.NewRequest(&realtimev1.SubscribeRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		// 8 heartbeats take 400 ms, four times the body deadline.
		for i := range 8 {
			if !stream.Receive() {
				t.Fatalf("stream ended after %d heartbeats: %v", i, stream.Err())
			}
		}
		cancel()
		_ = stream.Close()
	}
}
