// Package gateway is the only public entry (:3000). It routes Connect paths
// by package prefix to the tiers, proxies the realtime paths, hosts the
// legacy REST edge (compat/rest), and owns the edge policy: CORS, rate limits,
// request ids, body limits and the access log.
package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"github.com/rs/cors"

	"github.com/infliq/infliq/backend/gateway/adminui"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/httpx"
	"github.com/infliq/infliq/backend/platform/metrics"
)

// Upstreams maps a tier name to its base URL.
type Upstreams map[string]*url.URL

// packagePrefixes maps Connect package prefixes to the tier serving them.
var packagePrefixes = map[string]string{
	"infliq.auth.v1.":     "auth",
	"infliq.user.v1.":     "user",
	"infliq.post.v1.":     "post",
	"infliq.feed.v1.":     "feed",
	"infliq.chat.v1.":     "chat",
	"infliq.call.v1.":     "call",
	"infliq.media.v1.":    "media",
	"infliq.notify.v1.":   "notify",
	"infliq.admin.v1.":    "admin",
	"infliq.realtime.v1.": "realtime",
}

// Options configure a gateway.
type Options struct {
	Upstreams Upstreams
	// Legacy serves /api/* (compat/rest); nil answers 404 JSON.
	Legacy  http.Handler
	Limiter Limiter
	Edge    config.Gateway
	Strict  bool
	Log     *slog.Logger
	Metrics *metrics.Registry
	// Balance, when set, wraps the proxy's transports (spreading requests
	// over the replicas of a tier; see httpx.Balancer).
	Balance func(http.RoundTripper) http.RoundTripper
	// Local returns the in-process handler of the tier at host (host:port)
	// when it runs in this process (`infliq all`), else nil.
	Local func(host string) http.Handler
	// InternalToken marks what the gateway forwards (httpx.GatewayHeader):
	// tiers believe the forwarded client address only on marked requests.
	InternalToken string
	// HSTS sends Strict-Transport-Security (PUBLIC_BASE_URL is https).
	HSTS bool
	// MediaOrigins are where the media proxy's signed URLs point (bucket
	// or CDN): the console's CSP lets its previews load from them.
	MediaOrigins []string
}

// Gateway is the edge handler.
type Gateway struct {
	o       Options
	h1, h2c *httputil.ReverseProxy
	errw    *connect.ErrorWriter
	routes  map[string]string
	handler http.Handler
	// failOpenLogged is when (unix ns) the limiter's fail-open was last logged.
	failOpenLogged atomic.Int64
}

// New builds the gateway handler.
func New(o Options) *Gateway {
	g := &Gateway{o: o, errw: connect.NewErrorWriter(), routes: map[string]string{}}
	for name, u := range o.Upstreams {
		g.routes[name] = u.String()
	}
	balance := o.Balance
	if balance == nil {
		balance = func(t http.RoundTripper) http.RoundTripper { return t }
	}
	g.h1 = g.proxy(balance(httpx.NewTransport()))
	g.h2c = g.proxy(balance(httpx.NewH2CTransport()))

	mux := http.NewServeMux()
	// /metrics and the detailed health are on the internal listener only
	// (Internal); the public edge says up or down.
	mux.HandleFunc("GET /health", g.health)
	mux.HandleFunc("/", g.route)
	if o.Legacy != nil {
		mux.Handle("/api/", o.Legacy)
	} else {
		mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
			apperr.WriteLegacy(w, apperr.NotFound("Route not found"))
		})
	}
	// Streamed multipart uploads and the media proxy are served by the media
	// tier itself (the uploads never pass through a Connect message).
	mux.Handle("/api/media/upload", g.upstream("media"))
	mux.Handle("/api/media/upload-multiple", g.upstream("media"))
	mux.Handle("/api/media/proxy/", g.upstream("media"))
	mux.Handle("/uploads/", g.upstream("media")) // legacy static uploads, contained
	mux.Handle("/socket.io/", g.upstream("realtime"))
	mux.Handle("/socket-chat.io/", g.upstream("realtime"))
	// The moderation console: static files; it calls the tiers over Connect.
	admin := adminui.Handler()
	mux.Handle("/admin", admin)
	mux.Handle("/admin/", admin)

	var h http.Handler = mux
	h = g.limitBody(h)
	h = g.limitBodyTime(h)
	h = g.rateLimit(h)
	h = g.resolveClientIP(h)
	h = g.cors().Handler(h)
	h = g.securityHeaders(h)
	h = httpx.AccessLog(o.Log, h)
	h = httpx.RequestID(h)
	h = httpx.Recover(o.Log, h)
	g.handler = h
	return g
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.handler.ServeHTTP(w, r) }

// health answers the public probe in the legacy gateway shape without the
// tier URLs the legacy gateway listed (they map the internal network).
func (g *Gateway) health(w http.ResponseWriter, _ *http.Request) {
	apperr.WriteJSON(w, http.StatusOK, map[string]any{"status": "OK", "service": "api-gateway"})
}

// Internal is the handler of the internal listener (METRICS_ADDR, loopback
// by default): /metrics and the detailed health, never on the public edge.
func (g *Gateway) Internal() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", g.o.Metrics.Handler())
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		apperr.WriteJSON(w, http.StatusOK, map[string]any{"status": "OK", "service": "api-gateway", "routes": g.routes})
	})
	return mux
}

// route sends Connect, gRPC and gRPC-Web calls to the tier owning the package.
func (g *Gateway) route(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	svc, _, ok := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if ok && !authn.IsInternalPath(path) {
		for prefix, tier := range packagePrefixes {
			if strings.HasPrefix(svc, prefix) {
				g.upstream(tier).ServeHTTP(w, r)
				return
			}
		}
	}
	if isRPC(r) {
		_ = g.errw.Write(w, r, connect.NewError(connect.CodeUnimplemented, errors.New("unknown procedure")))
		return
	}
	apperr.WriteLegacy(w, apperr.NotFound("Route not found"))
}

// upstream returns a handler proxying to tier.
func (g *Gateway) upstream(tier string) http.Handler {
	target := g.o.Upstreams[tier]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if target == nil {
			g.unavailable(w, r)
			return
		}
		if g.o.Local != nil {
			if h := g.o.Local(target.Host); h != nil {
				g.serveLocal(h, target, w, r)
				return
			}
		}
		r = r.WithContext(context.WithValue(r.Context(), targetKey{}, target))
		// gRPC needs HTTP/2 end to end; everything else (Connect, gRPC-Web,
		// JSON, websockets) goes over pooled HTTP/1.1 connections.
		if r.ProtoMajor == 2 && isGRPC(r.Header.Get("Content-Type")) {
			g.h2c.ServeHTTP(w, r)
			return
		}
		g.h1.ServeHTTP(w, r)
	})
}

type targetKey struct{}

// serveLocal hands a request to a tier running in this process: the same
// handler a proxied request reaches, with the headers the proxy would set,
// writing straight to the client's connection (streams, trailers and
// websocket upgrades included) without a second HTTP hop.
func (g *Gateway) serveLocal(h http.Handler, target *url.URL, w http.ResponseWriter, r *http.Request) {
	g.forwardHeaders(r.Header, r)
	r.Host = target.Host
	h.ServeHTTP(w, r)
}

// forwardHeaders sets on out the headers a tier trusts from the gateway.
func (g *Gateway) forwardHeaders(out http.Header, in *http.Request) {
	// The gateway decided the client address; services trust only this,
	// and only with the gateway's mark.
	out.Set(httpx.ClientIPHeader, clientIP(in).String())
	out.Set("X-Forwarded-Proto", scheme(in))
	out.Set("X-Forwarded-Host", in.Host)
	out.Set(httpx.GatewayHeader, g.o.InternalToken)
	// A client never speaks for a sibling service.
	out.Del(authn.InternalHeader)
}

func (g *Gateway) proxy(t http.RoundTripper) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Transport: t,
		Rewrite: func(pr *httputil.ProxyRequest) {
			target := pr.In.Context().Value(targetKey{}).(*url.URL)
			pr.SetURL(target)
			pr.Out.Host = target.Host
			g.forwardHeaders(pr.Out.Header, pr.In)
		},
		// The edge owns the security headers: drop a tier's copies so
		// none is doubled (the proxy adds upstream headers to ours).
		ModifyResponse: func(res *http.Response) error {
			if st := stateOf(res.Request); st != nil && st.body != nil && st.body.TimedOut() {
				_ = res.Body.Close()
				return httpx.ErrSlowBody
			}
			for _, k := range edgeHeaders(res.Request) {
				res.Header.Del(k)
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				g.tooLarge(w, r)
				return
			}
			// A body that missed its deadline also cancels the request
			// (the connection's read failed): check it first.
			if st := stateOf(r); errors.Is(err, httpx.ErrSlowBody) || (st != nil && st.body != nil && st.body.TimedOut()) {
				g.slowBody(w, r)
				return
			}
			if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
				return // client went away
			}
			g.o.Log.WarnContext(r.Context(), "upstream error", "route", r.URL.Path, "err", err)
			g.unavailable(w, r)
		},
		ErrorLog: slog.NewLogLogger(g.o.Log.Handler(), slog.LevelWarn),
	}
}

func (g *Gateway) unavailable(w http.ResponseWriter, r *http.Request) {
	if isRPC(r) {
		_ = g.errw.Write(w, r, connect.NewError(connect.CodeUnavailable, errors.New("Upstream service unavailable")))
		return
	}
	apperr.WriteJSON(w, http.StatusBadGateway, apperr.LegacyBody{Error: "Upstream service unavailable", Code: "DEPENDENCY_UNAVAILABLE"})
}

func (g *Gateway) tooLarge(w http.ResponseWriter, r *http.Request) {
	if isRPC(r) {
		_ = g.errw.Write(w, r, connect.NewError(connect.CodeResourceExhausted, errors.New("Request body too large")))
		return
	}
	apperr.WriteJSON(w, http.StatusRequestEntityTooLarge, apperr.LegacyBody{Error: "Request body too large", Code: "PAYLOAD_TOO_LARGE"})
}

func (g *Gateway) slowBody(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Connection", "close")
	if isRPC(r) {
		_ = g.errw.Write(w, r, connect.NewError(connect.CodeDeadlineExceeded, errors.New("Request body too slow")))
		return
	}
	apperr.WriteJSON(w, http.StatusRequestTimeout, apperr.LegacyBody{Error: "Request body too slow", Code: "REQUEST_TIMEOUT"})
}

// uploadBytesPerWindow is the share of an upload that must arrive within each
// UPLOAD_READ_WINDOW (1 MiB per 30 s by default: about 35 KB/s).
const uploadBytesPerWindow = 1 << 20

// limitBodyTime bounds how long a body may trickle in: JSON and RPC bodies
// must arrive whole within BODY_READ_TIMEOUT, uploads at a minimum rate
// (uploadBytesPerWindow per UPLOAD_READ_WINDOW). Bodiless requests and
// websocket upgrades are left alone (a deadline would outlive the upgrade).
func (g *Gateway) limitBodyTime(next http.Handler) http.Handler {
	short, window := g.o.Edge.BodyReadTimeout.D(), g.o.Edge.UploadReadWindow.D()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.Header.Get("Upgrade") != "" {
			next.ServeHTTP(w, r)
			return
		}
		var b *httpx.TimedBody
		if uploadPath(r.URL.Path) {
			if window > 0 {
				b = httpx.LimitBodyTime(w, r, window, uploadBytesPerWindow)
			}
		} else if short > 0 {
			b = httpx.LimitBodyTime(w, r, short, 0)
		}
		if st := stateOf(r); st != nil {
			st.body = b
		}
		next.ServeHTTP(w, r)
	})
}

// Security header values, shared read-only by every response.
var (
	hdrNosniff    = []string{"nosniff"}
	hdrNoReferrer = []string{"no-referrer"}
	hdrCSP        = []string{"default-src 'none'; frame-ancestors 'none'"}
	hdrNoStore    = []string{"no-store"}
	hdrHSTS       = []string{"max-age=31536000; includeSubDomains"}
)

// mediaPath reports responses that are media bytes with their own caching.
func mediaPath(p string) bool {
	return strings.HasPrefix(p, "/api/media/proxy/") || strings.HasPrefix(p, "/uploads/")
}

// edgeHeaders lists the security headers the edge sets on r's response.
func edgeHeaders(r *http.Request) []string {
	if mediaPath(r.URL.Path) {
		return []string{"X-Content-Type-Options", "Referrer-Policy", "Strict-Transport-Security"}
	}
	if r.Header.Get("Authorization") != "" {
		return []string{"X-Content-Type-Options", "Referrer-Policy", "Strict-Transport-Security", "Content-Security-Policy", "Cache-Control"}
	}
	return []string{"X-Content-Type-Options", "Referrer-Policy", "Strict-Transport-Security", "Content-Security-Policy"}
}

// securityHeaders: every response is nosniff and sends no referrer; API
// responses forbid any content and framing; the console (/admin) gets its
// own strict policy (adminui.Policy: same-origin only, no inline code); an
// authenticated answer is never stored by a cache; HSTS when the public
// origin is https. Media bytes keep the media tier's caching.
func (g *Gateway) securityHeaders(next http.Handler) http.Handler {
	hsts := g.o.HSTS
	adminCSP := []string{adminui.Policy(g.o.MediaOrigins...)}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["X-Content-Type-Options"] = hdrNosniff
		h["Referrer-Policy"] = hdrNoReferrer
		if hsts {
			h["Strict-Transport-Security"] = hdrHSTS
		}
		if adminui.Path(r.URL.Path) {
			h["Content-Security-Policy"] = adminCSP
		} else if !mediaPath(r.URL.Path) {
			h["Content-Security-Policy"] = hdrCSP
			if r.Header.Get("Authorization") != "" {
				h["Cache-Control"] = hdrNoStore
			}
		}
		next.ServeHTTP(w, r)
	})
}

// uploadPath reports the legacy upload routes, which stream multipart bodies bounded by MAX_FILE_SIZE in the media tier.
func uploadPath(p string) bool {
	return p == "/api/media/upload" || p == "/api/media/upload-multiple"
}

// limitBody rejects bodies over MAX_BODY_BYTES: at once when Content-Length
// says so, while reading otherwise.
func (g *Gateway) limitBody(next http.Handler) http.Handler {
	max := g.o.Edge.MaxBodyBytes
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || uploadPath(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > max {
			g.tooLarge(w, r)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		next.ServeHTTP(w, r)
	})
}

func (g *Gateway) cors() *cors.Cors {
	origins := []string(g.o.Edge.AllowedOrigins)
	if len(origins) == 0 && !g.o.Strict {
		origins = []string{"*"}
	}
	var deny func(string) bool
	if len(origins) == 0 {
		// rs/cors treats an empty list as "*"; strict mode must allow none.
		deny = func(string) bool { return false }
	}
	return cors.New(cors.Options{
		AllowedOrigins:  origins,
		AllowOriginFunc: deny,
		AllowedMethods:  []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions},
		AllowedHeaders: []string{"Authorization", "Content-Type", "X-Request-Id", "Connect-Protocol-Version", "Connect-Timeout-Ms",
			"Grpc-Timeout", "X-Grpc-Web", "X-User-Agent", "Accept"},
		ExposedHeaders: []string{"X-Request-Id", "Grpc-Status", "Grpc-Message", "Grpc-Status-Details-Bin",
			"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy", "Retry-After", "Infliq-Error-Reason"},
		MaxAge: 7200,
	})
}

// rateLimit applies the per-IP limit shared by every gateway replica.
func (g *Gateway) rateLimit(next http.Handler) http.Handler {
	if g.o.Limiter == nil {
		return next
	}
	policy := strconv.Itoa(g.o.Edge.RateMax) + ";w=" + strconv.Itoa(int(g.o.Edge.RateWindow.D()/time.Second))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" || r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		res, err := g.o.Limiter.Allow(r.Context(), clientIP(r).String())
		if err != nil {
			// Fail open: a Redis outage must not take the API down. Counted
			// on every request, logged at most once a minute.
			if g.o.Metrics != nil {
				g.o.Metrics.FailOpen.WithLabelValues("gateway", "rate_limit").Inc()
			}
			now, last := time.Now().UnixNano(), g.failOpenLogged.Load()
			if now-last >= int64(time.Minute) && g.failOpenLogged.CompareAndSwap(last, now) {
				g.o.Log.WarnContext(r.Context(), "rate limiter unavailable: failing open", "err", err)
			}
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("RateLimit-Policy", policy)
		h.Set("RateLimit-Limit", strconv.Itoa(res.Limit))
		h.Set("RateLimit-Remaining", strconv.Itoa(res.Remaining))
		h.Set("RateLimit-Reset", strconv.Itoa(int((res.Reset+time.Second-1)/time.Second)))
		if !res.Allowed {
			retry := int((res.RetryAfter + time.Second - 1) / time.Second)
			h.Set("Retry-After", strconv.Itoa(retry))
			if isRPC(r) {
				_ = g.errw.Write(w, r, connect.NewError(connect.CodeResourceExhausted, errors.New("Too many requests, please try again later.")))
				return
			}
			apperr.WriteJSON(w, http.StatusTooManyRequests, apperr.LegacyBody{Error: "Too many requests, please try again later.", Code: "RATE_LIMITED"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// edgeState is what the edge decided about one request, kept in its
// context (one allocation for all of it).
type edgeState struct {
	ip   netip.Addr
	body *httpx.TimedBody
}

type edgeStateKey struct{}

func stateOf(r *http.Request) *edgeState {
	st, _ := r.Context().Value(edgeStateKey{}).(*edgeState)
	return st
}

// resolveClientIP decides the client address once per request; a forwarded
// address is believed only from TRUSTED_PROXY_CIDRS.
func (g *Gateway) resolveClientIP(next http.Handler) http.Handler {
	trusted := g.o.Edge.TrustedProxies.Contains
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := httpx.EdgeClientIP(r, trusted)
		// The legacy routes forward this header to the services (per-IP OTP
		// and login limits): it must hold the decided address, never what
		// the client wrote.
		if a.IsValid() {
			r.Header.Set(httpx.ClientIPHeader, a.String())
		} else {
			r.Header.Del(httpx.ClientIPHeader)
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), edgeStateKey{}, &edgeState{ip: a})))
	})
}

func clientIP(r *http.Request) netip.Addr {
	if st := stateOf(r); st != nil {
		return st.ip
	}
	return netip.Addr{}
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// isRPC reports a Connect, gRPC or gRPC-Web request (as opposed to legacy JSON).
func isRPC(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	return isGRPC(ct) || r.Header.Get("Connect-Protocol-Version") != "" ||
		strings.HasPrefix(ct, "application/connect+") || strings.HasPrefix(ct, "application/proto")
}

func isGRPC(ct string) bool { return strings.HasPrefix(ct, "application/grpc") }
