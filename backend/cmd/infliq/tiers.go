package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/infliq/infliq/backend/admin"
	"github.com/infliq/infliq/backend/auth"
	"github.com/infliq/infliq/backend/auth/sms"
	"github.com/infliq/infliq/backend/call"
	"github.com/infliq/infliq/backend/chat"
	"github.com/infliq/infliq/backend/feed"
	"github.com/infliq/infliq/backend/gateway"
	"github.com/infliq/infliq/backend/gateway/adminui"
	"github.com/infliq/infliq/backend/gen/infliq/auth/v1/authv1connect"
	"github.com/infliq/infliq/backend/gen/infliq/chat/v1/chatv1connect"
	"github.com/infliq/infliq/backend/gen/infliq/feed/v1/feedv1connect"
	"github.com/infliq/infliq/backend/gen/infliq/post/v1/postv1connect"
	"github.com/infliq/infliq/backend/gen/infliq/user/v1/userv1connect"
	"github.com/infliq/infliq/backend/media"
	"github.com/infliq/infliq/backend/notify"
	"github.com/infliq/infliq/backend/notify/push"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/httpx"
	"github.com/infliq/infliq/backend/platform/tier"
	"github.com/infliq/infliq/backend/post"
	"github.com/infliq/infliq/backend/realtime"
	"github.com/infliq/infliq/backend/user"
	"github.com/infliq/infliq/compat/rest"
	"github.com/infliq/infliq/devstack"
)

// tierNames in start order: services first, the gateway last.
var tierNames = []string{"auth", "user", "post", "feed", "chat", "call", "media", "notify", "admin", "realtime", "gateway"}

// parseTiers reads "feed" or "gateway,post,feed": known tiers, each once,
// returned in start order.
func parseTiers(arg string) ([]string, bool) {
	want := map[string]bool{}
	for _, n := range strings.Split(arg, ",") {
		if !slices.Contains(tierNames, n) || want[n] {
			return nil, false
		}
		want[n] = true
	}
	var names []string
	for _, n := range tierNames {
		if want[n] {
			names = append(names, n)
		}
	}
	return names, true
}

// serviceURLs is the configured URL list of each tier.
func serviceURLs(c *config.Config) map[string]string {
	s := c.Services
	return map[string]string{
		"auth": s.Auth, "user": s.User, "post": s.Post, "feed": s.Feed, "chat": s.Chat,
		"call": s.Call, "media": s.Media, "notify": s.Notify, "admin": s.Admin, "realtime": s.Realtime,
	}
}

// serviceURL is the URL callers address a tier by: the first of its list
// (the transport spreads the calls over the others). A replica listens on
// its port, so on one host each replica puts its own URL first.
func serviceURL(c *config.Config, name string) string {
	return httpx.FirstURL(serviceURLs(c)[name])
}

// listenPort is the port a tier binds: its service URL's port, or the
// gateway's GATEWAY_PORT/PORT.
func listenPort(c *config.Config, name string) (int, error) {
	if name == "gateway" {
		return c.GatewayListenPort(), nil
	}
	u, err := url.Parse(serviceURL(c, name))
	if err != nil {
		return 0, err
	}
	if p := u.Port(); p != "" {
		return strconv.Atoi(p)
	}
	if u.Scheme == "https" {
		return 443, nil
	}
	return 80, nil
}

// busPrefix namespaces the realtime bus keys and channels in Redis.
const busPrefix = "rt:"

// build wires one tier.
func build(name string, p *platform) (http.Handler, error) {
	d := p.deps(name)
	var t *tier.Tier
	switch name {
	case "gateway":
		return buildGateway(p, d), nil
	case "auth":
		var err error
		if t, err = buildAuth(p, d); err != nil {
			return nil, err
		}
	case "user":
		t = buildUser(p, d)
	case "post":
		t = post.NewTier(d, p.pool, p.newBus(), p.cfg.Content)
	case "feed":
		fo := feed.Options{Stories: p.cfg.Stories, S3: p.cfg.S3, HotFeedTTL: feed.DefaultHotFeedTTL}
		if p.cfg.Dev() {
			// The development stack serves media through the gateway's proxy.
			port := strconv.Itoa(p.cfg.GatewayListenPort())
			fo.ProxyBases = []string{p.cfg.S3.PublicBaseURL, "http://localhost:" + port, "http://127.0.0.1:" + port}
		}
		t = feed.NewTier(d, p.pool, fo)
		go feed.RunCleanup(p.ctx, p.pool, feed.CleanupInterval, d.Log)
	case "chat":
		t = chat.NewTier(d, p.pool, p.newBus(), chat.WithSendLimit(chat.SendLimit{
			Redis: p.rdb, Prefix: "chat:", PerSecond: p.cfg.Realtime.ChatSendRate, Burst: p.cfg.Realtime.ChatSendBurst}))
	case "call":
		var err error
		t, err = call.NewTier(d, call.Options{
			Calls: p.cfg.Calls, Twilio: p.cfg.Twilio, Strict: p.cfg.Strict, Pool: p.pool, Ctx: p.ctx,
			Pub: p.newBus(),
			Chat: chatv1connect.NewChatInternalServiceClient(&http.Client{Transport: p.transport()}, serviceURL(p.cfg, "chat"),
				tier.InternalClientOptions(p.cfg.InternalToken, p.tracing.ClientOptions()...)...),
		})
		if err != nil {
			return nil, err
		}
	case "media":
		st, err := media.NewStorage(p.ctx, p.cfg.S3, media.StorageOptions{})
		if err != nil {
			return nil, err
		}
		t = media.NewTier(p.ctx, d, media.Deps{Media: p.cfg.Media, S3: p.cfg.S3, Storage: st, DB: p.pool, Redis: p.rdb})
	case "notify":
		var err error
		if t, err = buildNotify(p, d); err != nil {
			return nil, err
		}
	case "admin":
		t = buildAdmin(p, d)
	case "realtime":
		b := p.newBus()
		t = realtime.NewTier(d, realtime.Options{
			Config: p.cfg.Realtime,
			Sub:    bus.NewSubscriber(b, d.Log),
			Chat: chatv1connect.NewChatInternalServiceClient(&http.Client{Transport: p.transport()}, serviceURL(p.cfg, "chat"),
				tier.InternalClientOptions(p.cfg.InternalToken, p.tracing.ClientOptions()...)...),
			AllowedOrigins: p.cfg.Gateway.AllowedOrigins,
		})
	default:
		return nil, fmt.Errorf("unknown tier %q", name)
	}
	t.Check("postgres", p.pool.Ping)
	t.Check("redis", func(ctx context.Context) error { return p.rdb.Ping(ctx).Err() })
	return t.Handler(), nil
}

// authRedisPrefix namespaces the auth tier's Redis keys (OTPs, throttles,
// revocations).
const authRedisPrefix = "auth:"

func buildAuth(p *platform, d tier.Deps) (*tier.Tier, error) {
	c := p.cfg
	sender, err := sms.New(c.Twilio, c.AppEnv, c.OTP.DevSinkFile, d.Log)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Transport: p.transport(), Timeout: c.Gateway.UpstreamTimeout.D()}
	return auth.NewTier(d, auth.Options{
		DB: p.pool, Redis: p.rdb, Prefix: authRedisPrefix, JWT: c.JWT, OTP: c.OTP, SMS: sender,
		Users:       userv1connect.NewUserInternalServiceClient(hc, serviceURL(c, "user"), tier.InternalClientOptions(c.InternalToken, p.tracing.ClientOptions()...)...),
		Revocations: p.revocations,
		Bus:         p.newBus(),
	})
}

func buildUser(p *platform, d tier.Deps) *tier.Tier {
	c := p.cfg
	hc := &http.Client{Transport: p.transport(), Timeout: c.Gateway.UpstreamTimeout.D()}
	accounts := user.AuthAccounts{Client: authv1connect.NewAuthInternalServiceClient(hc, serviceURL(c, "auth"), tier.InternalClientOptions(c.InternalToken, p.tracing.ClientOptions()...)...)}
	return user.NewTier(d, p.pool, user.Options{
		Admins: c.Media.AdminUserIDs,
		Bus:    p.newBus(),
		// Purgers: add the post/chat/call/media cleanup RPCs as they land.
		Sessions: accounts,
		Contacts: accounts,
		Discovery: user.Discovery{
			Presence:  user.Presence{GridMeters: c.Discovery.GridMeters, MaxAge: c.Discovery.MaxLocationAge.D()},
			DefaultCC: c.OTP.DefaultCountry,
			Lookups:   user.NewPhoneLookups(p.rdb, "user:phone-lookups:", c.Discovery.PhoneLookupMax, c.Discovery.PhoneLookupWindow.D()),
		},
	})
}

// buildNotify wires the notify tier: its record consumer (a member of the
// "notify" consumer group; replicas share the records), its cleanup and the
// push outbox's workers (River; replicas share the jobs through the
// database), until the process stops.
func buildNotify(p *platform, d tier.Deps) (*tier.Tier, error) {
	b := p.newBus()
	s := notify.New(d.Log, notify.Options{Pool: p.pool, Pub: b, Online: b.Online, Window: p.cfg.Notify.GroupWindow.D(),
		Cache: p.rdb, CachePrefix: "notify:"})
	pc := push.ConfigFrom(p.cfg.Push)
	if pc.ExpoPushURL == "" && p.cfg.Dev() {
		// A split dev process (devstack fills the URL for `infliq all`):
		// never send to Expo from a developer's machine.
		u, stop, err := devstack.StartExpo(d.Log)
		if err != nil {
			return nil, err
		}
		p.onClose(func(context.Context) error { return stop() })
		d.Log.Info("EXPO_PUSH_URL unset in development: pushes go to a fake Expo server and are logged", "url", u)
		pc.ExpoPushURL = u
	}
	ps, err := push.New(p.pool, pc, s.Policy(), d.Log)
	if err != nil {
		return nil, err
	}
	d.Metrics.Register(ps.Collectors()...)
	s.SetPush(ps)
	if err := ps.Start(p.ctx); err != nil {
		return nil, err
	}
	// Drained before the pool closes: sends in flight record their tickets.
	p.onClose(ps.Stop)
	s.NewConsumer(p.rdb, b).Start(p.ctx)
	go notify.RunCleanup(p.ctx, p.pool, notify.CleanupInterval, d.Log)
	return notify.NewTier(d, s), nil
}

// buildAdmin wires the moderation console's facade to the owners'
// internal services.
func buildAdmin(p *platform, d tier.Deps) *tier.Tier {
	c := p.cfg
	hc := &http.Client{Transport: p.transport(), Timeout: c.Gateway.UpstreamTimeout.D()}
	opts := tier.InternalClientOptions(c.InternalToken, p.tracing.ClientOptions()...)
	return admin.NewTier(d, admin.Options{
		DB:              p.pool,
		BootstrapAdmins: c.Media.AdminUserIDs,
		Accounts:        authv1connect.NewAuthInternalServiceClient(hc, serviceURL(c, "auth"), opts...),
		Posts:           postv1connect.NewPostInternalServiceClient(hc, serviceURL(c, "post"), opts...),
		Stories:         feedv1connect.NewFeedInternalServiceClient(hc, serviceURL(c, "feed"), opts...),
		Chats:           chatv1connect.NewChatInternalServiceClient(hc, serviceURL(c, "chat"), opts...),
		DefaultCountry:  c.OTP.DefaultCountry,
		AuditMaxLimit:   c.Media.AuditReadMaxLimit,
		Expiry:          p.ctx,
		Bus:             p.newBus(),
	})
}

func buildGateway(p *platform, d tier.Deps) http.Handler {
	ups := gateway.Upstreams{}
	for _, n := range tierNames {
		if n == "gateway" {
			continue
		}
		u, _ := url.Parse(serviceURL(p.cfg, n)) // validated by config
		ups[n] = u
	}
	legacy := rest.New(rest.Deps{
		Log:      d.Log,
		Verifier: p.verifier,
		Clients: rest.NewClients(&http.Client{Transport: httpx.MarkGateway(p.transport(), p.cfg.InternalToken), Timeout: p.cfg.Gateway.UpstreamTimeout.D()}, rest.URLs{
			Auth: serviceURL(p.cfg, "auth"), User: serviceURL(p.cfg, "user"), Post: serviceURL(p.cfg, "post"),
			Feed: serviceURL(p.cfg, "feed"), Chat: serviceURL(p.cfg, "chat"), Call: serviceURL(p.cfg, "call"),
			Media: serviceURL(p.cfg, "media"),
		}, p.tracing.ClientOptions()...),
	})
	gw := gateway.New(gateway.Options{
		Local:     p.local.Handler,
		Upstreams: ups,
		Balance:   p.balance,
		Legacy:    legacy,
		Limiter:   gateway.NewRedisLimiter(p.pipelined, "gw:ip:", p.cfg.Gateway.RateMax, p.cfg.Gateway.RateWindow.D()),
		Edge:      p.cfg.Gateway,
		// Production never defaults CORS to a wildcard, strict or not.
		Strict:        p.cfg.Strict || p.cfg.Production(),
		Log:           d.Log,
		Metrics:       p.metrics,
		InternalToken: p.cfg.InternalToken,
		HSTS:          strings.HasPrefix(strings.ToLower(p.cfg.S3.PublicBaseURL), "https://"),
		MediaOrigins:  adminui.MediaOrigins(p.cfg.S3),
	})
	p.internal = gw.Internal()
	edge := p.tracing.Edge(gw)
	if p.cfg.S3.PostEndpoint == "" {
		return edge
	}
	// Development: presigned uploads go through the gateway to the
	// in-process S3, which listens on loopback only.
	s3, err := url.Parse(p.cfg.S3.Endpoint)
	if err != nil {
		return edge
	}
	mux := http.NewServeMux()
	mux.Handle(devstack.S3ProxyPath+"/", http.StripPrefix(devstack.S3ProxyPath, httputil.NewSingleHostReverseProxy(s3)))
	mux.Handle("/", edge)
	return mux
}

// listener binds one tier. In `all` mode internal tiers bind loopback only.
type listener struct {
	name string
	l    net.Listener
	h    http.Handler
}

func listen(host string, port int) (net.Listener, error) {
	return net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
}

// listenInternal binds METRICS_ADDR for a process that runs the gateway.
// Several processes on one host cannot share the address: a busy one is
// logged and skipped (each tier still serves /metrics on its own port).
func listenInternal(p *platform, names []string) []listener {
	addr := p.cfg.Gateway.MetricsAddr
	if addr == "" || addr == "off" || !slices.Contains(names, "gateway") || p.internal == nil {
		return nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		p.log.Warn("internal listener not started: /metrics is served on the tier ports only", "addr", addr, "err", err)
		return nil
	}
	return []listener{{name: "internal", l: l, h: p.internal}}
}

// serve runs the listeners until ctx ends, then drains them.
func serve(ctx context.Context, p *platform, ls []listener) error {
	errc := make(chan error, len(ls))
	for _, l := range ls {
		srv := httpx.NewServer(l.h, p.deps(l.name).Log)
		go func() { errc <- srv.Serve(ctx, l.l, p.cfg.ShutdownGrace.D()) }()
	}
	var first error
	for range ls {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	return first
}
