package logx

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
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
