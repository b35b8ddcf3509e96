package logx

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

func TestContextFieldsAndJSON(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, Options{Level: "info", Format: "auto", Service: "auth-service"})
	ctx := WithUserID(WithRequestID(context.Background(), "req-1"), "65a1b2c3d4e5f60718293a4b")
	l.InfoContext(ctx, "request", "status", 200)
	l.DebugContext(ctx, "hidden")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("not one JSON line: %q", buf.String())
	}
	if rec["service"] != "auth-service" || rec["request_id"] != "req-1" || rec["user_id"] != "65a1b2c3d4e5f60718293a4b" || rec["status"] != float64(200) {
		t.Fatalf("fields: %v", rec)
	}
	if RequestID(ctx) != "req-1" || RequestID(context.Background()) != "" {
		t.Fatal("RequestID accessor")
	}
}

func TestTextFormatHasNoColourInFiles(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, Options{Level: "info", Format: "text"}).Info("hello")
	if bytes.Contains(buf.Bytes(), []byte("\x1b[")) || !bytes.Contains(buf.Bytes(), []byte("hello")) {
		t.Fatalf("text output: %q", buf.String())
	}
}

// TestTraceIDsInLines: a line logged inside a span names its trace and span,
// so an operator can go from a log line to the trace.
func TestTraceIDsInLines(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, Options{Level: "info", Format: "json"})
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	l.InfoContext(ctx, "traced")
	l.Info("untraced")
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	var rec, plain map[string]any
	if len(lines) != 2 || json.Unmarshal(lines[0], &rec) != nil || json.Unmarshal(lines[1], &plain) != nil {
		t.Fatalf("output: %q", buf.String())
	}
	if rec["trace_id"] != tid.String() || rec["span_id"] != sid.String() {
		t.Fatalf("traced line: %v", rec)
	}
	if _, ok := plain["trace_id"]; ok {
		t.Fatalf("untraced line has a trace id: %v", plain)
	}
}
