package auth

import (
	"context"
	"errors"
	"fmt"
	"github.com/infliq/infliq/backend/platform/httpx"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"connectrpc.com/connect"
	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/infliq/infliq/backend/auth/revoke"
	"github.com/infliq/infliq/backend/auth/sms"
	authv1 "github.com/infliq/infliq/backend/gen/infliq/auth/v1"
	"github.com/infliq/infliq/backend/gen/infliq/auth/v1/authv1connect"
	"github.com/infliq/infliq/backend/gen/infliq/user/v1/userv1connect"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/cache/redistest"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/logx"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/backend/platform/tier"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
	"github.com/infliq/infliq/backend/user"
)

// env is one auth tier on loopback with the real user tier, PostgreSQL and
// Redis behind it, and the dev SMS sender writing to a sink file.
type env struct {
	t        testing.TB
	url      string
	pool     *pgxpool.Pool
	rdb      *redis.Client
	sink     string
	verifier *authn.Verifier
	clients  []authv1connect.AuthServiceClient // Connect and gRPC
	internal authv1connect.AuthInternalServiceClient
	h2c      *http.Client
	opts     Options
}

type envOpt func(*config.Config, *Options)

func newEnv(t testing.TB, opts ...envOpt) *env {
	t.Helper()
	cfg, err := config.LoadFrom(map[string]string{"APP_ENV": "test", "JWT_SECRET": tiertest.Secret, "BCRYPT_ROUNDS": "4"})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, pool: pgtest.New(t), rdb: redistest.New(t), sink: filepath.Join(t.TempDir(), "otp-sink")}
	prefix := redistest.Prefix()
	rev := revoke.New(e.rdb, prefix, cfg.JWT.ExpiresIn.D())
	deps := tiertest.Deps()
	deps.Verifier.Revocations = rev
	e.verifier = deps.Verifier

	userURL, uh2c, _ := tiertest.Serve(t, user.NewTier(tiertest.Deps(), e.pool).Handler())
	o := Options{
		DB: e.pool, Redis: e.rdb, Prefix: prefix, JWT: cfg.JWT, OTP: cfg.OTP,
		SMS:         sms.NewDev(logx.Discard(), e.sink),
		Users:       userv1connect.NewUserInternalServiceClient(uh2c, userURL, tier.InternalClientOptions(tiertest.InternalToken)...),
		Revocations: rev,
	}
	for _, f := range opts {
		f(cfg, &o)
	}
	o.OTP, o.JWT = cfg.OTP, cfg.JWT
	e.opts = o
	tr, err := NewTier(deps, o)
	if err != nil {
		t.Fatal(err)
	}
	url, h2c, h1 := tiertest.Serve(t, tr.Handler())
	e.url = url
	e.h2c = h2c
	e.clients = []authv1connect.AuthServiceClient{
		authv1connect.NewAuthServiceClient(h1, url),
		authv1connect.NewAuthServiceClient(h2c, url, connect.WithGRPC()),
	}
	e.internal = authv1connect.NewAuthInternalServiceClient(h2c, url, tier.InternalClientOptions(tiertest.InternalToken)...)
	return e
}

func (e *env) c() authv1connect.AuthServiceClient { return e.clients[0] }

// lastCode reads the code the dev sender wrote for phone.
func (e *env) lastCode(phone string) string {
	e.t.Helper()
	codes, err := sms.LastCodes(e.sink)
	if err != nil || codes[phone] == "" {
		e.t.Fatalf("no code sent to %s: %v", phone, err)
	}
	return codes[phone]
}

func withIP(ip string) connect.ClientOption {
	return connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("X-Forwarded-For", ip)
			// Tiers believe the address only from the gateway.
			req.Header().Set(httpx.GatewayHeader, tiertest.InternalToken)
			return next(ctx, req)
		}
	}))
}

func (e *env) send(c authv1connect.AuthServiceClient, phone string) error {
	_, err := c.SendOtp(context.Background(), connect.NewRequest(&authv1.SendOtpRequest{Phone: phone}))
	return err
}

// login runs send-otp then verify-otp.
func (e *env) login(phone string) *authv1.VerifyOtpResponse {
	e.t.Helper()
	if err := e.send(e.c(), phone); err != nil {
		e.t.Fatal(err)
	}
	res, err := e.c().VerifyOtp(context.Background(), connect.NewRequest(&authv1.VerifyOtpRequest{Phone: phone, Otp: e.lastCode(norm(phone))}))
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Msg
}

func norm(p string) string {
	if len(p) == 10 {
		return "+91" + p
	}
	return p
}

func code(err error) connect.Code { return connect.CodeOf(err) }

func TestOTPLoginCreatesAccountOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i, c := range e.clients {
		ph := []string{"9876543210", "+919876543211"}[i]
		if err := e.send(c, ph); err != nil {
			t.Fatal(err)
		}
		res, err := c.VerifyOtp(ctx, connect.NewRequest(&authv1.VerifyOtpRequest{Phone: ph, Otp: e.lastCode(norm(ph)), Name: "Asha", Age: 30}))
		if err != nil {
			t.Fatal(err)
		}
		m := res.Msg
		if !m.Created || m.Account.Phone != norm(ph) || m.Account.Name != "Asha" || !m.Account.PhoneVerified || m.Session.RefreshToken == "" {
			t.Fatalf("first verify: %+v", m)
		}
		// The profile exists in the user service.
		var name string
		var verified bool
		if err := e.pool.QueryRow(ctx, `SELECT name, is_verified FROM users WHERE id = $1`, m.Account.UserId).Scan(&name, &verified); err != nil || name != "Asha" || !verified {
			t.Fatalf("profile: %q %v %v", name, verified, err)
		}
		// The access token is a typed access token with the session and phone.
		p, err := e.verifier.VerifyAccess(ctx, m.Session.AccessToken)
		if err != nil || p.UserID.String() != m.Account.UserId || p.SessionID != m.Session.SessionId || p.Legacy {
			t.Fatalf("access token: %+v %v", p, err)
		}
		claims := jwt.MapClaims{}
		if _, _, err := jwt.NewParser().ParseUnverified(m.Session.AccessToken, claims); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"sub", "userId", "phone", "typ", "iss", "aud", "iat", "exp", "sid"} {
			if claims[k] == nil {
				t.Fatalf("claim %s missing: %v", k, claims)
			}
		}
		if claims["typ"] != "access" || claims["userId"] != m.Account.UserId {
			t.Fatalf("claims %v", claims)
		}
		// A second login finds the same account.
		again := e.login(ph)
		if again.Created || again.Account.UserId != m.Account.UserId {
			t.Fatalf("second login: %+v", again)
		}
		// GetSession with the new token.
		gs := authv1connect.NewAuthServiceClient(e.h2c, e.url, tiertest.Bearer(again.Session.AccessToken))
		sres, err := gs.GetSession(ctx, connect.NewRequest(&authv1.GetSessionRequest{}))
		if err != nil || sres.Msg.UserId != m.Account.UserId || sres.Msg.SessionId != again.Session.SessionId {
			t.Fatalf("get session: %+v %v", sres, err)
		}
	}
}

func TestVerifyOTPFailures(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const ph = "+919876543210"
	verify := func(otp string) error {
		_, err := e.c().VerifyOtp(ctx, connect.NewRequest(&authv1.VerifyOtpRequest{Phone: ph, Otp: otp}))
		return err
	}
	// No code was sent.
	if err := verify("123456"); code(err) != connect.CodeInvalidArgument {
		t.Fatalf("without send: %v", err)
	}
	_ = e.send(e.c(), ph)
	good := e.lastCode(ph)
	wrong := "000000"
	if good == wrong {
		wrong = "111111"
	}
	// Malformed codes are refused without spending an attempt.
	for _, bad := range []string{"12345", "abcdef", "1234567"} {
		if err := verify(bad); code(err) != connect.CodeInvalidArgument {
			t.Fatalf("%q: %v", bad, err)
		}
	}
	// OTP_MAX_VERIFY_ATTEMPTS (5) wrong tries burn the code.
	for i := 0; i < 5; i++ {
		if err := verify(wrong); code(err) != connect.CodeInvalidArgument {
			t.Fatalf("wrong %d: %v", i, err)
		}
	}
	if err := verify(good); code(err) != connect.CodeInvalidArgument {
		t.Fatalf("burnt code accepted: %v", err)
	}
	// A resend replaces the code; it works once.
	_ = e.send(e.c(), ph)
	good = e.lastCode(ph)
	if err := verify(good); err != nil {
		t.Fatal(err)
	}
	if err := verify(good); code(err) != connect.CodeInvalidArgument {
		t.Fatalf("reused code: %v", err)
	}
	// Bad phones and missing fields are 400s.
	for _, req := range []*authv1.VerifyOtpRequest{{Phone: "", Otp: "123456"}, {Phone: "12", Otp: "123456"}, {Phone: ph}} {
		if _, err := e.c().VerifyOtp(ctx, connect.NewRequest(req)); code(err) != connect.CodeInvalidArgument {
			t.Fatalf("%v: %v", req, err)
		}
	}
}

func TestSendOTPValidationAndLimits(t *testing.T) {
	e := newEnv(t, func(c *config.Config, _ *Options) { c.OTP.MaxPerWindow = 2; c.OTP.MaxPerIPPerWindow = 4 })
	for _, bad := range []string{"", "abc", "+10000000000", "12345", strings.Repeat("9", 40)} {
		if err := e.send(e.c(), bad); code(err) != connect.CodeInvalidArgument {
			t.Fatalf("%q: %v", bad, err)
		}
	}
	ipA := authv1connect.NewAuthServiceClient(e.h2c, e.url, withIP("203.0.113.7"))
	ipB := authv1connect.NewAuthServiceClient(e.h2c, e.url, withIP("203.0.113.8"))
	for i := 0; i < 2; i++ {
		if err := e.send(ipA, "9876543210"); err != nil {
			t.Fatal(err)
		}
	}
	// Per phone.
	err := e.send(ipB, "9876543210")
	if code(err) != connect.CodeResourceExhausted {
		t.Fatalf("phone limit: %v", err)
	}
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Meta().Get("Retry-After") == "" {
		t.Fatalf("no Retry-After: %v", err)
	}
	// Per IP: A has sent 2 of 4.
	for _, p := range []string{"9876543211", "9876543212"} {
		if err := e.send(ipA, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.send(ipA, "9876543213"); code(err) != connect.CodeResourceExhausted {
		t.Fatalf("ip limit: %v", err)
	}
	if err := e.send(ipB, "9876543213"); err != nil {
		t.Fatalf("other ip: %v", err)
	}
}

func TestReviewAccount(t *testing.T) {
	e := newEnv(t, func(c *config.Config, _ *Options) { c.OTP.ReviewAccounts = config.CSV{"9876500000:424242"} })
	ctx := context.Background()
	verify := func(ph string) error {
		_, err := e.c().VerifyOtp(ctx, connect.NewRequest(&authv1.VerifyOtpRequest{Phone: ph, Otp: "424242"}))
		return err
	}
	// Still needs send-otp first.
	if err := verify("9876500000"); code(err) != connect.CodeInvalidArgument {
		t.Fatalf("review login without send: %v", err)
	}
	if err := e.send(e.c(), "+919876500000"); err != nil {
		t.Fatal(err)
	}
	if err := verify("9876500000"); err != nil {
		t.Fatal(err)
	}
	// Only the listed number.
	_ = e.send(e.c(), "9876500001")
	// (Unless the random code happens to be the review code: 1 in a million.)
	if err := verify("9876500001"); e.lastCode("+919876500001") != "424242" && code(err) != connect.CodeInvalidArgument {
		t.Fatalf("fixed code on another number: %v", err)
	}
}

func TestRegisterLoginAndLegacyHashes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	reg := &authv1.RegisterRequest{Name: "Ravi", Email: "Ravi@Example.com", Password: "s3cret-pass", Phone: "9876543210", Age: 31}
	res, err := e.c().Register(ctx, connect.NewRequest(reg))
	if err != nil {
		t.Fatal(err)
	}
	uid := res.Msg.Account.UserId
	if res.Msg.Session.AccessToken == "" || res.Msg.Account.Phone != "+919876543210" || res.Msg.Account.PhoneVerified {
		t.Fatalf("register: %+v", res.Msg)
	}
	var name string
	if err := e.pool.QueryRow(ctx, `SELECT name FROM users WHERE id = $1`, uid).Scan(&name); err != nil || name != "Ravi" {
		t.Fatalf("profile %q %v", name, err)
	}
	// Duplicates: same email in another case, or same phone.
	for _, dup := range []*authv1.RegisterRequest{
		{Name: "X", Email: "ravi@example.COM", Password: "another-pass", Phone: "9876543219"},
		{Name: "X", Email: "other@example.com", Password: "another-pass", Phone: "+91 98765 43210"},
	} {
		if _, err := e.c().Register(ctx, connect.NewRequest(dup)); code(err) != connect.CodeAlreadyExists {
			t.Fatalf("duplicate %v: %v", dup, err)
		}
	}
	// Bad input.
	for _, bad := range []*authv1.RegisterRequest{
		{Email: "a@b.co", Password: "secret1", Phone: "9876543218"},
		{Name: "A", Email: "not-an-email", Password: "secret1", Phone: "9876543218"},
		{Name: "A", Email: "a@b.co", Password: "secret1", Phone: "123"},
		{Name: "A", Email: "a@b.co", Password: "short", Phone: "9876543218"},
	} {
		if _, err := e.c().Register(ctx, connect.NewRequest(bad)); code(err) != connect.CodeInvalidArgument {
			t.Fatalf("bad %v: %v", bad, err)
		}
	}
	// Login by email (any case).
	lres, err := e.c().Login(ctx, connect.NewRequest(&authv1.LoginRequest{Email: "RAVI@example.com", Password: "s3cret-pass"}))
	if err != nil || lres.Msg.Account.UserId != uid {
		t.Fatalf("login: %v", err)
	}
	claims := jwt.MapClaims{}
	_, _, _ = jwt.NewParser().ParseUnverified(lres.Msg.Session.AccessToken, claims)
	if claims["email"] != "Ravi@Example.com" || claims["typ"] != "access" {
		t.Fatalf("claims %v", claims)
	}

	// A hash written by the legacy bcryptjs ($2a$) verifies.
	legacy, _ := bcrypt.GenerateFromPassword([]byte("legacy-pass"), 4)
	h2a := "$2a$" + string(legacy[4:])
	luid := id.New()
	if _, err := e.pool.Exec(ctx, `INSERT INTO auth_credentials (user_id, email, password_hash) VALUES ($1, 'old@example.com', $2)`, luid, h2a); err != nil {
		t.Fatal(err)
	}
	if res, err := e.c().Login(ctx, connect.NewRequest(&authv1.LoginRequest{Email: "old@example.com", Password: "legacy-pass"})); err != nil || res.Msg.Account.UserId != luid.String() {
		t.Fatalf("$2a$ login: %v", err)
	}
	// needs_password_reset refuses even the right password.
	_, _ = e.pool.Exec(ctx, `UPDATE auth_credentials SET needs_password_reset = true WHERE user_id = $1`, luid)
	if _, err := e.c().Login(ctx, connect.NewRequest(&authv1.LoginRequest{Email: "old@example.com", Password: "legacy-pass"})); code(err) != connect.CodeUnauthenticated {
		t.Fatalf("reset account: %v", err)
	}
}

func TestLoginFailuresAreUniformAndThrottled(t *testing.T) {
	e := newEnv(t, func(_ *config.Config, o *Options) { o.LoginMaxFailures = 3 })
	ctx := context.Background()
	// An OTP-only account (no email, no password): the legacy empty-body
	// login took such accounts over (S4).
	e.login("9876543210")
	if _, err := e.c().Login(ctx, connect.NewRequest(&authv1.LoginRequest{})); code(err) != connect.CodeInvalidArgument {
		t.Fatalf("empty login: %v", err)
	}
	_, _ = e.c().Register(ctx, connect.NewRequest(&authv1.RegisterRequest{Name: "A", Email: "a@example.com", Password: "right-pass", Phone: "9876543211"}))
	var msgs []string
	for _, req := range []*authv1.LoginRequest{{Email: "nobody@example.com", Password: "x"}, {Email: "a@example.com", Password: "wrong"}} {
		_, err := e.c().Login(ctx, connect.NewRequest(req))
		var ce *connect.Error
		if !errors.As(err, &ce) || ce.Code() != connect.CodeUnauthenticated {
			t.Fatalf("%v: %v", req, err)
		}
		msgs = append(msgs, ce.Message())
	}
	if msgs[0] != "Invalid credentials" || msgs[1] != msgs[0] {
		t.Fatalf("non-uniform failures: %q", msgs)
	}
	ipA := authv1connect.NewAuthServiceClient(e.h2c, e.url, withIP("198.51.100.1"))
	for i := 0; i < 3; i++ {
		_, _ = ipA.Login(ctx, connect.NewRequest(&authv1.LoginRequest{Email: "a@example.com", Password: "wrong"}))
	}
	if _, err := ipA.Login(ctx, connect.NewRequest(&authv1.LoginRequest{Email: "a@example.com", Password: "right-pass"})); code(err) != connect.CodeResourceExhausted {
		t.Fatalf("throttle: %v", err)
	}
	ipB := authv1connect.NewAuthServiceClient(e.h2c, e.url, withIP("198.51.100.2"))
	if _, err := ipB.Login(ctx, connect.NewRequest(&authv1.LoginRequest{Email: "a@example.com", Password: "right-pass"})); err != nil {
		t.Fatalf("other IP: %v", err)
	}
}

func TestRefreshRotationReuseAndLogout(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s0 := e.login("9876543210").Session
	refresh := func(tok string) (*authv1.Session, error) {
		res, err := e.c().Refresh(ctx, connect.NewRequest(&authv1.RefreshRequest{RefreshToken: tok}))
		if err != nil {
			return nil, err
		}
		return res.Msg.Session, nil
	}
	s1, err := refresh(s0.RefreshToken)
	if err != nil || s1.RefreshToken == s0.RefreshToken || s1.SessionId != s0.SessionId {
		t.Fatalf("rotate: %+v %v", s1, err)
	}
	if _, err := e.verifier.VerifyAccess(ctx, s1.AccessToken); err != nil {
		t.Fatal(err)
	}
	s2, err := refresh(s1.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	// Reusing s1's refresh token revokes the family: s2 stops working too,
	// and so do the family's access tokens.
	if _, err := refresh(s1.RefreshToken); code(err) != connect.CodeUnauthenticated {
		t.Fatalf("reuse: %v", err)
	}
	if _, err := refresh(s2.RefreshToken); code(err) != connect.CodeUnauthenticated {
		t.Fatalf("family not revoked: %v", err)
	}
	if _, err := e.verifier.VerifyAccess(ctx, s2.AccessToken); !errors.Is(err, authn.ErrRevoked) {
		t.Fatalf("access token of revoked family: %v", err)
	}

	// Logout by refresh token, and by access token.
	a := e.login("9876543210").Session
	if _, err := e.c().Logout(ctx, connect.NewRequest(&authv1.LogoutRequest{RefreshToken: a.RefreshToken})); err != nil {
		t.Fatal(err)
	}
	if _, err := refresh(a.RefreshToken); code(err) != connect.CodeUnauthenticated {
		t.Fatalf("after logout: %v", err)
	}
	b := e.login("9876543210").Session
	authed := authv1connect.NewAuthServiceClient(e.h2c, e.url, tiertest.Bearer(b.AccessToken))
	if _, err := authed.Logout(ctx, connect.NewRequest(&authv1.LogoutRequest{})); err != nil {
		t.Fatal(err)
	}
	if _, err := authed.GetSession(ctx, connect.NewRequest(&authv1.GetSessionRequest{})); code(err) != connect.CodeUnauthenticated {
		t.Fatalf("access token after logout: %v", err)
	}
	if _, err := refresh(b.RefreshToken); code(err) != connect.CodeUnauthenticated {
		t.Fatalf("refresh after logout: %v", err)
	}
	// Logging out another user's session by its refresh token is refused.
	mine := e.login("9876543211").Session
	other := e.login("9876543212").Session
	me := authv1connect.NewAuthServiceClient(e.h2c, e.url, tiertest.Bearer(mine.AccessToken))
	if _, err := me.Logout(ctx, connect.NewRequest(&authv1.LogoutRequest{RefreshToken: other.RefreshToken})); code(err) != connect.CodeUnauthenticated {
		t.Fatalf("foreign logout: %v", err)
	}
	if _, err := refresh(other.RefreshToken); err != nil {
		t.Fatalf("foreign session was ended: %v", err)
	}
	// Logout with nothing to go on is a 400.
	if _, err := e.c().Logout(ctx, connect.NewRequest(&authv1.LogoutRequest{})); code(err) != connect.CodeInvalidArgument {
		t.Fatalf("empty logout: %v", err)
	}
}

func TestConcurrentRefreshOnlyOneWins(t *testing.T) {
	e := newEnv(t)
	s0 := e.login("9876543210").Session
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.c().Refresh(context.Background(), connect.NewRequest(&authv1.RefreshRequest{RefreshToken: s0.RefreshToken})); err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("%d concurrent refreshes succeeded", ok)
	}
}

func TestTokenConfusionRefused(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := e.login("9876543210").Session
	// A refresh token is not an access token.
	if _, err := e.verifier.VerifyAccess(ctx, s.RefreshToken); !errors.Is(err, authn.ErrInvalid) {
		t.Fatalf("refresh as access: %v", err)
	}
	withRefresh := authv1connect.NewAuthServiceClient(e.h2c, e.url, tiertest.Bearer(s.RefreshToken))
	if _, err := withRefresh.GetSession(ctx, connect.NewRequest(&authv1.GetSessionRequest{})); code(err) != connect.CodeUnauthenticated {
		t.Fatalf("refresh token as bearer: %v", err)
	}
	// An access token, new or legacy, is not a refresh token.
	legacy := legacyToken(t, id.New(), jwt.MapClaims{"phone": "+919876543210"})
	for _, tok := range []string{s.AccessToken, legacy} {
		if _, err := e.c().Refresh(ctx, connect.NewRequest(&authv1.RefreshRequest{RefreshToken: tok})); code(err) != connect.CodeUnauthenticated {
			t.Fatalf("access token as refresh: %v", err)
		}
	}
}

func legacyToken(t testing.TB, uid id.ID, extra jwt.MapClaims) string {
	c := jwt.MapClaims{"userId": uid.String(), "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
	for k, v := range extra {
		c[k] = v
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(tiertest.Secret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestLegacyTokensAndTheirSwitch(t *testing.T) {
	ctx := context.Background()
	uid := id.New()
	tok := legacyToken(t, uid, jwt.MapClaims{"phone": "9876543210"})
	on := authn.NewVerifier(tiertest.Secret, "infliq", "infliq-app", true)
	p, err := on.VerifyAccess(ctx, tok)
	if err != nil || p.UserID != uid || !p.Legacy {
		t.Fatalf("legacy accepted: %+v %v", p, err)
	}
	// Legacy refresh tokens ({userId} only) are not access tokens.
	if _, err := on.VerifyAccess(ctx, legacyToken(t, uid, nil)); !errors.Is(err, authn.ErrInvalid) {
		t.Fatalf("legacy refresh as access: %v", err)
	}
	off := authn.NewVerifier(tiertest.Secret, "infliq", "infliq-app", false)
	if _, err := off.VerifyAccess(ctx, tok); !errors.Is(err, authn.ErrInvalid) {
		t.Fatalf("LEGACY_TOKENS_ACCEPTED=false: %v", err)
	}
	// Through the tier: GetSession reports the legacy token.
	e := newEnv(t)
	c := authv1connect.NewAuthServiceClient(e.h2c, e.url, tiertest.Bearer(tok))
	res, err := c.GetSession(ctx, connect.NewRequest(&authv1.GetSessionRequest{}))
	if err != nil || !res.Msg.LegacyToken || res.Msg.UserId != uid.String() {
		t.Fatalf("%+v %v", res, err)
	}
	// Logout with a legacy token ends the user's sessions and the token.
	if _, err := c.Logout(ctx, connect.NewRequest(&authv1.LogoutRequest{})); err != nil {
		t.Fatal(err)
	}
	if _, err := e.verifier.VerifyAccess(ctx, legacyTokenAt(t, uid, time.Now().Add(-2*time.Second))); !errors.Is(err, authn.ErrRevoked) {
		t.Fatalf("earlier legacy token after logout: %v", err)
	}
}

func legacyTokenAt(t testing.TB, uid id.ID, iat time.Time) string {
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"userId": uid.String(), "phone": "+919876543210", "iat": iat.Unix(), "exp": iat.Add(time.Hour).Unix(),
	}).SignedString([]byte(tiertest.Secret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestPhoneOwnerTakesOverUnverifiedRegistration(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	reg, err := e.c().Register(ctx, connect.NewRequest(&authv1.RegisterRequest{Name: "Squatter", Email: "sq@example.com", Password: "squatter-pass", Phone: "9876543210"}))
	if err != nil {
		t.Fatal(err)
	}
	owner := e.login("9876543210")
	if owner.Account.UserId != reg.Msg.Account.UserId {
		t.Fatal("owner got another account")
	}
	if _, err := e.verifier.VerifyAccess(ctx, reg.Msg.Session.AccessToken); !errors.Is(err, authn.ErrRevoked) {
		t.Fatalf("registrant's token survives: %v", err)
	}
	if _, err := e.c().Login(ctx, connect.NewRequest(&authv1.LoginRequest{Email: "sq@example.com", Password: "squatter-pass"})); code(err) != connect.CodeUnauthenticated {
		t.Fatalf("registrant's password survives: %v", err)
	}
	if _, err := e.verifier.VerifyAccess(ctx, owner.Session.AccessToken); err != nil {
		t.Fatalf("owner's token: %v", err)
	}
}

func TestInternalRevokeAndDelete(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.login("9876543210")
	b := e.login("9876543210")
	other := e.login("9876543211")
	uid := a.Account.UserId

	// Only with the internal token.
	outsider := authv1connect.NewAuthInternalServiceClient(e.h2c, e.url)
	if _, err := outsider.RevokeUserSessions(ctx, connect.NewRequest(&authv1.RevokeUserSessionsRequest{UserId: uid})); code(err) != connect.CodePermissionDenied {
		t.Fatalf("outsider: %v", err)
	}
	withUserToken := authv1connect.NewAuthInternalServiceClient(e.h2c, e.url, tiertest.Bearer(other.Session.AccessToken))
	if _, err := withUserToken.DeleteCredentials(ctx, connect.NewRequest(&authv1.DeleteCredentialsRequest{UserId: uid})); code(err) != connect.CodePermissionDenied {
		t.Fatalf("user token on internal rpc: %v", err)
	}
	if _, err := e.internal.RevokeUserSessions(ctx, connect.NewRequest(&authv1.RevokeUserSessionsRequest{UserId: "nope"})); code(err) != connect.CodeInvalidArgument {
		t.Fatalf("bad id: %v", err)
	}

	res, err := e.internal.RevokeUserSessions(ctx, connect.NewRequest(&authv1.RevokeUserSessionsRequest{UserId: uid}))
	if err != nil || res.Msg.Revoked != 2 {
		t.Fatalf("revoke: %+v %v", res, err)
	}
	for _, s := range []*authv1.Session{a.Session, b.Session} {
		if _, err := e.verifier.VerifyAccess(ctx, s.AccessToken); !errors.Is(err, authn.ErrRevoked) {
			t.Fatalf("access after revoke: %v", err)
		}
		if _, err := e.c().Refresh(ctx, connect.NewRequest(&authv1.RefreshRequest{RefreshToken: s.RefreshToken})); code(err) != connect.CodeUnauthenticated {
			t.Fatalf("refresh after revoke: %v", err)
		}
	}
	if _, err := e.verifier.VerifyAccess(ctx, other.Session.AccessToken); err != nil {
		t.Fatalf("other user revoked: %v", err)
	}

	c := e.login("9876543210")
	for i, want := range []bool{true, false} {
		res, err := e.internal.DeleteCredentials(ctx, connect.NewRequest(&authv1.DeleteCredentialsRequest{UserId: uid}))
		if err != nil || res.Msg.Deleted != want {
			t.Fatalf("delete %d: %+v %v", i, res, err)
		}
	}
	if _, err := e.verifier.VerifyAccess(ctx, c.Session.AccessToken); !errors.Is(err, authn.ErrRevoked) {
		t.Fatalf("access after delete: %v", err)
	}
	var n int
	_ = e.pool.QueryRow(ctx, `SELECT count(*) FROM auth_sessions WHERE user_id = $1`, uid).Scan(&n)
	if n != 0 {
		t.Fatalf("%d sessions left", n)
	}
}

// fakeProvider stands in for an SMS provider in tier tests.
type fakeProvider struct {
	delegated bool
	fail      bool
	mu        sync.Mutex
	sent      []string
}

func (f *fakeProvider) Delegated() bool { return f.delegated }
func (f *fakeProvider) Send(_ context.Context, phone, code string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return errors.New("provider down")
	}
	f.sent = append(f.sent, phone+" "+code)
	return nil
}
func (f *fakeProvider) Check(_ context.Context, _, code string) (bool, error) {
	if f.fail {
		return false, errors.New("provider down")
	}
	return code == "246810", nil
}

func TestSMSFailureIs503AndLeavesNoCode(t *testing.T) {
	p := &fakeProvider{fail: true}
	e := newEnv(t, func(_ *config.Config, o *Options) { o.SMS = p })
	err := e.send(e.c(), "9876543210")
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeUnavailable || strings.Contains(ce.Message(), "provider down") {
		t.Fatalf("provider failure: %v", err)
	}
	if n, _ := e.rdb.Exists(context.Background(), e.opts.Prefix+"{otp:+919876543210}:code").Result(); n != 0 {
		t.Fatal("a code without an SMS was kept")
	}
}

func TestDelegatedProviderFlow(t *testing.T) {
	p := &fakeProvider{delegated: true}
	e := newEnv(t, func(_ *config.Config, o *Options) { o.SMS = p })
	ctx := context.Background()
	verify := func(code string) error {
		_, err := e.c().VerifyOtp(ctx, connect.NewRequest(&authv1.VerifyOtpRequest{Phone: "9876543210", Otp: code}))
		return err
	}
	// The provider is never asked before a send.
	if err := verify("246810"); code(err) != connect.CodeInvalidArgument {
		t.Fatalf("before send: %v", err)
	}
	if err := e.send(e.c(), "9876543210"); err != nil {
		t.Fatal(err)
	}
	if len(p.sent) != 1 || p.sent[0] != "+919876543210 " {
		t.Fatalf("sent %q", p.sent)
	}
	if err := verify("111111"); code(err) != connect.CodeInvalidArgument {
		t.Fatalf("wrong code: %v", err)
	}
	if err := verify("246810"); err != nil {
		t.Fatal(err)
	}
	if err := verify("246810"); code(err) != connect.CodeInvalidArgument {
		t.Fatalf("single use: %v", err)
	}
	// A provider outage during the check is a 503.
	_ = e.send(e.c(), "9876543210")
	p.fail = true
	if err := verify("246810"); code(err) != connect.CodeUnavailable {
		t.Fatalf("outage: %v", err)
	}
}

func TestRefreshExpiryAndSliding(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s0 := e.login("9876543210").Session
	res, err := e.c().Refresh(ctx, connect.NewRequest(&authv1.RefreshRequest{RefreshToken: s0.RefreshToken}))
	if err != nil {
		t.Fatal(err)
	}
	s1 := res.Msg.Session
	if !s1.RefreshExpiresAt.AsTime().After(s0.RefreshExpiresAt.AsTime().Add(-time.Second)) {
		t.Fatal("session did not slide")
	}
	var exp time.Time
	if err := e.pool.QueryRow(ctx, `SELECT expires_at FROM auth_sessions WHERE id = $1`, s1.SessionId).Scan(&exp); err != nil || exp.Sub(s1.RefreshExpiresAt.AsTime()).Abs() > time.Second {
		t.Fatalf("session expiry %v vs token %v (%v)", exp, s1.RefreshExpiresAt.AsTime(), err)
	}
	// An expired refresh token is refused, and its session is not revoked by it.
	if _, err := e.pool.Exec(ctx, `UPDATE auth_refresh_tokens SET expires_at = now() - interval '1 second' WHERE session_id = $1 AND used_at IS NULL`, s1.SessionId); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c().Refresh(ctx, connect.NewRequest(&authv1.RefreshRequest{RefreshToken: s1.RefreshToken})); code(err) != connect.CodeUnauthenticated {
		t.Fatalf("expired refresh token: %v", err)
	}
	// Garbage and oversized tokens are refused without a 500.
	for _, tok := range []string{"garbage", strings.Repeat("x", 511), strings.Repeat("x", 600)} {
		_, err := e.c().Refresh(ctx, connect.NewRequest(&authv1.RefreshRequest{RefreshToken: tok}))
		if c := code(err); c != connect.CodeUnauthenticated && c != connect.CodeInvalidArgument {
			t.Fatalf("%d-char token: %v", len(tok), err)
		}
	}
}

func TestInternalSetEmailAndGetContact(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.login("9876543210").Account
	b := e.login("9876543211").Account
	set := func(uid, email string) error {
		_, err := e.internal.SetEmail(ctx, connect.NewRequest(&authv1.SetEmailRequest{UserId: uid, Email: email}))
		return err
	}
	if err := set(a.UserId, " Asha@Example.com "); err != nil {
		t.Fatal(err)
	}
	// Taken, case-insensitively, by another account.
	if err := set(b.UserId, "asha@example.COM"); code(err) != connect.CodeAlreadyExists {
		t.Fatalf("taken: %v", err)
	}
	for _, bad := range []string{"nope", "a b@c.d"} {
		if err := set(b.UserId, bad); code(err) != connect.CodeInvalidArgument {
			t.Fatalf("%q: %v", bad, err)
		}
	}
	if err := set(id.New().String(), "x@example.com"); code(err) != connect.CodeNotFound {
		t.Fatalf("unknown user: %v", err)
	}
	outsider := authv1connect.NewAuthInternalServiceClient(e.h2c, e.url, tiertest.Bearer(e.login("9876543212").Session.AccessToken))
	if _, err := outsider.SetEmail(ctx, connect.NewRequest(&authv1.SetEmailRequest{UserId: b.UserId, Email: "b@example.com"})); code(err) != connect.CodePermissionDenied {
		t.Fatalf("without internal token: %v", err)
	}
	// The OTP account can now also log in by password once one exists; the
	// email alone grants nothing.
	if _, err := e.c().Login(ctx, connect.NewRequest(&authv1.LoginRequest{Email: "asha@example.com", Password: "anything"})); code(err) != connect.CodeUnauthenticated {
		t.Fatalf("login without password: %v", err)
	}
	res, err := e.internal.GetContact(ctx, connect.NewRequest(&authv1.GetContactRequest{UserId: a.UserId}))
	if err != nil || res.Msg.Phone != "+919876543210" || res.Msg.Email != "Asha@Example.com" || !res.Msg.PhoneVerified || res.Msg.HasPassword {
		t.Fatalf("contact: %+v %v", res, err)
	}
	if _, err := e.internal.GetContact(ctx, connect.NewRequest(&authv1.GetContactRequest{UserId: id.New().String()})); code(err) != connect.CodeNotFound {
		t.Fatalf("unknown contact: %v", err)
	}
	if _, err := outsider.GetContact(ctx, connect.NewRequest(&authv1.GetContactRequest{UserId: a.UserId})); code(err) != connect.CodePermissionDenied {
		t.Fatalf("contact without internal token: %v", err)
	}
	// Clearing frees it for the other account.
	if err := set(a.UserId, ""); err != nil {
		t.Fatal(err)
	}
	if err := set(b.UserId, "asha@example.com"); err != nil {
		t.Fatal(err)
	}
}

func TestRegisterLimitedPerIP(t *testing.T) {
	e := newEnv(t, func(_ *config.Config, o *Options) { o.RegisterMaxPerIP = 2 })
	ctx := context.Background()
	ipA := authv1connect.NewAuthServiceClient(e.h2c, e.url, withIP("192.0.2.1"))
	ipB := authv1connect.NewAuthServiceClient(e.h2c, e.url, withIP("192.0.2.2"))
	reg := func(c authv1connect.AuthServiceClient, i int) error {
		_, err := c.Register(ctx, connect.NewRequest(&authv1.RegisterRequest{
			Name: "N", Email: fmt.Sprintf("u%d@example.com", i), Password: "password1", Phone: fmt.Sprintf("98765432%02d", i),
		}))
		return err
	}
	for i := range 2 {
		if err := reg(ipA, i); err != nil {
			t.Fatal(err)
		}
	}
	if err := reg(ipA, 2); code(err) != connect.CodeResourceExhausted {
		t.Fatalf("third registration: %v", err)
	}
	if err := reg(ipB, 3); err != nil {
		t.Fatalf("other IP: %v", err)
	}
}

// Field errors carry protovalidate's Violations detail naming the field
// (clients build per-field form errors from it), from the schema rules and
// from the handler's own checks alike, next to the ErrorInfo reason.
func TestValidationErrorsNameTheField(t *testing.T) {
	e := newEnv(t)
	for _, bad := range []string{"", "abc", "+10000000000"} {
		err := e.send(e.c(), bad)
		var ce *connect.Error
		if !errors.As(err, &ce) || ce.Code() != connect.CodeInvalidArgument {
			t.Fatalf("%q: %v", bad, err)
		}
		var fields []string
		var info bool
		for _, d := range ce.Details() {
			switch v := mustDetail(t, d).(type) {
			case *validatepb.Violations:
				for _, vi := range v.GetViolations() {
					for _, el := range vi.GetField().GetElements() {
						fields = append(fields, el.GetFieldName())
					}
				}
			case *errdetails.ErrorInfo:
				info = v.GetReason() != ""
			}
		}
		if len(fields) != 1 || fields[0] != "phone" || !info {
			t.Fatalf("%q: violations on %v, ErrorInfo %v", bad, fields, info)
		}
	}
}

func mustDetail(t *testing.T, d *connect.ErrorDetail) any {
	t.Helper()
	v, err := d.Value()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestLoginAccountLimitAcrossIPs: credential stuffing from 40 addresses at
// once. The per-account budget is reserved atomically with the per-IP one,
// so at most LoginAccountMaxFailures guesses reach bcrypt; after that even
// the right password from a fresh address waits out a backoff, told by
// resource_exhausted with RetryInfo.
func TestLoginAccountLimitAcrossIPs(t *testing.T) {
	const limit = 5
	e := newEnv(t, func(_ *config.Config, o *Options) { o.LoginAccountMaxFailures = limit })
	ctx := context.Background()
	if _, err := e.c().Register(ctx, connect.NewRequest(&authv1.RegisterRequest{Name: "S", Email: "stuffed@example.com", Password: "right-pass", Phone: "9876543212"})); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[connect.Code]int{}
	start := make(chan struct{})
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := authv1connect.NewAuthServiceClient(e.h2c, e.url, withIP(fmt.Sprintf("203.0.113.%d", i+1)))
			<-start
			_, err := c.Login(ctx, connect.NewRequest(&authv1.LoginRequest{Email: "stuffed@example.com", Password: fmt.Sprintf("guess-%d", i)}))
			mu.Lock()
			codes[code(err)]++
			mu.Unlock()
		}(i)
	}
	close(start)
	wg.Wait()
	if codes[connect.CodeUnauthenticated] > limit || codes[connect.CodeUnauthenticated]+codes[connect.CodeResourceExhausted] != 40 {
		t.Fatalf("outcomes %v, at most %d compared", codes, limit)
	}
	fresh := authv1connect.NewAuthServiceClient(e.h2c, e.url, withIP("192.0.2.77"))
	_, err := fresh.Login(ctx, connect.NewRequest(&authv1.LoginRequest{Email: "stuffed@example.com", Password: "right-pass"}))
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeResourceExhausted {
		t.Fatalf("right password during backoff: %v", err)
	}
	if apperr.From(err).RetryAfter <= 0 { // from the RetryInfo detail
		t.Fatalf("no RetryInfo in %v", ce)
	}
}
