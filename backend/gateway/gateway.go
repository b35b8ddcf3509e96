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
	// Local returns the in-process handler of the tier at host (host:port)
	// when it runs in this process (`infliq all`), else nil.
	Local func(host string) http.Handler
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
	g.h1 = g.proxy(httpx.NewTransport())
	g.h2c = g.proxy(httpx.NewH2CTransport())

	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", g.health)
	mux.Handle("GET /metrics", o.Metrics.Handler())
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

	var h http.Handler = mux
	h = g.limitBody(h)
	h = g.rateLimit(h)
	h = g.resolveClientIP(h)
	h = g.cors().Handler(h)
	h = httpx.AccessLog(o.Log, h)
	h = httpx.RequestID(h)
	h = httpx.Recover(o.Log, h)
	g.handler = h
	return g
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.handler.ServeHTTP(w, r) }

// health answers in the legacy gateway shape.
func (g *Gateway) health(w http.ResponseWriter, _ *http.Request) {
	apperr.WriteJSON(w, http.StatusOK, map[string]any{"status": "OK", "service": "api-gateway", "routes": g.routes})
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
	forwardHeaders(r.Header, r)
	r.Host = target.Host
	h.ServeHTTP(w, r)
}

// forwardHeaders sets on out the headers a tier trusts from the gateway.
func forwardHeaders(out http.Header, in *http.Request) {
	// The gateway decided the client address; services trust only this.
	out.Set(httpx.ClientIPHeader, clientIP(in).String())
	out.Set("X-Forwarded-Proto", scheme(in))
	out.Set("X-Forwarded-Host", in.Host)
}

func (g *Gateway) proxy(t http.RoundTripper) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Transport: t,
		Rewrite: func(pr *httputil.ProxyRequest) {
			target := pr.In.Context().Value(targetKey{}).(*url.URL)
			pr.SetURL(target)
			pr.Out.Host = target.Host
			forwardHeaders(pr.Out.Header, pr.In)
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				g.tooLarge(w, r)
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
		if r.URL.Path == "/health" || r.URL.Path == "/metrics" || r.Method == http.MethodOptions {
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

type clientIPKey struct{}

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
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientIPKey{}, a)))
	})
}

func clientIP(r *http.Request) netip.Addr {
	a, _ := r.Context().Value(clientIPKey{}).(netip.Addr)
	return a
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
