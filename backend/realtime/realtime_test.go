package realtime

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/infliq/infliq/backend/chat"
	chatv1 "github.com/infliq/infliq/backend/gen/infliq/chat/v1"
	"github.com/infliq/infliq/backend/gen/infliq/chat/v1/chatv1connect"
	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	notifyv1 "github.com/infliq/infliq/backend/gen/infliq/notify/v1"
	realtimev1 "github.com/infliq/infliq/backend/gen/infliq/realtime/v1"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/cache/redistest"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/logx"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/backend/platform/tier"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
	"github.com/infliq/infliq/compat/socketio/nodetest"
)

// stack is the chat tier plus realtime replicas sharing one Redis.
type stack struct {
	pool    *pgxpool.Pool
	rdb     *redis.Client
	prefix  string
	bus     *bus.Redis
	chatURL string
	h1      *http.Client
	h2c     *http.Client
}

func newStack(t testing.TB) *stack {
	t.Helper()
	st := &stack{pool: pgtest.New(t), rdb: redistest.New(t), prefix: redistest.Prefix()}
	st.bus = bus.New(st.rdb, st.prefix, 100)
	st.chatURL, st.h2c, st.h1 = tiertest.Serve(t, chat.NewTier(tiertest.Deps(), st.pool, st.bus).Handler())
	return st
}

func testConfig() config.Realtime {
	return config.Realtime{
		PingInterval: config.Duration(25 * time.Second), PingTimeout: config.Duration(20 * time.Second),
		MaxPayload: 1_000_000, Heartbeat: config.Duration(25 * time.Second), EventLogLen: 100,
		SessionRecheck: config.Duration(time.Minute),
	}
}

// replica starts one realtime process (its own bus subscriber) and returns its URL.
func (st *stack) replica(t testing.TB, cfg config.Realtime) string {
	t.Helper()
	return st.replicaWith(t, cfg, tiertest.Deps())
}

func (st *stack) replicaWith(t testing.TB, cfg config.Realtime, d tier.Deps) string {
	t.Helper()
	sub := bus.NewSubscriber(bus.New(st.rdb, st.prefix, 100), logx.Discard())
	ctx, cancel := context.WithCancel(context.Background())
	rt := NewTier(d, Options{
		Config: cfg, Sub: sub, Ctx: ctx,
		Chat: chatv1connect.NewChatInternalServiceClient(st.h1, st.chatURL, tier.InternalClientOptions(tiertest.InternalToken)...),
	})
	url, _, _ := tiertest.Serve(t, rt.Handler())
	t.Cleanup(func() { cancel(); _ = sub.Close() })
	return url
}

func (st *stack) user(t testing.TB, name string) id.ID {
	t.Helper()
	uid := id.New()
	if _, err := st.pool.Exec(context.Background(), `INSERT INTO users (id, name, profile_picture) VALUES ($1, $2, '')`, uid.String(), name); err != nil {
		t.Fatal(err)
	}
	return uid
}

func (st *stack) directChat(t testing.TB, a, b id.ID) string {
	t.Helper()
	c := chatv1connect.NewChatServiceClient(st.h1, st.chatURL, tiertest.Bearer(tiertest.Token(t, a)))
	res, err := c.CreateChat(context.Background(), connect.NewRequest(&chatv1.CreateChatRequest{ParticipantIds: []string{b.String()}}))
	if err != nil {
		t.Fatal(err)
	}
	return res.Msg.Chat.Id
}

// TestLegacySocketAcrossReplicas runs the app's socket flows with the real
// socket.io-client: Alice on replica 1 (websocket, /socket.io), Bob on
// replica 2 (polling→websocket, /socket-chat.io).
func TestLegacySocketAcrossReplicas(t *testing.T) {
	st := newStack(t)
	alice, bob, mallory := st.user(t, "alice"), st.user(t, "bob"), st.user(t, "mallory")
	chatID := st.directChat(t, alice, bob)
	r1, r2 := st.replica(t, testConfig()), st.replica(t, testConfig())

	// Synthetic events, as the call and notification publishers will send them.
	trigger := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		to, err := id.Parse(r.URL.Query().Get("to"))
		if err != nil {
			http.Error(w, "bad to", 400)
			return
		}
		var ev *realtimev1.SubscribeResponse
		switch r.URL.Path {
		case "/call":
			ev = &realtimev1.SubscribeResponse{Event: &realtimev1.SubscribeResponse_Call{Call: &realtimev1.CallEvent{
				Kind: "incoming-call", CallId: "call-1", CallerId: bob.String(), Caller: &commonv1.UserSummary{Id: bob.String(), Name: "bob"}, Type: "video", RoomName: "room-1"}}}
		case "/ended":
			ev = &realtimev1.SubscribeResponse{Event: &realtimev1.SubscribeResponse_Call{Call: &realtimev1.CallEvent{Kind: "call-ended", CallId: "call-1", DurationSeconds: 42}}}
		case "/notify":
			ev = &realtimev1.SubscribeResponse{Event: &realtimev1.SubscribeResponse_Notification{Notification: &realtimev1.NotificationEvent{
				Id: "like-1", Type: "like", Title: "New like", Message: "bob liked your post", Meta: map[string]string{"postId": "p1"},
				Update: &notifyv1.NotificationUpdate{UnreadCount: 3}}}}
		}
		if err := st.bus.PublishToUser(r.Context(), to, ev); err != nil {
			http.Error(w, err.Error(), 500)
		}
	}))
	defer trigger.Close()

	cfg, _ := json.Marshal(map[string]any{
		"r1": r1, "r2": r2, "chatId": chatID, "trigger": trigger.URL,
		"ids":    map[string]string{"alice": alice.String(), "bob": bob.String(), "mallory": mallory.String()},
		"tokens": map[string]string{"alice": tiertest.Token(t, alice), "bob": tiertest.Token(t, bob), "mallory": tiertest.Token(t, mallory)},
	})
	nodetest.Run(t, "testdata/legacy.cjs", string(cfg))

	var n int
	if err := st.pool.QueryRow(context.Background(), `SELECT count(*) FROM messages WHERE chat_id = $1`, chatID).Scan(&n); err != nil || n != 1 {
		t.Fatalf("persisted %d messages (%v); want exactly 1 (idempotent retry, refused sends)", n, err)
	}
}
