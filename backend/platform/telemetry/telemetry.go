// Package telemetry is OpenTelemetry tracing for the tiers. With no OTLP
// endpoint configured it is off: Setup returns a nil *Tracing, whose
// methods add no interceptor, no middleware and no span (no cost beyond a
// nil check). With one, every Connect handler and client carries W3C trace
// context (otelconnect), the gateway opens the server span of each request,
// and bus events carry a traceparent to the realtime delivery.
package telemetry

import (
	"context"
	"fmt"
	"net/http"

	"connectrpc.com/connect"
	"connectrpc.com/otelconnect"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/infliq/infliq/backend/platform/config"
)

// Tracing is one process's tracer. A nil *Tracing is tracing off.
type Tracing struct {
	tp      trace.TracerProvider
	tracer  trace.Tracer
	prop    propagation.TextMapPropagator
	handler connect.Interceptor
	client  connect.Interceptor
}

// Setup exports spans over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set
// (the exporter reads the standard OTEL_EXPORTER_OTLP_* variables), sampling
// OTEL_TRACES_SAMPLER_ARG of new traces and following a caller's decision.
// It returns nil and a no-op shutdown when the endpoint is empty.
func Setup(ctx context.Context, c config.Telemetry, service string) (*Tracing, func(context.Context) error, error) {
	if c.OTLPEndpoint == "" {
		return nil, func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("telemetry: %w", err)
	}
	res := resource.NewSchemaless(semconv.ServiceName(service))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(c.SampleRatio))),
	)
	t, err := New(tp)
	if err != nil {
		return nil, nil, err
	}
	return t, tp.Shutdown, nil
}

// New traces through tp (tests pass one with an in-memory exporter).
func New(tp trace.TracerProvider) (*Tracing, error) {
	prop := propagation.TraceContext{}
	// Our tiers call each other: a caller's span is the parent, not a link.
	h, err := otelconnect.NewInterceptor(otelconnect.WithTracerProvider(tp), otelconnect.WithPropagator(prop),
		otelconnect.WithoutMetrics(), otelconnect.WithTrustRemote())
	if err != nil {
		return nil, err
	}
	c, err := otelconnect.NewInterceptor(otelconnect.WithTracerProvider(tp), otelconnect.WithPropagator(prop),
		otelconnect.WithoutMetrics())
	if err != nil {
		return nil, err
	}
	return &Tracing{tp: tp, tracer: tp.Tracer("github.com/infliq/infliq"), prop: prop, handler: h, client: c}, nil
}

// HandlerOptions adds the server interceptor to a Connect handler.
func (t *Tracing) HandlerOptions() []connect.HandlerOption {
	if t == nil {
		return nil
	}
	return []connect.HandlerOption{connect.WithInterceptors(t.handler)}
}

// ClientOptions adds the client interceptor to a Connect client.
func (t *Tracing) ClientOptions() []connect.ClientOption {
	if t == nil {
		return nil
	}
	return []connect.ClientOption{connect.WithInterceptors(t.client)}
}

// Edge opens the server span of every request the gateway takes and writes
// its context into the request headers, so the proxied hop and the legacy
// routes' Connect calls continue the trace.
func (t *Tracing) Edge(next http.Handler) http.Handler {
	if t == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := t.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := t.tracer.Start(ctx, r.Method+" "+route(r.URL.Path), trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		t.prop.Inject(ctx, propagation.HeaderCarrier(r.Header))
		if !span.IsRecording() { // not sampled: propagate the decision, record nothing
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		span.SetAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path))
		sw := &statusWriter{ResponseWriter: w, status: 200}
		next.ServeHTTP(sw, r.WithContext(ctx))
		span.SetAttributes(attribute.Int("http.response.status_code", sw.status))
		if sw.status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(sw.status))
		}
	})
}

// route names a span without ids: the RPC path, or the legacy path's first
// two segments (/api/posts).
func route(p string) string {
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			n++
			if n == 3 && len(p) > 4 && p[:5] == "/api/" {
				return p[:i]
			}
		}
	}
	return p
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) { w.status = code; w.ResponseWriter.WriteHeader(code) }

// Unwrap lets http.ResponseController reach flushing and hijacking (streams,
// websockets).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes through for the reverse proxy's streaming.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Start opens an internal span under ctx's span, or under parent when ctx
// has none (work done for a request on another goroutine, like a batched
// commit). It returns ctx unchanged and a no-op span when tracing is off or
// nothing is being traced.
func (t *Tracing) Start(ctx context.Context, parent trace.SpanContext, name string) (context.Context, trace.Span) {
	if t == nil {
		return ctx, trace.SpanFromContext(context.Background()) // the no-op span
	}
	if !trace.SpanContextFromContext(ctx).IsValid() {
		if !parent.IsSampled() {
			return ctx, trace.SpanFromContext(context.Background())
		}
		ctx = trace.ContextWithSpanContext(ctx, parent)
	}
	return t.tracer.Start(ctx, name)
}

// Traceparent is the W3C traceparent of ctx's sampled span, or "".
func (t *Tracing) Traceparent(ctx context.Context) string {
	if t == nil || !trace.SpanContextFromContext(ctx).IsSampled() {
		return ""
	}
	c := propagation.MapCarrier{}
	t.prop.Inject(ctx, c)
	return c["traceparent"]
}

// FromTraceparent is the span context a traceparent names (invalid for "").
func (t *Tracing) FromTraceparent(tp string) trace.SpanContext {
	if t == nil || tp == "" {
		return trace.SpanContext{}
	}
	return trace.SpanContextFromContext(t.prop.Extract(context.Background(), propagation.MapCarrier{"traceparent": tp}))
}
