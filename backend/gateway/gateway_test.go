package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

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
	"github.com/infliq/infliq/compat/socketio/sioclient"
)

// recorder is a fake upstream that records what reached it.
type recorder struct {
	mu   sync.Mutex
	seen []*http.Request
	name string
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	rc.seen = append(rc.seen, r.Clone(context.Background()))
	rc.mu.Unlock()
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"upstream":"` + rc.name + `"}`))
}

func (rc *recorder) last() *http.Request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.seen) == 0 {
		return nil
	}
	return rc.seen[len(rc.seen)-1]
}

func edge() config.Gateway {
	return config.Gateway{RateMax: 1000, RateWindow: config.Millis(time.Minute), MaxBodyBytes: 1024, UpstreamTimeout: config.Duration(5 * time.Second)}
}

func newGateway(t *testing.T, o Options) (string, map[string]*recorder) {
	t.Helper()
	recs := map[string]*recorder{}
	if o.Upstreams == nil {
		o.Upstreams = Upstreams{}
		for _, name := range []string{"auth", "user", "post", "feed", "chat", "call", "media", "realtime"} {
			rc := &recorder{name: name}
			srv := httptest.NewServer(rc)
			t.Cleanup(srv.Close)
			u, _ := url.Parse(srv.URL)
			o.Upstreams[name] = u
			recs[name] = rc
		}
	}
	if o.Log == nil {
		o.Log = logx.Discard()
	}
	if o.Metrics == nil {
		o.Metrics = metrics.New()
	}
	if o.Edge.RateMax == 0 {
		o.Edge = edge()
	}
	srv := httptest.NewServer(New(o))
	t.Cleanup(srv.Close)
	return srv.URL, recs
}

func do(t *testing.T, method, u string, body string, hdr map[string]string) (*http.Response, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, u, rd)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return res, m
}

func TestRoutesByPackagePrefix(t *testing.T) {
	base, recs := newGateway(t, Options{})
	for pkg, tier := range map[string]string{
		"infliq.auth.v1.AuthService/GetSession": "auth", "infliq.user.v1.UserService/GetLimits": "user",
		"infliq.post.v1.PostService/GetLimits": "post", "infliq.feed.v1.FeedService/GetLimits": "feed",
		"infliq.chat.v1.ChatService/GetLimits": "chat", "infliq.call.v1.CallService/GetCallConfig": "call",
		"infliq.media.v1.MediaService/GetUploadPolicy": "media", "infliq.realtime.v1.RealtimeService/Subscribe": "realtime",
	} {
		res, body := do(t, "POST", base+"/"+pkg, "{}", map[string]string{"Content-Type": "application/json"})
		if res.StatusCode != 200 || body["upstream"] != tier {
			t.Errorf("%s went to %v (status %d)", pkg, body["upstream"], res.StatusCode)
		}
		if got := recs[tier].last(); got == nil || got.URL.Path != "/"+pkg {
			t.Errorf("%s: upstream saw %v", pkg, got)
		}
	}
	// Socket.IO paths go to the connection tier.
	for _, p := range []string{"/socket.io/?EIO=4&transport=polling", "/socket-chat.io/?EIO=4&transport=polling"} {
		res, body := do(t, "GET", base+p, "", nil)
		if res.StatusCode != 200 || body["upstream"] != "realtime" {
			t.Errorf("%s went to %v", p, body["upstream"])
		}
	}
	// Internal procedures are never routed from the edge.
	res, _ := do(t, "POST", base+"/infliq.user.v1.UserInternalService/CreateUser", "{}", map[string]string{"Content-Type": "application/json", "Connect-Protocol-Version": "1"})
	if res.StatusCode != 501 || recs["user"].last().URL.Path == "/infliq.user.v1.UserInternalService/CreateUser" {
		t.Fatalf("internal procedure routed: %d", res.StatusCode)
	}
	// Unknown packages and paths: Connect error for RPC clients, legacy JSON 404 otherwise.
	res, body := do(t, "POST", base+"/infliq.nope.v1.X/Y", "{}", map[string]string{"Content-Type": "application/json", "Connect-Protocol-Version": "1"})
	if res.StatusCode != 501 || body["code"] != "unimplemented" {
		t.Fatalf("unknown procedure: %d %v", res.StatusCode, body)
	}
	for _, p := range []string{"/api/unknown", "/api/users/x/y/z/w", "/nothing"} {
		res, body = do(t, "GET", base+p, "", nil)
		if res.StatusCode != 404 || body["code"] != "NOT_FOUND" || body["error"] == nil {
			t.Fatalf("%s: %d %v", p, res.StatusCode, body)
		}
	}
	res, body = do(t, "GET", base+"/health", "", nil)
	if res.StatusCode != 200 || body["status"] != "OK" || body["service"] != "api-gateway" {
		t.Fatalf("health: %v", body)
	}
}

func TestRequestID(t *testing.T) {
	base, recs := newGateway(t, Options{})
	path := base + "/infliq.auth.v1.AuthService/GetSession"
	h := map[string]string{"Content-Type": "application/json", "X-Request-Id": "smoke-123"}
	res, _ := do(t, "POST", path, "{}", h)
	if res.Header.Get("X-Request-Id") != "smoke-123" || recs["auth"].last().Header.Get("X-Request-Id") != "smoke-123" {
		t.Fatalf("sane id not echoed/forwarded: %q / %q", res.Header.Get("X-Request-Id"), recs["auth"].last().Header.Get("X-Request-Id"))
	}
	for _, bad := range []string{strings.Repeat("a", 129), "has space", "new\tline"} {
		h["X-Request-Id"] = bad
		res, _ = do(t, "POST", path, "{}", h)
		got := res.Header.Get("X-Request-Id")
		if got == bad || len(got) != 32 || recs["auth"].last().Header.Get("X-Request-Id") != got {
			t.Fatalf("insane id %q kept or not regenerated: %q", bad, got)
		}
	}
	res, _ = do(t, "GET", base+"/health", "", nil)
	if len(res.Header.Get("X-Request-Id")) != 32 {
		t.Fatal("id not generated")
	}
}

func TestCORS(t *testing.T) {
	e := edge()
	e.AllowedOrigins = config.CSV{"https://app.infliq.com"}
	base, _ := newGateway(t, Options{Edge: e})
	res, _ := do(t, "GET", base+"/health", "", map[string]string{"Origin": "https://app.infliq.com"})
	if res.Header.Get("Access-Control-Allow-Origin") != "https://app.infliq.com" {
		t.Fatalf("allowed origin: %q", res.Header.Get("Access-Control-Allow-Origin"))
	}
	res, _ = do(t, "GET", base+"/health", "", map[string]string{"Origin": "https://evil.example"})
	if res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("foreign origin allowed")
	}
	res, _ = do(t, "OPTIONS", base+"/infliq.auth.v1.AuthService/GetSession", "", map[string]string{
		"Origin": "https://app.infliq.com", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,connect-protocol-version,content-type"})
	if res.StatusCode != 204 || !strings.Contains(strings.ToLower(res.Header.Get("Access-Control-Allow-Headers")), "connect-protocol-version") {
		t.Fatalf("preflight: %d %v", res.StatusCode, res.Header)
	}
	// Strict mode never falls back to a wildcard.
	base, _ = newGateway(t, Options{Edge: edge(), Strict: true})
	res, _ = do(t, "GET", base+"/health", "", map[string]string{"Origin": "https://evil.example"})
	if res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("strict mode allowed an origin without ALLOWED_ORIGINS")
	}
}

func TestRateLimitSharedAcrossReplicas(t *testing.T) {
	redistest.Each(t, testRateLimitSharedAcrossReplicas)
}

func testRateLimitSharedAcrossReplicas(t *testing.T, rdb redis.UniversalClient) {
	prefix := redistest.Prefix()
	e := edge()
	e.RateMax = 5
	e.RateWindow = config.Millis(time.Minute)
	// Two gateway replicas share one budget through Redis.
	a, _ := newGateway(t, Options{Edge: e, Limiter: NewRedisLimiter(rdb, prefix, e.RateMax, e.RateWindow.D())})
	b, _ := newGateway(t, Options{Edge: e, Limiter: NewRedisLimiter(rdb, prefix, e.RateMax, e.RateWindow.D())})
	var codes []int
	for i := 0; i < 6; i++ {
		base := a
		if i%2 == 1 {
			base = b
		}
		res, body := do(t, "GET", base+"/api/anything", "", nil)
		codes = append(codes, res.StatusCode)
		if i < 5 && res.Header.Get("RateLimit-Remaining") != itoa(4-i) {
			t.Fatalf("request %d remaining=%q", i, res.Header.Get("RateLimit-Remaining"))
		}
		if i == 5 {
			if res.StatusCode != 429 || body["code"] != "RATE_LIMITED" || res.Header.Get("Retry-After") == "" || res.Header.Get("RateLimit-Policy") != "5;w=60" {
				t.Fatalf("limit not enforced across replicas: %d %v %v", res.StatusCode, body, res.Header)
			}
		}
	}
	// Health stays reachable for load balancers.
	if res, _ := do(t, "GET", a+"/health", "", nil); res.StatusCode != 200 {
		t.Fatalf("health rate limited: %v", codes)
	}
}

// TestRateLimitConcurrentAcrossReplicas: dozens of parallel requests spread
// over two replicas, each limiter autopipelined as in production, spend one
// budget exactly.
func TestRateLimitConcurrentAcrossReplicas(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ap, err := rdb.AutoPipeline()
		if err != nil {
			t.Fatal(err)
		}
		prefix := redistest.Prefix()
		e := edge()
		e.RateMax = 10
		e.RateWindow = config.Millis(time.Minute)
		a, _ := newGateway(t, Options{Edge: e, Limiter: NewRedisLimiter(ap, prefix, e.RateMax, e.RateWindow.D())})
		b, _ := newGateway(t, Options{Edge: e, Limiter: NewRedisLimiter(ap, prefix, e.RateMax, e.RateWindow.D())})
		var mu sync.Mutex
		codes := map[int]int{}
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				base := a
				if i%2 == 1 {
					base = b
				}
				res, _ := do(t, "GET", base+"/api/anything", "", nil)
				mu.Lock()
				codes[res.StatusCode]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if codes[429] != 30 || len(codes) != 2 {
			t.Fatalf("status counts %v, want 10 allowed and 30 refused", codes)
		}
	})
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestUpstreamDownIs502JSON(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead, _ := url.Parse("http://" + l.Addr().String())
	l.Close()
	ups := Upstreams{"auth": dead}
	base, _ := newGateway(t, Options{Upstreams: ups})
	res, body := do(t, "POST", base+"/infliq.auth.v1.AuthService/GetSession", "{}", map[string]string{"Content-Type": "application/json"})
	if res.StatusCode != 502 || body["code"] != "DEPENDENCY_UNAVAILABLE" || body["error"] != "Upstream service unavailable" {
		t.Fatalf("legacy client: %d %v", res.StatusCode, body)
	}
	res, body = do(t, "POST", base+"/infliq.auth.v1.AuthService/GetSession", "{}", map[string]string{"Content-Type": "application/json", "Connect-Protocol-Version": "1"})
	if body["code"] != "unavailable" {
		t.Fatalf("connect client: %d %v", res.StatusCode, body)
	}
}

func TestBodyTooLargeIs413JSON(t *testing.T) {
	base, recs := newGateway(t, Options{})
	big := strings.Repeat("x", 2048)
	res, body := do(t, "POST", base+"/infliq.auth.v1.AuthService/GetSession", `{"email":"`+big+`"}`, map[string]string{"Content-Type": "application/json"})
	if res.StatusCode != 413 || body["code"] != "PAYLOAD_TOO_LARGE" {
		t.Fatalf("declared length: %d %v", res.StatusCode, body)
	}
	if recs["auth"].last() != nil {
		t.Fatal("a declared oversize body reached the upstream")
	}
	// Chunked body without Content-Length is cut while streaming to the upstream.
	pr, pw := io.Pipe()
	go func() { _, _ = pw.Write([]byte(big)); pw.Close() }()
	req, _ := http.NewRequest("POST", base+"/infliq.auth.v1.AuthService/GetSession", pr)
	req.Header.Set("Content-Type", "application/json")
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	if r2.StatusCode != 413 {
		t.Fatalf("chunked: %d %s", r2.StatusCode, raw)
	}
}

func TestStreamsPassThroughUnbuffered(t *testing.T) {
	sub := bus.NewSubscriber(bus.New(redistest.New(t), redistest.Prefix(), 10), logx.Discard())
	t.Cleanup(func() { _ = sub.Close() })
	rt := realtime.NewTier(tiertest.Deps(), realtime.Options{Config: config.Realtime{Heartbeat: config.Duration(50 * time.Millisecond)}, Sub: sub})
	rtURL, _, _ := tiertest.Serve(t, rt.Handler())
	u, _ := url.Parse(rtURL)
	base, _ := newGateway(t, Options{Upstreams: Upstreams{"realtime": u}})
	tok := tiertest.Token(t, id.New())
	for _, proto := range []connect.ClientOption{connect.WithGRPCWeb(), connect.WithProtoJSON()} {
		c := realtimev1connect.NewRealtimeServiceClient(http.DefaultClient, base, proto, tiertest.Bearer(tok))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		req := connect.NewRequest(&realtimev1.SubscribeRequest{LastSequence: 7})
		req.Header().Set("Authorization", "Bearer "+tok)
		stream, err := c.Subscribe(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		// Three heartbeats arriving one by one prove the proxy does not buffer.
		for i := 0; i < 3; i++ {
			if !stream.Receive() {
				t.Fatalf("stream ended: %v", stream.Err())
			}
			if stream.Msg().GetHeartbeat() == nil || stream.Msg().GetSequence() != 7 {
				t.Fatalf("unexpected event %v", stream.Msg())
			}
		}
		cancel()
		_ = stream.Close()
	}
	// Without a token the stream is refused before it starts.
	c := realtimev1connect.NewRealtimeServiceClient(http.DefaultClient, base)
	stream, _ := c.Subscribe(context.Background(), connect.NewRequest(&realtimev1.SubscribeRequest{}))
	if stream.Receive() || connect.CodeOf(stream.Err()) != connect.CodeUnauthenticated {
		t.Fatalf("unauthenticated stream: %v", stream.Err())
	}
}

func TestClientIPTrustsOnlyConfiguredProxies(t *testing.T) {
	var p config.Prefixes
	_ = p.UnmarshalText([]byte("10.0.0.0/8"))
	mk := func(remote, xff string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		return r
	}
	cases := []struct{ remote, xff, want string }{
		{"203.0.113.9:1234", "1.2.3.4", "203.0.113.9"},             // untrusted peer: XFF ignored
		{"10.0.0.5:1234", "1.2.3.4", "1.2.3.4"},                    // trusted proxy
		{"10.0.0.5:1234", "6.6.6.6, 1.2.3.4, 10.0.0.7", "1.2.3.4"}, // right-most untrusted wins
		{"10.0.0.5:1234", "garbage", "10.0.0.5"},
	}
	for _, c := range cases {
		if got := httpx.EdgeClientIP(mk(c.remote, c.xff), p.Contains); got != netip.MustParseAddr(c.want) {
			t.Errorf("%s xff=%q: got %s want %s", c.remote, c.xff, got, c.want)
		}
	}
}

// TestInProcessTiers: with the tiers in the gateway's process (`infliq
// all`), requests go to their handlers directly and the upstream URLs are
// never dialled: unary calls carry the forwarded headers, gRPC streams keep
// their trailers over h2c, and websocket upgrades pass the gateway's own
// middleware.
func TestInProcessTiers(t *testing.T) {
	sub := bus.NewSubscriber(bus.New(redistest.New(t), redistest.Prefix(), 10), logx.Discard())
	t.Cleanup(func() { _ = sub.Close() })
	rt := realtime.NewTier(tiertest.Deps(), realtime.Options{Config: config.Realtime{Heartbeat: config.Duration(50 * time.Millisecond)}, Sub: sub})
	feed := &recorder{name: "feed"}
	local := httpx.NewLocal()
	local.Register("127.0.0.1:1", rt.Handler())
	local.Register("127.0.0.1:2", feed)
	// Nothing listens on these ports: only in-process dispatch can answer.
	ups := Upstreams{}
	for tier, port := range map[string]string{"realtime": "1", "feed": "2", "chat": "3"} {
		ups[tier], _ = url.Parse("http://127.0.0.1:" + port)
	}
	g := New(Options{Upstreams: ups, Local: local.Handler, Edge: edge(), Log: logx.Discard(), Metrics: metrics.New()})
	base, h2c, h1 := tiertest.Serve(t, g)
	gwHost := strings.TrimPrefix(base, "http://")

	res, body := do(t, "POST", base+"/infliq.feed.v1.FeedService/GetLimits", "{}", map[string]string{"Content-Type": "application/json", "X-Forwarded-For": "6.6.6.6"})
	if res.StatusCode != 200 || body["upstream"] != "feed" {
		t.Fatalf("unary in process: %d %v", res.StatusCode, body)
	}
	seen := feed.last()
	if seen.Header.Get("X-Forwarded-For") != "127.0.0.1" || seen.Header.Get("X-Forwarded-Host") != gwHost ||
		seen.Header.Get("X-Forwarded-Proto") != "http" || seen.Host != "127.0.0.1:2" {
		t.Fatalf("forwarded headers: xff %q host %q proto %q, Host %q", seen.Header.Get("X-Forwarded-For"),
			seen.Header.Get("X-Forwarded-Host"), seen.Header.Get("X-Forwarded-Proto"), seen.Host)
	}
	// A tier that is not in this process is still proxied (and is down here).
	res, body = do(t, "POST", base+"/infliq.chat.v1.ChatService/GetLimits", "{}", map[string]string{"Content-Type": "application/json", "Connect-Protocol-Version": "1"})
	if res.StatusCode != 503 || body["code"] != "unavailable" {
		t.Fatalf("tier not in process: %d %v", res.StatusCode, body)
	}

	tok := tiertest.Token(t, id.New())
	for _, c := range []realtimev1connect.RealtimeServiceClient{
		realtimev1connect.NewRealtimeServiceClient(h2c, base, connect.WithGRPC(), tiertest.Bearer(tok)),
		realtimev1connect.NewRealtimeServiceClient(h1, base, connect.WithGRPCWeb(), tiertest.Bearer(tok)),
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		stream, err := c.Subscribe(ctx, connect.NewRequest(&realtimev1.SubscribeRequest{LastSequence: 3}))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			if !stream.Receive() || stream.Msg().GetHeartbeat() == nil {
				t.Fatalf("stream in process: %v", stream.Err())
			}
		}
		cancel()
		_ = stream.Close()
	}
	// gRPC reports the refusal in trailers.
	stream, _ := realtimev1connect.NewRealtimeServiceClient(h2c, base, connect.WithGRPC()).Subscribe(context.Background(), connect.NewRequest(&realtimev1.SubscribeRequest{}))
	if stream.Receive() || connect.CodeOf(stream.Err()) != connect.CodeUnauthenticated {
		t.Fatalf("unauthenticated gRPC stream in process: %v", stream.Err())
	}

	// Engine.IO polling and a websocket upgrade through the access log's writer.
	res, err := h1.Get(base + "/socket.io/?EIO=4&transport=polling&t=1")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(string(raw), `0{"sid":`) {
		t.Fatalf("polling handshake in process: %d %s", res.StatusCode, raw)
	}
	sc, err := sioclient.Dial(base, "/socket.io/", tok)
	if err != nil {
		t.Fatalf("websocket in process: %v", err)
	}
	sc.Close()
	if _, err := sioclient.Dial(base, "/socket.io/", "bad"); err == nil || !strings.Contains(err.Error(), "Unauthorized") {
		t.Fatalf("bad token in process: %v", err)
	}
}

// TestRateLimiterFailsOpenWithMetricAndOneLogLine: with Redis unreachable the
// edge limiter lets requests through, counts each in
// infliq_fail_open_total and logs once, not once per request.
func TestRateLimiterFailsOpenWithMetricAndOneLogLine(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close() // nothing listens there now
	rdb := redis.NewClient(&redis.Options{Addr: dead, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	var logs bytes.Buffer
	var mu sync.Mutex
	m := metrics.New()
	base, _ := newGateway(t, Options{
		Limiter: NewRedisLimiter(rdb, "gw:test:", 5, time.Minute),
		Log:     logx.New(lockedWriter{&mu, &logs}, logx.Options{Level: "info", Format: "json"}),
		Metrics: m,
	})
	var wg sync.WaitGroup
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, _ := do(t, "POST", base+"/infliq.user.v1.UserService/GetLimits", "{}", map[string]string{"Content-Type": "application/json"})
			if res.StatusCode != 200 {
				t.Errorf("fail-open request: %d", res.StatusCode)
			}
		}()
	}
	wg.Wait()
	if got := testutil.ToFloat64(m.FailOpen.WithLabelValues("gateway", "rate_limit")); got != 30 {
		t.Errorf("fail-open metric %v, want 30", got)
	}
	mu.Lock()
	n := strings.Count(logs.String(), "rate limiter unavailable")
	mu.Unlock()
	if n != 1 {
		t.Errorf("fail-open logged %d times, want once a minute", n)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
