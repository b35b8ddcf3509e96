package call

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/infliq/infliq/backend/checks"
	"github.com/infliq/infliq/backend/gateway"
	callv1 "github.com/infliq/infliq/backend/gen/infliq/call/v1"
	"github.com/infliq/infliq/backend/gen/infliq/call/v1/callv1connect"
	chatv1 "github.com/infliq/infliq/backend/gen/infliq/chat/v1"
	"github.com/infliq/infliq/backend/gen/infliq/chat/v1/chatv1connect"
	realtimev1 "github.com/infliq/infliq/backend/gen/infliq/realtime/v1"
	"github.com/infliq/infliq/backend/gen/infliq/realtime/v1/realtimev1connect"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/httpx"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/logx"
	"github.com/infliq/infliq/backend/platform/metrics"
	"github.com/infliq/infliq/backend/platform/tier"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
	"github.com/infliq/infliq/backend/realtime"
	"github.com/infliq/infliq/compat/rest"
	"github.com/infliq/infliq/compat/socketio/nodetest"
)

// edge is the whole call path as production runs it: the gateway with the
// legacy router in front of the call, chat and realtime tiers.
type edge struct {
	*env
	gw, rt string
}

func newEdge(t testing.TB) *edge {
	t.Helper()
	e := newEnv(t, Options{SweepEvery: 100 * time.Millisecond})
	sub := bus.NewSubscriber(e.bus, logx.Discard())
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); _ = sub.Close() })
	rcfg := config.Realtime{PingInterval: config.Duration(25 * time.Second), PingTimeout: config.Duration(20 * time.Second),
		MaxPayload: 1_000_000, Heartbeat: config.Duration(25 * time.Second), EventLogLen: 1000, SessionRecheck: config.Duration(time.Minute)}
	rt := realtime.NewTier(tiertest.Deps(), realtime.Options{Config: rcfg, Sub: sub, Ctx: ctx,
		Chat: chatv1connect.NewChatInternalServiceClient(&http.Client{}, e.chatURL, tier.InternalClientOptions(tiertest.InternalToken)...)})
	rtURL, _, _ := tiertest.Serve(t, rt.Handler())
	ups := gateway.Upstreams{}
	for name, u := range map[string]string{"realtime": rtURL, "chat": e.chatURL, "call": e.url} {
		ups[name], _ = url.Parse(u)
	}
	legacy := rest.New(rest.Deps{Log: logx.Discard(), Verifier: tiertest.Verifier(),
		Clients: rest.NewClients(&http.Client{Transport: httpx.NewTransport()}, rest.URLs{Chat: e.chatURL, Call: e.url})})
	g := gateway.New(gateway.Options{Upstreams: ups, Legacy: legacy, Edge: config.Gateway{MaxBodyBytes: 1 << 20}, Log: logx.Discard(), Metrics: metrics.New()})
	gw, _, _ := tiertest.Serve(t, g)
	return &edge{env: e, gw: gw, rt: rtURL}
}

func (e *edge) do(t testing.TB, method, path, tok, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, e.gw+path, strings.NewReader(body))
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := e.h1.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func (e *edge) directChat(t testing.TB, a, b id.ID) string {
	t.Helper()
	c := chatv1connect.NewChatServiceClient(e.h1, e.chatURL, tiertest.Bearer(tiertest.Token(t, a)))
	res, err := c.CreateChat(context.Background(), connect.NewRequest(&chatv1.CreateChatRequest{ParticipantIds: []string{b.String()}}))
	if err != nil {
		t.Fatal(err)
	}
	return res.Msg.Chat.Id
}

// TestCallFlowOverSockets runs the app's call flow with three real
// socket.io-client sockets through the gateway: Alice calls Bob; Mallory,
// connected all along, receives nothing (the legacy broadcast leak, S9).
func TestCallFlowOverSockets(t *testing.T) {
	e := newEdge(t)
	alice, bob, mallory := e.user(t, "alice"), e.user(t, "bob"), e.user(t, "mallory")
	chatID := e.directChat(t, alice, bob)
	// /expire ages a ringing call past the ring timeout; the sweeper does the rest.
	expire := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := e.pool.Exec(r.Context(), `UPDATE calls SET created_at = now() - interval '1 hour' WHERE id = $1`, r.URL.Query().Get("call")); err != nil {
			http.Error(w, err.Error(), 500)
		}
	}))
	defer expire.Close()
	cfg, _ := json.Marshal(map[string]any{
		"gw": e.gw, "chatId": chatID, "expire": expire.URL,
		"ids":    map[string]string{"alice": alice.String(), "bob": bob.String(), "mallory": mallory.String()},
		"tokens": map[string]string{"alice": tiertest.Token(t, alice), "bob": tiertest.Token(t, bob), "mallory": tiertest.Token(t, mallory)},
	})
	nodetest.Run(t, "testdata/callflow.cjs", string(cfg))

	var statuses string
	if err := e.pool.QueryRow(context.Background(), `SELECT string_agg(status, ',' ORDER BY id) FROM calls`).Scan(&statuses); err != nil || statuses != "ended,rejected,missed" {
		t.Fatalf("calls: %q %v", statuses, err)
	}
}

// TestLegacyCallRoutes: /api/calls/* status codes and shapes through the gateway.
func TestLegacyCallRoutes(t *testing.T) {
	e := newEdge(t)
	alice, bob, mallory := e.user(t, "alice"), e.user(t, "bob"), e.user(t, "mallory")
	ta, tb, tm := tiertest.Token(t, alice), tiertest.Token(t, bob), tiertest.Token(t, mallory)

	st, in := e.do(t, "POST", "/api/calls/initiate", ta, `{"receiverId":"`+bob.String()+`","type":"audio"}`)
	if st != 200 || in["success"] != true || in["callId"] == nil || in["roomName"] != "room-"+in["callId"].(string) {
		t.Fatalf("initiate: %d %v", st, in)
	}
	cid := in["callId"].(string)

	for _, tc := range []struct {
		method, path, tok, body string
		want                    int
		code                    string
	}{
		{"POST", "/api/calls/initiate", "", `{}`, 401, "UNAUTHORIZED"},
		{"POST", "/api/calls/initiate", "garbage", `{}`, 401, "INVALID_TOKEN"},
		{"POST", "/api/calls/initiate", ta, `{`, 400, ""},
		{"POST", "/api/calls/initiate", ta, `{"receiverId":"nope"}`, 400, ""},
		{"POST", "/api/calls/initiate", ta, `{"receiverId":"` + bob.String() + `","type":"fax"}`, 400, ""},
		{"POST", "/api/calls/initiate", ta, `{"receiverId":"` + bob.String() + `","type":7}`, 400, ""},
		{"POST", "/api/calls/initiate", ta, `{"receiverId":"` + alice.String() + `"}`, 400, ""},
		{"POST", "/api/calls/initiate", ta, `{"receiverId":"` + id.New().String() + `"}`, 404, ""},
		{"POST", "/api/calls/token", ta, `{}`, 400, ""},
		{"POST", "/api/calls/token", ta, `{"roomName":42}`, 400, ""},
		{"POST", "/api/calls/token", tm, `{"roomName":"` + cid + `"}`, 403, ""},
		{"POST", "/api/calls/token", ta, `{"roomName":"room-other"}`, 403, ""},
		{"POST", "/api/calls/" + cid + "/accept", tm, ``, 404, ""},
		{"POST", "/api/calls/" + cid + "/accept", ta, ``, 403, ""},
		{"POST", "/api/calls/" + cid + "/end", tm, ``, 404, ""},
		{"POST", "/api/calls/not-an-id/end", ta, ``, 404, ""},
		{"POST", "/api/calls/" + id.New().String() + "/reject", tb, ``, 404, ""},
	} {
		st, body := e.do(t, tc.method, tc.path, tc.tok, tc.body)
		if st != tc.want || body["error"] == nil || (tc.code != "" && body["code"] != tc.code) {
			t.Errorf("%s %s (%s): %d %v, want %d", tc.method, tc.path, tc.body, st, body, tc.want)
		}
	}

	st, tok := e.do(t, "POST", "/api/calls/token", tb, `{"roomName":"`+cid+`"}`)
	if st != 200 || tok["token"] == "" || tok["roomName"] != cid || tok["identity"] != bob.String() {
		t.Fatalf("token: %d %v", st, tok)
	}
	if st, acc := e.do(t, "POST", "/api/calls/"+cid+"/accept", tb, ``); st != 200 || acc["success"] != true || acc["callId"] != cid || acc["roomName"] != "room-"+cid {
		t.Fatalf("accept: %d %v", st, acc)
	}
	if st, b := e.do(t, "POST", "/api/calls/"+cid+"/accept", tb, ``); st != 409 || b["error"] == nil {
		t.Fatalf("second accept: %d %v", st, b)
	}
	if st, b := e.do(t, "POST", "/api/calls/"+cid+"/reject", tb, ``); st != 409 {
		t.Fatalf("reject an active call: %d %v", st, b)
	}
	if st, end := e.do(t, "POST", "/api/calls/"+cid+"/end", ta, ``); st != 200 || end["success"] != true || end["duration"] == nil {
		t.Fatalf("end: %d %v", st, end)
	}
	if st, b := e.do(t, "POST", "/api/calls/"+cid+"/end", tb, ``); st != 409 {
		t.Fatalf("end twice: %d %v", st, b)
	}
	if st, b := e.do(t, "POST", "/api/calls/token", tb, `{"roomName":"`+cid+`"}`); st != 409 {
		t.Fatalf("token for an ended call: %d %v", st, b)
	}

	// History: the 50 newest, callerId/receiverId populated.
	for i := 0; i < 51; i++ {
		if _, err := e.pool.Exec(context.Background(), `INSERT INTO calls (id, caller_id, receiver_id, room_name, created_at) VALUES ($1, $2, $3, $4, now() - interval '1 day')`,
			id.NewAt(time.Now().Add(-24*time.Hour)).String(), bob.String(), alice.String(), "r"+id.New().String()); err != nil {
			t.Fatal(err)
		}
	}
	st, h := e.do(t, "GET", "/api/calls/history", ta, "")
	calls, _ := h["calls"].([]any)
	if st != 200 || len(calls) != 50 {
		t.Fatalf("history: %d %d", st, len(calls))
	}
	first := calls[0].(map[string]any)
	caller, receiver := first["callerId"].(map[string]any), first["receiverId"].(map[string]any)
	if first["_id"] != cid || first["id"] != cid || first["type"] != "audio" || first["status"] != "ended" || caller["_id"] != alice.String() ||
		caller["name"] != "alice" || caller["profilePicture"] != "alice.jpg" || receiver["_id"] != bob.String() || first["startedAt"] == nil || first["endedAt"] == nil {
		t.Fatalf("history entry: %v", first)
	}
	if _, err := time.Parse(time.RFC3339, first["createdAt"].(string)); err != nil {
		t.Fatal(err)
	}
	if st, h := e.do(t, "GET", "/api/calls/history", tm, ""); st != 200 || len(h["calls"].([]any)) != 0 {
		t.Fatalf("stranger history: %d %v", st, h)
	}

	// `infliq smoke` and `infliq contracts` pass their call checks.
	var out bytes.Buffer
	checks.Smoke(context.Background(), checks.SmokeConfig{BaseURL: e.gw, Timeout: 10 * time.Second, JWT: ta}, &out)
	checks.Contracts(context.Background(), checks.ContractConfig{BaseURL: e.gw, Timeout: 10 * time.Second, JWT: ta}, &out)
	for _, want := range []string{"PASS protected call history", "PASS protected call payload contract", "PASS call token refuses a foreign room", "PASS call token route requires a token"} {
		if !strings.Contains(out.String(), want+"\n") {
			t.Errorf("missing %q in:\n%s", want, out.String())
		}
	}
}

// TestCallEventsOnTypedStream: the SDK's RealtimeService.Subscribe gets the
// typed counterpart of each call signal (SDK calls through the gateway).
func TestCallEventsOnTypedStream(t *testing.T) {
	e := newEdge(t)
	alice, bob := e.user(t, "alice"), e.user(t, "bob")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Both through the gateway, as the SDK calls them.
	sub := realtimev1connect.NewRealtimeServiceClient(e.h1, e.gw, tiertest.Bearer(tiertest.Token(t, bob)))
	stream, err := sub.Subscribe(ctx, connect.NewRequest(&realtimev1.SubscribeRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	// The first frame (a heartbeat) says the subscription is live.
	if !stream.Receive() {
		t.Fatal(stream.Err())
	}
	in, err := callv1connect.NewCallServiceClient(e.h1, e.gw, tiertest.Bearer(tiertest.Token(t, alice))).InitiateCall(ctx, connect.NewRequest(&callv1.InitiateCallRequest{ReceiverId: bob.String(), Type: callv1.CallType_CALL_TYPE_AUDIO}))
	if err != nil {
		t.Fatal(err)
	}
	for stream.Receive() {
		c := stream.Msg().GetCall()
		if c == nil {
			continue
		}
		if c.Kind != "incoming-call" || c.CallId != in.Msg.Call.Id || c.Type != "audio" || c.Caller.GetName() != "alice" || stream.Msg().Sequence == 0 {
			t.Fatalf("call event: %v", stream.Msg())
		}
		return
	}
	t.Fatal(stream.Err())
}
