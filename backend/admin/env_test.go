package admin_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/infliq/infliq/backend/admin"
	"github.com/infliq/infliq/backend/auth"
	"github.com/infliq/infliq/backend/auth/revoke"
	"github.com/infliq/infliq/backend/auth/sms"
	"github.com/infliq/infliq/backend/chat"
	"github.com/infliq/infliq/backend/feed"
	"github.com/infliq/infliq/backend/gateway"
	adminv1 "github.com/infliq/infliq/backend/gen/infliq/admin/v1"
	"github.com/infliq/infliq/backend/gen/infliq/admin/v1/adminv1connect"
	authv1 "github.com/infliq/infliq/backend/gen/infliq/auth/v1"
	"github.com/infliq/infliq/backend/gen/infliq/auth/v1/authv1connect"
	chatv1 "github.com/infliq/infliq/backend/gen/infliq/chat/v1"
	"github.com/infliq/infliq/backend/gen/infliq/chat/v1/chatv1connect"
	"github.com/infliq/infliq/backend/gen/infliq/feed/v1/feedv1connect"
	postv1 "github.com/infliq/infliq/backend/gen/infliq/post/v1"
	"github.com/infliq/infliq/backend/gen/infliq/post/v1/postv1connect"
	"github.com/infliq/infliq/backend/gen/infliq/user/v1/userv1connect"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/cache/redistest"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/httpx"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/logx"
	"github.com/infliq/infliq/backend/platform/mediaurl"
	"github.com/infliq/infliq/backend/platform/metrics"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/backend/platform/tier"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
	"github.com/infliq/infliq/backend/post"
	"github.com/infliq/infliq/backend/user"
	"github.com/infliq/infliq/compat/rest"
)

// stack runs every tier moderation touches (user, auth, post, feed, chat,
// admin) on one fresh database and Redis prefix, behind a real gateway with
// the legacy routes, as production wires them. Every verifier reads the
// auth tier's revocations (uncached), so a revoked token fails at once.
type stack struct {
	t       testing.TB
	pool    *pgxpool.Pool
	sink    string
	gw      string // gateway base URL
	h1, h2c *http.Client
	urls    map[string]string
	// bootstrap is the MEDIA_ADMIN_USER_IDS admin.
	bootstrap id.ID
	adminOpts admin.Options
	// bus carries the admin tier's records (warnings) and the notify
	// tier's updates.
	bus *bus.Redis
}

var phoneSeq atomic.Int64

func newStack(t testing.TB) *stack {
	t.Helper()
	cfg, err := config.LoadFrom(map[string]string{"APP_ENV": "test", "JWT_SECRET": tiertest.Secret, "BCRYPT_ROUNDS": "4"})
	if err != nil {
		t.Fatal(err)
	}
	rdb := redistest.New(t)
	prefix := redistest.Prefix()
	rev := revoke.New(rdb, prefix, cfg.JWT.ExpiresIn.D())
	deps := func() tier.Deps {
		d := tiertest.Deps()
		d.Verifier.Revocations = rev
		return d
	}
	s := &stack{t: t, pool: pgtest.New(t), sink: filepath.Join(t.TempDir(), "otp-sink"), urls: map[string]string{}, bootstrap: id.New()}
	serve := func(name string, h http.Handler) {
		u, h2c, h1 := tiertest.Serve(t, h)
		s.urls[name], s.h2c, s.h1 = u, h2c, h1
	}
	internal := tier.InternalClientOptions(tiertest.InternalToken)
	serve("user", user.NewTier(deps(), s.pool).Handler())
	at, err := auth.NewTier(deps(), auth.Options{
		DB: s.pool, Redis: rdb, Prefix: prefix, JWT: cfg.JWT, OTP: cfg.OTP,
		SMS:         sms.NewDev(logx.Discard(), s.sink),
		Users:       userv1connect.NewUserInternalServiceClient(s.h2c, s.urls["user"], internal...),
		Revocations: rev,
	})
	if err != nil {
		t.Fatal(err)
	}
	serve("auth", at.Handler())
	b := bus.New(rdb, prefix, 100)
	serve("post", post.NewTier(deps(), s.pool, b, config.Content{}).Handler())
	// A snapshot that never expires in the test: hidden posts must leave
	// the feeds without waiting for it.
	serve("feed", feed.NewTier(deps(), s.pool, feed.Options{
		Stories:    config.Stories{MaxPerUser: 50, CreateWindow: config.Millis(600e9), CreateMax: 5, CaptionMaxLen: 300},
		S3:         config.S3{Bucket: "media", Region: "eu-west-1"},
		HotFeedTTL: time.Hour,
	}).Handler())
	serve("chat", chat.NewTier(deps(), s.pool, b).Handler())
	s.adminOpts = admin.Options{
		DB: s.pool, BootstrapAdmins: []string{s.bootstrap.String()},
		Accounts: authv1connect.NewAuthInternalServiceClient(s.h2c, s.urls["auth"], internal...),
		Posts:    postv1connect.NewPostInternalServiceClient(s.h2c, s.urls["post"], internal...),
		Stories:  feedv1connect.NewFeedInternalServiceClient(s.h2c, s.urls["feed"], internal...),
		Chats:    chatv1connect.NewChatInternalServiceClient(s.h2c, s.urls["chat"], internal...),
		Bus:      b,
	}
	s.bus = b
	ad := deps()
	ad.MediaURLs = mediaurl.New(config.S3{Bucket: "media", Region: "eu-west-1"}) // previews through the media proxy
	serve("admin", admin.NewTier(ad, s.adminOpts).Handler())

	ups := gateway.Upstreams{}
	for name, raw := range s.urls {
		u, _ := url.Parse(raw)
		ups[name] = u
	}
	nowhere := "http://127.0.0.1:1"
	gwDeps := deps()
	clients := rest.NewClients(&http.Client{Transport: httpx.MarkGateway(httpx.NewTransport(), tiertest.InternalToken)}, rest.URLs{
		Auth: s.urls["auth"], User: s.urls["user"], Post: s.urls["post"], Feed: s.urls["feed"], Chat: s.urls["chat"], Call: nowhere, Media: nowhere,
	})
	gw := gateway.New(gateway.Options{
		Upstreams: ups,
		Legacy:    rest.New(rest.Deps{Log: logx.Discard(), Verifier: gwDeps.Verifier, Clients: clients}),
		Edge:      config.Gateway{MaxBodyBytes: 1 << 20},
		Log:       logx.Discard(), Metrics: metrics.New(), InternalToken: tiertest.InternalToken,
	})
	s.gw, _, _ = tiertest.Serve(t, gw)
	// The bootstrap admin has a profile.
	s.insertUser(s.bootstrap, "Root")
	return s
}

func (s *stack) exec(sql string, args ...any) {
	s.t.Helper()
	if _, err := s.pool.Exec(context.Background(), sql, args...); err != nil {
		s.t.Fatalf("%s: %v", sql, err)
	}
}

func (s *stack) insertUser(uid id.ID, name string) {
	s.t.Helper()
	ph := fmt.Sprintf("+9198%08d", phoneSeq.Add(1))
	s.exec(`INSERT INTO users (id, name) VALUES ($1, $2)`, uid, name)
	s.exec(`INSERT INTO auth_credentials (user_id, phone, phone_verified_at, profile_ready) VALUES ($1, $2, now(), true)`, uid, ph)
}

// user inserts a profile and credentials and returns the id.
func (s *stack) user(name string) id.ID {
	s.t.Helper()
	uid := id.New()
	s.insertUser(uid, name)
	return uid
}

func (s *stack) phoneOf(uid id.ID) string {
	s.t.Helper()
	var ph string
	if err := s.pool.QueryRow(context.Background(), `SELECT phone FROM auth_credentials WHERE user_id = $1`, uid).Scan(&ph); err != nil {
		s.t.Fatal(err)
	}
	return ph
}

// grant gives a role directly (as the CLI does).
func (s *stack) grant(uid id.ID, role string) {
	s.t.Helper()
	if _, _, err := admin.Grant(context.Background(), s.pool, id.Nil, uid, role, "test"); err != nil {
		s.t.Fatal(err)
	}
}

func (s *stack) authClient() authv1connect.AuthServiceClient {
	return authv1connect.NewAuthServiceClient(s.h1, s.urls["auth"])
}

// login signs a user in by phone OTP and returns the session, or the error.
func (s *stack) login(phone string) (*authv1.Session, error) {
	s.t.Helper()
	ctx := context.Background()
	c := s.authClient()
	if _, err := c.SendOtp(ctx, connect.NewRequest(&authv1.SendOtpRequest{Phone: phone})); err != nil {
		s.t.Fatal(err)
	}
	codes, err := sms.LastCodes(s.sink)
	if err != nil || codes[phone] == "" {
		s.t.Fatalf("no code for %s: %v", phone, err)
	}
	res, err := c.VerifyOtp(ctx, connect.NewRequest(&authv1.VerifyOtpRequest{Phone: phone, Otp: codes[phone]}))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetSession(), nil
}

func bearer(uid id.ID, t testing.TB) connect.ClientOption {
	return tiertest.Bearer(tiertest.Token(t, uid))
}

func (s *stack) admin(uid id.ID) adminv1connect.AdminServiceClient {
	return adminv1connect.NewAdminServiceClient(s.h1, s.urls["admin"], bearer(uid, s.t))
}

// adminVia is AdminService through the gateway (as the page calls it).
func (s *stack) adminVia(tok string) adminv1connect.AdminServiceClient {
	return adminv1connect.NewAdminServiceClient(s.h1, s.gw, tiertest.Bearer(tok))
}

func (s *stack) moderation(uid id.ID) adminv1connect.ModerationServiceClient {
	return adminv1connect.NewModerationServiceClient(s.h1, s.urls["admin"], bearer(uid, s.t))
}

func (s *stack) posts(uid id.ID) postv1connect.PostServiceClient {
	return postv1connect.NewPostServiceClient(s.h1, s.urls["post"], bearer(uid, s.t))
}

func (s *stack) feeds(uid id.ID) feedv1connect.FeedServiceClient {
	return feedv1connect.NewFeedServiceClient(s.h1, s.urls["feed"], bearer(uid, s.t))
}

func (s *stack) chats(uid id.ID) chatv1connect.ChatServiceClient {
	return chatv1connect.NewChatServiceClient(s.h1, s.urls["chat"], bearer(uid, s.t))
}

func (s *stack) users(uid id.ID) userv1connect.UserServiceClient {
	return userv1connect.NewUserServiceClient(s.h1, s.urls["user"], bearer(uid, s.t))
}

// post creates a post by uid.
func (s *stack) post(uid id.ID, content string) string {
	s.t.Helper()
	res, err := s.posts(uid).CreatePost(context.Background(), connect.NewRequest(&postv1.CreatePostRequest{Content: content,
		MediaUrl: "posts/" + content + ".jpg", MediaType: postv1.MediaType_MEDIA_TYPE_IMAGE}))
	if err != nil {
		s.t.Fatal(err)
	}
	return res.Msg.GetPost().GetId()
}

// story inserts a story row by uid (the feed tier's table).
func (s *stack) story(uid id.ID, caption string) string {
	s.t.Helper()
	sid := id.New().String()
	s.exec(`INSERT INTO stories (id, user_id, media_url, caption, expires_at) VALUES ($1, $2, 'stories/x.jpg', $3, now() + interval '1 day')`, sid, uid, caption)
	return sid
}

// message sends text from a to b in their direct chat; returns chat and message ids.
func (s *stack) message(a, b id.ID, text string) (string, string) {
	s.t.Helper()
	ctx := context.Background()
	c, err := s.chats(a).CreateChat(ctx, connect.NewRequest(&chatv1.CreateChatRequest{ParticipantIds: []string{b.String()}}))
	if err != nil {
		s.t.Fatal(err)
	}
	m, err := s.chats(a).SendMessage(ctx, connect.NewRequest(&chatv1.SendMessageRequest{ChatId: c.Msg.GetChat().GetId(), Text: text}))
	if err != nil {
		s.t.Fatal(err)
	}
	return c.Msg.GetChat().GetId(), m.Msg.GetMessage().GetId()
}

// legacy calls a legacy route through the gateway and returns status and body.
func (s *stack) legacy(method, path, token, body string) (int, string) {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, s.gw+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := s.h1.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(raw)
}

func tgt(kind adminv1.TargetKind, v string) *adminv1.Target {
	return &adminv1.Target{Kind: kind, Id: v}
}

func code(err error) connect.Code { return connect.CodeOf(err) }

func req[T any](m *T) *connect.Request[T] { return connect.NewRequest(m) }
