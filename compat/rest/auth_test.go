package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/infliq/infliq/backend/auth"
	"github.com/infliq/infliq/backend/auth/revoke"
	"github.com/infliq/infliq/backend/auth/sms"
	"github.com/infliq/infliq/backend/chat"
	"github.com/infliq/infliq/backend/checks"
	"github.com/infliq/infliq/backend/feed"
	"github.com/infliq/infliq/backend/gateway"
	"github.com/infliq/infliq/backend/gen/infliq/chat/v1/chatv1connect"
	"github.com/infliq/infliq/backend/gen/infliq/user/v1/userv1connect"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/cache/redistest"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/logx"
	"github.com/infliq/infliq/backend/platform/metrics"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/backend/platform/tier"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
	"github.com/infliq/infliq/backend/post"
	"github.com/infliq/infliq/backend/realtime"
	"github.com/infliq/infliq/backend/user"
)

// authGateway runs the real gateway with the legacy router in front of the
// auth and user tiers, on PostgreSQL and Redis.
type authGateway struct {
	t    *testing.T
	base string
	hc   *http.Client
	sink string
	pool *pgxpool.Pool
}

func newAuthGateway(t *testing.T, otpPerIP int, tweak ...func(*config.Config)) *authGateway {
	t.Helper()
	cfg, err := config.LoadFrom(map[string]string{"APP_ENV": "test", "JWT_SECRET": tiertest.Secret, "BCRYPT_ROUNDS": "4"})
	if err != nil {
		t.Fatal(err)
	}
	if otpPerIP > 0 {
		cfg.OTP.MaxPerIPPerWindow = otpPerIP
	}
	for _, f := range tweak {
		f(cfg)
	}
	pool, rdb, prefix := pgtest.New(t), redistest.New(t), redistest.Prefix()
	rev := revoke.New(rdb, prefix, cfg.JWT.ExpiresIn.D())
	deps := tiertest.Deps()
	deps.Verifier.Revocations = rev
	userURL, uh2c, _ := tiertest.Serve(t, user.NewTier(tiertest.Deps(), pool).Handler())
	sink := filepath.Join(t.TempDir(), "sink")
	at, err := auth.NewTier(deps, auth.Options{
		DB: pool, Redis: rdb, Prefix: prefix, JWT: cfg.JWT, OTP: cfg.OTP, SMS: sms.NewDev(logx.Discard(), sink),
		Users:       userv1connect.NewUserInternalServiceClient(uh2c, userURL, tier.InternalClientOptions(tiertest.InternalToken)...),
		Revocations: rev,
	})
	if err != nil {
		t.Fatal(err)
	}
	authURL, _, h1 := tiertest.Serve(t, at.Handler())
	// Chat and realtime too, so the whole contract suite runs here.
	chatURL, _, _ := tiertest.Serve(t, chat.NewTier(tiertest.Deps(), pool, bus.New(rdb, prefix, 100)).Handler())
	sub := bus.NewSubscriber(bus.New(rdb, prefix, 100), logx.Discard())
	t.Cleanup(func() { _ = sub.Close() })
	rtURL, _, _ := tiertest.Serve(t, realtime.NewTier(deps, realtime.Options{Config: cfg.Realtime, Sub: sub,
		Chat: chatv1connect.NewChatInternalServiceClient(h1, chatURL, tier.InternalClientOptions(tiertest.InternalToken)...)}).Handler())
	au, _ := url.Parse(authURL)
	uu, _ := url.Parse(userURL)
	cu, _ := url.Parse(chatURL)
	ru, _ := url.Parse(rtURL)
	// The post, feed and media tiers make the contract checks' post/feed/story
	// and media parts pass against this stack too; every tier shares one bus.
	postURL, _, _ := tiertest.Serve(t, post.NewTier(deps, pool, bus.New(rdb, prefix, 100), cfg.Content).Handler())
	feedURL, _, _ := tiertest.Serve(t, feed.NewTier(deps, pool, feed.Options{Stories: cfg.Stories, S3: cfg.S3}).Handler())
	mediaURL := startMedia(t, nil)
	mu, _ := url.Parse(mediaURL)
	legacy := New(Deps{Log: logx.Discard(), Verifier: deps.Verifier, Clients: NewClients(h1, URLs{Auth: authURL, User: userURL, Chat: chatURL, Post: postURL, Feed: feedURL, Media: mediaURL})})
	gw := gateway.New(gateway.Options{
		Upstreams: gateway.Upstreams{"auth": au, "user": uu, "chat": cu, "realtime": ru, "media": mu}, Legacy: legacy,
		Edge: cfg.Gateway, Log: logx.Discard(), Metrics: metrics.New(),
	})
	base, _, gh1 := tiertest.Serve(t, gw)
	return &authGateway{t: t, base: base, hc: gh1, sink: sink, pool: pool}
}

type reply struct {
	status int
	raw    string
	body   map[string]any
	header http.Header
}

func (g *authGateway) post(path string, body any, hdr ...string) reply {
	g.t.Helper()
	return g.do("POST", path, body, hdr...)
}

// do sends body as JSON (a string as it is; nil sends nothing).
func (g *authGateway) do(method, path string, body any, hdr ...string) reply {
	g.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, g.base+path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := g.hc.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := reply{status: res.StatusCode, raw: string(raw), header: res.Header}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func (g *authGateway) code(phone string) string {
	g.t.Helper()
	codes, err := sms.LastCodes(g.sink)
	if err != nil {
		g.t.Fatal(err)
	}
	return codes[phone]
}

func want(t *testing.T, r reply, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	if code != "" && (r.body["code"] != code || r.body["error"] == nil) {
		t.Fatalf("body %s, want code %s", r.raw, code)
	}
}

func TestLegacyOTPFlow(t *testing.T) {
	g := newAuthGateway(t, 0)
	// A stale token must not break the public routes (the app sends one).
	r := g.post("/api/auth/send-otp", map[string]any{"phone": "9876543210"}, "Authorization", "Bearer expired.garbage.token")
	want(t, r, 200, "")
	if r.body["success"] != true || r.body["message"] != "OTP sent successfully" || r.body["testOTP"] != nil {
		t.Fatalf("send-otp body %s", r.raw)
	}
	code := g.code("+919876543210")
	if code == "" || strings.Contains(r.raw, code) {
		t.Fatalf("code %q missing or leaked: %s", code, r.raw)
	}
	r = g.post("/api/auth/verify-otp", map[string]any{"phone": "9876543210", "otp": code})
	want(t, r, 200, "")
	if strings.Contains(r.raw, `"`+code+`"`) {
		t.Fatal("OTP in verify response")
	}
	u, _ := r.body["user"].(map[string]any)
	for _, k := range []string{"_id", "id", "name", "phone", "email", "age", "isVerified", "profilePicture", "profilePhoto", "bio", "location", "followers", "following"} {
		if _, ok := u[k]; !ok {
			t.Fatalf("user.%s missing: %s", k, r.raw)
		}
	}
	if r.body["success"] != true || r.body["token"] == "" || r.body["refreshToken"] == "" || u["_id"] != u["id"] || u["phone"] != "+919876543210" || u["isVerified"] != true {
		t.Fatalf("verify body %s", r.raw)
	}
	// The code is single use.
	want(t, g.post("/api/auth/verify-otp", map[string]any{"phone": "9876543210", "otp": code}), 400, "BAD_REQUEST")

	// Refresh rotates; reuse and access tokens are refused.
	rt1, _ := r.body["refreshToken"].(string)
	tok, _ := r.body["token"].(string)
	r2 := g.post("/api/auth/refresh", map[string]any{"refreshToken": rt1})
	want(t, r2, 200, "")
	if r2.body["token"] == "" || r2.body["refreshToken"] == rt1 || r2.body["refreshToken"] == nil {
		t.Fatalf("refresh %s", r2.raw)
	}
	want(t, g.post("/api/auth/refresh", map[string]any{"refreshToken": rt1}), 401, "INVALID_TOKEN")
	want(t, g.post("/api/auth/refresh", map[string]any{"refreshToken": tok}), 401, "INVALID_TOKEN")
	want(t, g.post("/api/auth/refresh", map[string]any{}), 400, "BAD_REQUEST")
	// The family is revoked: the rotated token is dead too.
	rt2, _ := r2.body["refreshToken"].(string)
	want(t, g.post("/api/auth/refresh", map[string]any{"refreshToken": rt2}), 401, "INVALID_TOKEN")
}

func TestLegacyOTPBadInput(t *testing.T) {
	g := newAuthGateway(t, 0)
	for _, body := range []any{map[string]any{}, map[string]any{"phone": ""}, map[string]any{"phone": nil}, map[string]any{"phone": true}, ""} {
		r := g.post("/api/auth/send-otp", body)
		want(t, r, 400, "BAD_REQUEST")
		if r.body["error"] != "Phone number required" {
			t.Fatalf("%v: %s", body, r.raw)
		}
	}
	want(t, g.post("/api/auth/send-otp", map[string]any{"phone": "12"}), 400, "BAD_REQUEST")
	want(t, g.post("/api/auth/send-otp", `{"phone":`), 400, "BAD_REQUEST")
	want(t, g.post("/api/auth/verify-otp", map[string]any{"phone": "9876543210"}), 400, "BAD_REQUEST")
	want(t, g.post("/api/auth/verify-otp", map[string]any{"phone": "9876543210", "otp": 123456}), 400, "BAD_REQUEST")
	want(t, g.post("/api/auth/send-otp", `{"phone":"`+strings.Repeat("9", 2<<20)+`"}`), 413, "")
}

func TestLegacyOTPLimitIgnoresSpoofedForwardedFor(t *testing.T) {
	g := newAuthGateway(t, 2)
	want(t, g.post("/api/auth/send-otp", map[string]any{"phone": "9876543210"}, "X-Forwarded-For", "1.1.1.1"), 200, "")
	want(t, g.post("/api/auth/send-otp", map[string]any{"phone": "9876543211"}, "X-Forwarded-For", "2.2.2.2"), 200, "")
	r := g.post("/api/auth/send-otp", map[string]any{"phone": "9876543212"}, "X-Forwarded-For", "3.3.3.3")
	want(t, r, 429, "RATE_LIMITED")
	if r.header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
}

func TestLegacyPasswordRoutes(t *testing.T) {
	g := newAuthGateway(t, 0)
	reg := map[string]any{"name": "Ravi", "email": "ravi@example.com", "password": "s3cret-pass", "phone": "9876543210", "age": 30}
	r := g.post("/api/auth/register", reg)
	want(t, r, 200, "")
	u, _ := r.body["user"].(map[string]any)
	if u["_id"] == nil || u["_id"] != u["id"] || u["name"] != "Ravi" || u["email"] != "ravi@example.com" || u["age"] != float64(30) {
		t.Fatalf("register %s", r.raw)
	}
	r = g.post("/api/auth/register", reg)
	want(t, r, 400, "BAD_REQUEST")
	if r.body["error"] != "User already exists" {
		t.Fatal(r.raw)
	}
	want(t, g.post("/api/auth/register", map[string]any{"name": "X", "email": "x@example.com"}), 400, "BAD_REQUEST")

	r = g.post("/api/auth/login", map[string]any{"email": "ravi@example.com", "password": "s3cret-pass"})
	want(t, r, 200, "")
	lu, _ := r.body["user"].(map[string]any)
	if r.body["token"] == "" || lu["_id"] != u["_id"] || lu["id"] != u["_id"] {
		t.Fatalf("login %s", r.raw)
	}
	// S4: an empty body, or missing fields, never log anyone in.
	for _, body := range []any{"", map[string]any{}, map[string]any{"email": "ravi@example.com"}, map[string]any{"password": "x"}, map[string]any{"email": nil, "password": nil}} {
		r := g.post("/api/auth/login", body)
		want(t, r, 400, "BAD_REQUEST")
		if r.body["token"] != nil {
			t.Fatal("token on empty login")
		}
	}
	for _, body := range []map[string]any{{"email": "ravi@example.com", "password": "wrong"}, {"email": "nobody@example.com", "password": "s3cret-pass"}} {
		r := g.post("/api/auth/login", body)
		want(t, r, 401, "UNAUTHORIZED")
		if r.body["error"] != "Invalid credentials" {
			t.Fatal(r.raw)
		}
	}
}

func TestLegacyLogout(t *testing.T) {
	g := newAuthGateway(t, 0)
	session := func(phone string) (string, string) {
		want(t, g.post("/api/auth/send-otp", map[string]any{"phone": phone}), 200, "")
		r := g.post("/api/auth/verify-otp", map[string]any{"phone": phone, "otp": g.code("+91" + phone)})
		want(t, r, 200, "")
		return r.body["token"].(string), r.body["refreshToken"].(string)
	}
	myTok, myRT := session("9876543210")
	_, otherRT := session("9876543211")
	// Another user's session cannot be ended.
	want(t, g.post("/api/auth/logout", map[string]any{"refreshToken": otherRT}, "Authorization", "Bearer "+myTok), 401, "INVALID_TOKEN")
	want(t, g.post("/api/auth/refresh", map[string]any{"refreshToken": otherRT}), 200, "")
	want(t, g.post("/api/auth/logout", map[string]any{}), 400, "BAD_REQUEST")
	want(t, g.post("/api/auth/logout", map[string]any{"refreshToken": myRT}), 200, "")
	want(t, g.post("/api/auth/refresh", map[string]any{"refreshToken": myRT}), 401, "INVALID_TOKEN")
}

// The contract checks (`infliq contracts`) pass against this stack, by
// phone+OTP (a review account) and by email.
func TestContractChecksPass(t *testing.T) {
	g := newAuthGateway(t, 0, func(c *config.Config) { c.OTP.ReviewAccounts = config.CSV{"+919876500000:135790"} })
	want(t, g.post("/api/auth/register", map[string]any{"name": "C", "email": "c@example.com", "password": "contract-pass", "phone": "9876543210"}), 200, "")
	for _, cfg := range []checks.ContractConfig{
		{BaseURL: g.base, Timeout: 10 * time.Second, Phone: "9876500000", OTP: "135790"},
		{BaseURL: g.base, Timeout: 10 * time.Second, Email: "c@example.com", Password: "contract-pass"},
	} {
		var out strings.Builder
		if n := checks.Contracts(context.Background(), cfg, &out); n != 0 || !strings.Contains(out.String(), "PASS auth login contract") ||
			!strings.Contains(out.String(), "PASS socket handshake contract") || !strings.Contains(out.String(), "PASS protected chat payload contract") {
			t.Fatalf("%d failures:\n%s", n, out.String())
		}
	}
}

// TestLegacyLoginLockoutHoldsUnderConcurrency: 40 parallel guesses for one
// email, the right password sent last. Each attempt is reserved before
// bcrypt, so at most the limit (10 per email and IP) are compared; the rest,
// and the right password once the limit is reached, get 429 with Retry-After.
func TestLegacyLoginLockoutHoldsUnderConcurrency(t *testing.T) {
	g := newAuthGateway(t, 0)
	want(t, g.post("/api/auth/register", map[string]any{"name": "Ravi", "email": "lock@example.com", "password": "right-pass", "phone": "9876543219"}), 200, "")
	const n, limit = 40, 10
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n-1; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			statuses[i] = g.post("/api/auth/login", map[string]any{"email": "lock@example.com", "password": fmt.Sprintf("guess-%d", i)}).status
		}(i)
	}
	close(start)
	wg.Wait()
	r := g.post("/api/auth/login", map[string]any{"email": "lock@example.com", "password": "right-pass"})
	statuses[n-1] = r.status
	compared, limited := 0, 0
	for _, s := range statuses {
		switch s {
		case 401, 200:
			compared++
		case 429:
			limited++
		default:
			t.Fatalf("unexpected status %d in %v", s, statuses)
		}
	}
	if compared > limit {
		t.Fatalf("%d guesses compared, limit %d: %v", compared, limit, statuses)
	}
	want(t, r, 429, "RATE_LIMITED")
	if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	if r.body["token"] != nil {
		t.Fatal("token after lockout")
	}
}
