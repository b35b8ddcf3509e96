package realtime

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/golang-jwt/jwt/v5"

	chatv1 "github.com/infliq/infliq/backend/gen/infliq/chat/v1"
	"github.com/infliq/infliq/backend/gen/infliq/chat/v1/chatv1connect"
	realtimev1 "github.com/infliq/infliq/backend/gen/infliq/realtime/v1"
	"github.com/infliq/infliq/backend/gen/infliq/realtime/v1/realtimev1connect"
	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/httpx"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
	"github.com/infliq/infliq/compat/socketio/sioclient"
)

type streamReader struct {
	t      *testing.T
	stream *connect.ServerStreamForClient[realtimev1.SubscribeResponse]
	cancel context.CancelFunc
}

func subscribe(t *testing.T, url string, uid id.ID, req *realtimev1.SubscribeRequest, grpc bool) *streamReader {
	t.Helper()
	opts := []connect.ClientOption{tiertest.Bearer(tiertest.Token(t, uid))}
	hc := &http.Client{Transport: httpx.NewTransport()}
	if grpc {
		opts = append(opts, connect.WithGRPC())
		hc = &http.Client{Transport: httpx.NewH2CTransport()}
	}
	c := realtimev1connect.NewRealtimeServiceClient(hc, url, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	s, err := c.Subscribe(ctx, connect.NewRequest(req))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = s.Close() })
	return &streamReader{t: t, stream: s, cancel: cancel}
}

// next returns the next non-heartbeat event.
func (r *streamReader) next() *realtimev1.SubscribeResponse {
	r.t.Helper()
	for r.stream.Receive() {
		if ev := r.stream.Msg(); ev.GetHeartbeat() == nil {
			return ev
		}
	}
	r.t.Fatalf("stream ended: %v", r.stream.Err())
	return nil
}

func (r *streamReader) first() *realtimev1.SubscribeResponse {
	r.t.Helper()
	if !r.stream.Receive() {
		r.t.Fatalf("stream ended: %v", r.stream.Err())
	}
	return r.stream.Msg()
}

// TestTypedStreamReplaysAfterReconnect: a receiver that reconnects with its
// last sequence (here to the other replica) loses nothing.
func TestTypedStreamReplaysAfterReconnect(t *testing.T) {
	st := newStack(t)
	alice, bob := st.user(t, "alice"), st.user(t, "bob")
	chatID := st.directChat(t, alice, bob)
	r1, r2 := st.replica(t, testConfig()), st.replica(t, testConfig())
	bobChat := chatv1connect.NewChatServiceClient(st.h1, st.chatURL, tiertest.Bearer(tiertest.Token(t, bob)))
	send := func(text string) {
		if _, err := bobChat.SendMessage(context.Background(), connect.NewRequest(&chatv1.SendMessageRequest{ChatId: chatID, Text: text})); err != nil {
			t.Fatal(err)
		}
	}

	s1 := subscribe(t, r1, alice, &realtimev1.SubscribeRequest{ChatIds: []string{chatID, id.New().String()}}, true)
	if hb := s1.first(); hb.GetHeartbeat() == nil || hb.Sequence != 0 {
		t.Fatalf("first event: %v", hb)
	}
	send("m1")
	send("m2")
	var last uint64
	for i, want := range []string{"m1", "m2"} {
		ev := s1.next()
		if ev.GetMessage().GetMessage().GetText() != want || ev.Sequence != uint64(i+1) {
			t.Fatalf("live event %d: %v", i, ev)
		}
		last = ev.Sequence
	}
	// Typing arrives for chats named in chat_ids (other members only).
	if _, err := bobChat.SetTyping(context.Background(), connect.NewRequest(&chatv1.SetTypingRequest{ChatId: chatID, IsTyping: true})); err != nil {
		t.Fatal(err)
	}
	if ev := s1.next(); ev.GetTyping().GetUserId() != bob.String() || ev.Sequence != 0 {
		t.Fatalf("typing: %v", ev)
	}
	s1.cancel()

	// While alice is away: more messages and a notification.
	send("m3")
	send("m4")
	if err := st.bus.PublishToUser(context.Background(), alice, &realtimev1.SubscribeResponse{Event: &realtimev1.SubscribeResponse_Notification{
		Notification: &realtimev1.NotificationEvent{Id: "n1", Type: "follow"}}}); err != nil {
		t.Fatal(err)
	}
	s2 := subscribe(t, r2, alice, &realtimev1.SubscribeRequest{LastSequence: last}, false)
	for i, want := range []string{"m3", "m4", "n1"} {
		ev := s2.next()
		got := ev.GetMessage().GetMessage().GetText()
		if n := ev.GetNotification(); n != nil {
			got = n.Id
		}
		if got != want || ev.Sequence != last+uint64(i)+1 {
			t.Fatalf("replayed %d: %v", i, ev)
		}
	}
	send("m5") // live again after the replay, no duplicates
	if ev := s2.next(); ev.GetMessage().GetMessage().GetText() != "m5" || ev.Sequence != 6 {
		t.Fatalf("live after replay: %v", ev)
	}
	s2.cancel()

	// A client whose sequence aged out of the log is told to resync.
	st.rdb.XTrimMaxLen(context.Background(), st.bus.LogKey(alice), 1)
	s3 := subscribe(t, r1, alice, &realtimev1.SubscribeRequest{LastSequence: 2}, true)
	if ev := s3.first(); ev.GetResyncRequired() == nil || ev.Sequence != 6 {
		t.Fatalf("resync: %v", ev)
	}
}

func TestTypedStreamRefusesBadCallers(t *testing.T) {
	st := newStack(t)
	r1 := st.replica(t, testConfig())
	c := realtimev1connect.NewRealtimeServiceClient(&http.Client{Transport: httpx.NewTransport()}, r1)
	s, err := c.Subscribe(context.Background(), connect.NewRequest(&realtimev1.SubscribeRequest{}))
	if err == nil {
		for s.Receive() {
		}
		err = s.Err()
	}
	if connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("anonymous: %v", err)
	}
	uid := st.user(t, "u")
	c = realtimev1connect.NewRealtimeServiceClient(&http.Client{Transport: httpx.NewTransport()}, r1, tiertest.Bearer(tiertest.Token(t, uid)))
	s, err = c.Subscribe(context.Background(), connect.NewRequest(&realtimev1.SubscribeRequest{HeartbeatSeconds: 100000, ChatIds: []string{"../x"}}))
	if err == nil {
		for s.Receive() {
		}
		err = s.Err()
	}
	if connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("bad input: %v", err)
	}
}

type revoker struct{ on atomic.Bool }

func (r *revoker) Revoked(context.Context, authn.Principal) (bool, error) { return r.on.Load(), nil }

// TestSessionRecheckDisconnects: a socket whose session is revoked is told
// "41" (io server disconnect) at the next re-check.
func TestSessionRecheckDisconnects(t *testing.T) {
	st := newStack(t)
	cfg := testConfig()
	cfg.SessionRecheck = config.Duration(50 * time.Millisecond)
	d := tiertest.Deps()
	rev := &revoker{}
	d.Verifier.Revocations = rev
	r1 := st.replicaWith(t, cfg, d)
	uid := st.user(t, "u")
	c, err := sioclient.Dial(r1, "/socket.io/", tiertest.Token(t, uid))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rev.on.Store(true)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(); err != sioclient.ErrDisconnected {
		t.Fatalf("want server disconnect, got %v", err)
	}
	// And a revoked session cannot come back.
	if _, err := sioclient.Dial(r1, "/socket.io/", tiertest.Token(t, uid)); err == nil {
		t.Fatal("revoked session reconnected")
	}
}

// TestLegacyTokenOnSocket: tokens minted by the Node backend ({userId,
// phone}) open the socket while LEGACY_TOKENS_ACCEPTED is on, like REST.
func TestLegacyTokenOnSocket(t *testing.T) {
	st := newStack(t)
	r1 := st.replica(t, testConfig())
	uid := st.user(t, "u")
	legacy, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"userId": uid.String(), "phone": "+911234567890", "iat": time.Now().Unix()}).SignedString([]byte(tiertest.Secret))
	if err != nil {
		t.Fatal(err)
	}
	c, err := sioclient.Dial(r1, "/socket.io/", legacy)
	if err != nil {
		t.Fatalf("legacy token refused: %v", err)
	}
	c.Close()
	// A legacy refresh token ({userId} only) is not an access token.
	refresh, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"userId": uid.String()}).SignedString([]byte(tiertest.Secret))
	if _, err := sioclient.Dial(r1, "/socket.io/", refresh); err == nil {
		t.Fatal("legacy refresh token accepted on the socket")
	}
}

// TestStreamSessionRecheck: a revoked session's stream ends Unauthenticated.
func TestStreamSessionRecheck(t *testing.T) {
	st := newStack(t)
	cfg := testConfig()
	cfg.SessionRecheck = config.Duration(10 * time.Millisecond)
	d := tiertest.Deps()
	rev := &revoker{}
	d.Verifier.Revocations = rev
	r1 := st.replicaWith(t, cfg, d)
	uid := st.user(t, "u")
	s := subscribe(t, r1, uid, &realtimev1.SubscribeRequest{HeartbeatSeconds: 1}, false)
	if hb := s.first(); hb.GetHeartbeat() == nil {
		t.Fatalf("first: %v", hb)
	}
	rev.on.Store(true)
	for s.stream.Receive() {
	}
	if connect.CodeOf(s.stream.Err()) != connect.CodeUnauthenticated {
		t.Fatalf("want Unauthenticated, got %v", s.stream.Err())
	}
}
