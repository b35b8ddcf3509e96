package telemetry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/infliq/infliq/backend/platform/config"
)

// TestOffWithoutEndpoint: no endpoint, no tracing: nothing is installed.
func TestOffWithoutEndpoint(t *testing.T) {
	tr, shutdown, err := Setup(context.Background(), config.Telemetry{SampleRatio: 1}, "x")
	if err != nil || tr != nil {
		t.Fatalf("Setup without endpoint: %v %v", tr, err)
	}
	if shutdown(context.Background()) != nil || tr.HandlerOptions() != nil || tr.ClientOptions() != nil || tr.Traceparent(context.Background()) != "" {
		t.Fatal("nil Tracing must install nothing")
	}
	h := http.NotFoundHandler()
	if got := tr.Edge(h); got == nil {
		t.Fatal("Edge of nil Tracing")
	}
	if _, span := tr.Start(context.Background(), trace.SpanContext{}, "x"); span.IsRecording() {
		t.Fatal("nil Tracing recorded a span")
	}
}

// TestEdgeContinuesCallerTrace: the gateway's span joins a caller's W3C
// trace and hands its own context to the next hop in the request headers.
func TestEdgeContinuesCallerTrace(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tr, err := New(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)))
	if err != nil {
		t.Fatal(err)
	}
	var next string
	h := tr.Edge(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next = r.Header.Get("traceparent")
		w.WriteHeader(503)
	}))
	req := httptest.NewRequest("GET", "/api/posts/123/like", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.ServeHTTP(httptest.NewRecorder(), req)
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	s := spans[0]
	if s.Name != "GET /api/posts" || s.SpanContext.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || s.Parent.SpanID().String() != "00f067aa0ba902b7" {
		t.Fatalf("span %q trace %s parent %s", s.Name, s.SpanContext.TraceID(), s.Parent.SpanID())
	}
	if want := "00-4bf92f3577b34da6a3ce929d0e0e4736-" + s.SpanContext.SpanID().String() + "-01"; next != want {
		t.Fatalf("next hop traceparent %q, want %q", next, want)
	}
	if s.Status.Code.String() != "Error" {
		t.Fatalf("a 503 must mark the span: %v", s.Status)
	}
	// The bus round trip: a traceparent names the same span context.
	if sc := tr.FromTraceparent(next); sc.SpanID() != s.SpanContext.SpanID() {
		t.Fatal("FromTraceparent")
	}
}
