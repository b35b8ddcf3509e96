package main

import (
	"context"
	"net/http"
	"slices"
	"sort"
	"testing"
	"time"

	"connectrpc.com/connect"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	realtimev1 "github.com/infliq/infliq/backend/gen/infliq/realtime/v1"
	"github.com/infliq/infliq/backend/gen/infliq/realtime/v1/realtimev1connect"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/backend/platform/telemetry"
)

// TestOneTraceAcrossTiers: with tracing on, a legacy REST login is one
// trace through the gateway, the auth tier and the user tier it calls; a
// chat send is one trace from the gateway through chat's batched commit and
// the bus to the realtime delivery on the recipient's stream.
func TestOneTraceAcrossTiers(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	old := setupTracing
	setupTracing = func(context.Context, config.Telemetry, string) (*telemetry.Tracing, func(context.Context) error, error) {
		tr, err := telemetry.New(tp)
		return tr, tp.Shutdown, err
	}
	t.Cleanup(func() { setupTracing = old })
	s := startStack(t, map[string]string{"DATABASE_URL": pgtest.NewDSN(t), "REDIS_URL": "redis://127.0.0.1:6379/0"})

	exp.Reset()
	tok, _ := s.login(t) // send-otp, then verify-otp: a new account
	byTrace := traces(exp.GetSpans())
	login := find(byTrace, "POST /api/auth", "infliq.auth.v1.AuthService/VerifyOtp")
	want := []string{"POST /api/auth", "infliq.auth.v1.AuthService/VerifyOtp", "infliq.user.v1.UserInternalService/CreateUser"}
	for _, name := range want {
		if n := count(login, name); n < 1 {
			t.Errorf("login trace lacks %q: %v", name, names(login))
		}
	}
	// Client and server span of each hop: the gateway → auth → user chain.
	if n := count(login, "infliq.user.v1.UserInternalService/CreateUser"); n != 2 {
		t.Errorf("CreateUser spans %d, want a client and a server span: %v", n, names(login))
	}
	checkParents(t, login)

	// A message to a user whose typed stream is open through the gateway.
	peerTok, peer := s.login(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rt := realtimev1connect.NewRealtimeServiceClient(http.DefaultClient, s.base)
	req := connect.NewRequest(&realtimev1.SubscribeRequest{})
	req.Header().Set("Authorization", "Bearer "+peerTok)
	stream, err := rt.Subscribe(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	got := make(chan struct{}, 1)
	go func() {
		for stream.Receive() {
			if stream.Msg().GetMessage() != nil {
				got <- struct{}{}
				return
			}
		}
	}()
	time.Sleep(300 * time.Millisecond) // the subscription is registered
	st, body := s.call("POST", "/infliq.chat.v1.ChatService/CreateChat", tok, map[string]any{"participantIds": []string{peer}})
	chatID, _ := body["chat"].(map[string]any)["id"].(string)
	if st != 200 {
		t.Fatalf("create chat: %d %v", st, body)
	}
	exp.Reset()
	if st, body := s.call("POST", "/infliq.chat.v1.ChatService/SendMessage", tok, map[string]any{"chatId": chatID, "text": "traced"}); st != 200 {
		t.Fatalf("send: %d %v", st, body)
	}
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("message not delivered on the stream")
	}
	var send []sdktrace.ReadOnlySpan
	for i := 0; i < 50 && count(send, "realtime.deliver") == 0; i++ {
		time.Sleep(20 * time.Millisecond)
		send = find(traces(exp.GetSpans()), "POST /infliq.chat.v1.ChatService/SendMessage", "chat.commit")
	}
	for _, name := range []string{"POST /infliq.chat.v1.ChatService/SendMessage", "infliq.chat.v1.ChatService/SendMessage", "chat.commit", "bus.publish", "realtime.deliver"} {
		if count(send, name) < 1 {
			t.Errorf("send trace lacks %q: %v", name, names(send))
		}
	}
	checkParents(t, send)
}

func traces(spans tracetest.SpanStubs) map[string][]sdktrace.ReadOnlySpan {
	out := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range spans.Snapshots() {
		id := s.SpanContext().TraceID().String()
		out[id] = append(out[id], s)
	}
	return out
}

// find returns the trace holding spans of every given name.
func find(byTrace map[string][]sdktrace.ReadOnlySpan, names ...string) []sdktrace.ReadOnlySpan {
	for _, spans := range byTrace {
		ok := true
		for _, n := range names {
			ok = ok && count(spans, n) > 0
		}
		if ok {
			return spans
		}
	}
	return nil
}

func count(spans []sdktrace.ReadOnlySpan, name string) int {
	n := 0
	for _, s := range spans {
		if s.Name() == name {
			n++
		}
	}
	return n
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name())
	}
	sort.Strings(out)
	return out
}

// checkParents: one root (the gateway's span), every other span's parent is
// in the trace.
func checkParents(t *testing.T, spans []sdktrace.ReadOnlySpan) {
	t.Helper()
	var ids []string
	for _, s := range spans {
		ids = append(ids, s.SpanContext().SpanID().String())
	}
	roots := 0
	for _, s := range spans {
		if !s.Parent().IsValid() {
			roots++
			continue
		}
		if !slices.Contains(ids, s.Parent().SpanID().String()) {
			t.Errorf("span %q has a parent outside the trace", s.Name())
		}
	}
	if roots != 1 {
		t.Errorf("%d root spans, want 1: %v", roots, names(spans))
	}
}
