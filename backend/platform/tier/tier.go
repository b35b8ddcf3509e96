// Package tier assembles one deployable tier: its Connect services behind the
// authn middleware, the shared interceptors (errors, logs, metrics,
// protovalidate), legacy /health, gRPC health and reflection, and /metrics.
package tier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"connectrpc.com/validate"

	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/cache"
	"github.com/infliq/infliq/backend/platform/httpx"
	"github.com/infliq/infliq/backend/platform/mediaurl"
	"github.com/infliq/infliq/backend/platform/metrics"
	"github.com/infliq/infliq/backend/platform/safetext"
	"github.com/infliq/infliq/backend/platform/telemetry"
)

// Deps are the platform dependencies every tier receives.
type Deps struct {
	Log           *slog.Logger
	Metrics       *metrics.Registry
	Verifier      *authn.Verifier
	InternalToken string
	// MaxBodyBytes bounds one RPC message.
	MaxBodyBytes int64
	// BodyReadTimeout, when set, bounds how long an RPC body may take to
	// arrive (BODY_READ_TIMEOUT), for a tier port reached without the gateway.
	BodyReadTimeout time.Duration
	// MediaURLs, when set, resolves the media fields of every response
	// (stored keys and legacy values become client URLs).
	MediaURLs *mediaurl.Resolver
	// Tracing, when set, traces every RPC (OpenTelemetry); nil is off.
	Tracing *telemetry.Tracing
	// WriteMarks, when set, marks the caller after each successful write
	// RPC (read-your-writes over cached reads, see cache.WriteMarks).
	WriteMarks *cache.WriteMarks
}

// Tier is one deployable unit.
type Tier struct {
	name     string
	d        Deps
	mux      *http.ServeMux
	public   map[string]bool
	services []string
	// perItemText: batch procedures that check text per item.
	perItemText []string

	mu     sync.Mutex
	health map[string]any
	checks map[string]func(context.Context) error
}

// New starts assembling tier name ("auth", "user", …).
func New(name string, d Deps) *Tier {
	if d.MaxBodyBytes <= 0 {
		d.MaxBodyBytes = 1 << 20
	}
	return &Tier{
		name: name, d: d, mux: http.NewServeMux(), public: map[string]bool{},
		health: map[string]any{}, checks: map[string]func(context.Context) error{},
	}
}

// Name is the tier's name.
func (t *Tier) Name() string { return t.name }

// Log is the tier's logger.
func (t *Tier) Log() *slog.Logger { return t.d.Log }

// ConnectOptions are the handler options every service of the tier uses.
func (t *Tier) ConnectOptions() []connect.HandlerOption {
	// safetext runs before validation: a NUL or invalid UTF-8 is refused
	// naming the field whatever the field's other rules.
	interceptors := []connect.Interceptor{&observe{tier: t.name, log: t.d.Log, m: t.d.Metrics}, safetext.Interceptor(t.perItemText...), validate.NewInterceptor()}
	if t.d.MediaURLs != nil {
		interceptors = append(interceptors, t.d.MediaURLs.Interceptor())
	}
	if t.d.WriteMarks != nil {
		interceptors = append(interceptors, t.d.WriteMarks.Interceptor())
	}
	// Tracing goes first so its span covers the other interceptors.
	return append(append(t.d.Tracing.HandlerOptions(), safeCodecs()...),
		connect.WithInterceptors(interceptors...),
		connect.WithReadMaxBytes(int(t.d.MaxBodyBytes)),
		connect.WithSendMaxBytes(16<<20),
		connect.WithCompressMinBytes(1024),
		connect.WithRecover(func(ctx context.Context, spec connect.Spec, _ http.Header, p any) error {
			t.d.Log.ErrorContext(ctx, "panic in rpc", "rpc", spec.Procedure, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			return connect.NewError(connect.CodeInternal, errors.New("Internal server error"))
		}),
	)
}

// TextCheckedPerItem names batch procedures whose handlers refuse a NUL or
// invalid UTF-8 per item (safetext.String) instead of the whole request;
// call it before ConnectOptions.
func (t *Tier) TextCheckedPerItem(procedures ...string) {
	t.perItemText = append(t.perItemText, procedures...)
}

// Mount serves a generated Connect handler. Every procedure needs a valid
// access token except those listed as public.
func (t *Tier) Mount(path string, h http.Handler, serviceName string, public ...string) {
	for _, p := range public {
		t.public[p] = true
	}
	t.services = append(t.services, serviceName)
	h = authn.Middleware(t.d.Verifier, authn.Policy{Public: t.public, InternalToken: t.d.InternalToken}, t.d.Log, h)
	if d := t.d.BodyReadTimeout; d > 0 {
		next := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Body != nil && r.Body != http.NoBody {
				httpx.LimitBodyTime(w, r, d, 0)
			}
			next.ServeHTTP(w, r)
		})
	}
	t.mux.Handle(path, h)
}

// Handle serves a non-RPC route (socket.io, legacy multipart upload, …).
// Such routes authenticate themselves.
func (t *Tier) Handle(pattern string, h http.Handler) { t.mux.Handle(pattern, h) }

// HealthField adds a field to the legacy /health body.
func (t *Tier) HealthField(key string, v any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.health[key] = v
}

// Check adds a readiness check (database, Redis…) to /health.
func (t *Tier) Check(name string, fn func(context.Context) error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.checks[name] = fn
}

// Handler returns the tier's complete HTTP handler.
func (t *Tier) Handler() http.Handler {
	sort.Strings(t.services)
	t.mux.Handle(grpchealth.NewHandler(grpchealth.NewStaticChecker(t.services...)))
	reflector := grpcreflect.NewStaticReflector(t.services...)
	t.mux.Handle(grpcreflect.NewHandlerV1(reflector))
	t.mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
	t.mux.Handle("GET /health", http.HandlerFunc(t.serveHealth))
	t.mux.Handle("GET /metrics", t.d.Metrics.Handler())
	return httpx.Recover(t.d.Log, httpx.RequestID(httpx.TrustGatewayOnly(t.d.InternalToken, t.mux)))
}

// Services lists the Connect services the tier serves.
func (t *Tier) Services() []string { return append([]string(nil), t.services...) }

func (t *Tier) serveHealth(w http.ResponseWriter, r *http.Request) {
	t.mu.Lock()
	body := map[string]any{"status": "OK", "service": t.name + "-service"}
	for k, v := range t.health {
		body[k] = v
	}
	checks := make(map[string]func(context.Context) error, len(t.checks))
	for k, v := range t.checks {
		checks[k] = v
	}
	t.mu.Unlock()
	status := http.StatusOK
	if len(checks) > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		deps := map[string]string{}
		for name, fn := range checks {
			if err := fn(ctx); err != nil {
				t.d.Log.WarnContext(ctx, "health check failed", "check", name, "err", err)
				deps[name] = "down"
				body["status"] = "DEGRADED"
				status = http.StatusServiceUnavailable
			} else {
				deps[name] = "up"
			}
		}
		body["dependencies"] = deps
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// InternalClientOptions are the client options for calling a sibling
// service's *InternalService: they attach the service-to-service token.
func InternalClientOptions(token string, extra ...connect.ClientOption) []connect.ClientOption {
	return append(extra, connect.WithInterceptors(internalToken(token)))
}

type internalToken string

func (t internalToken) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if t != "" {
			req.Header().Set(authn.InternalHeader, string(t))
		}
		return next(ctx, req)
	}
}

func (t internalToken) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		if t != "" {
			conn.RequestHeader().Set(authn.InternalHeader, string(t))
		}
		return conn
	}
}

func (t internalToken) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
