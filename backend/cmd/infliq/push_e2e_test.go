package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"

	realtimev1 "github.com/infliq/infliq/backend/gen/infliq/realtime/v1"
	"github.com/infliq/infliq/backend/gen/infliq/realtime/v1/realtimev1connect"
	"github.com/infliq/infliq/backend/notify/push"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/devstack/expofake"
)

// TestPushThroughTheTiers runs `infliq all` against PostgreSQL, a Redis the
// test owns (the record streams and consumer groups are not shared with
// other test processes) and the fake Expo server, and follows issue 19's
// push rules through the public RPCs:
//   - B offline: A's like reaches B's phone once, after the burst window,
//     and A's call rings it at once (priority high, channel "calls", call
//     and caller ids in data);
//   - B connected (a realtime stream): the like is not pushed, the call is;
//   - B logs out: the token registered under that session is forgotten and
//     later events push nothing.
func TestPushThroughTheTiers(t *testing.T) {
	fake := expofake.New()
	fakeURL, err := fake.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fake.Close() })
	dsn := pgtest.NewDSN(t)
	rds := startRedis(t)
	s := startStack(t, map[string]string{"DATABASE_URL": dsn, "REDIS_URL": rds.url(), "EXPO_PUSH_URL": fakeURL,
		"PUSH_BURST_WINDOW": "1s", "CALL_RING_TIMEOUT_SECONDS": "600"})
	db, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	count := func(sql string, args ...any) int {
		t.Helper()
		var n int
		if err := db.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	rpc := func(tok, path string, body map[string]any) map[string]any {
		t.Helper()
		st, out := s.call("POST", path, tok, body)
		if st != 200 {
			t.Fatalf("%s: %d %v", path, st, out)
		}
		return out
	}
	post := func(tok string) string {
		t.Helper()
		p, _ := rpc(tok, "/infliq.post.v1.PostService/CreatePost", map[string]any{"type": "POST_TYPE_POST", "content": "hello"})["post"].(map[string]any)
		id, _ := p["id"].(string)
		if id == "" {
			t.Fatal("CreatePost answered no id")
		}
		return id
	}
	callB := func(aTok, b string) string {
		t.Helper()
		c, _ := rpc(aTok, "/infliq.call.v1.CallService/InitiateCall", map[string]any{"receiverId": b, "type": "CALL_TYPE_AUDIO"})["call"].(map[string]any)
		id, _ := c["id"].(string)
		if id == "" {
			t.Fatal("InitiateCall answered no id")
		}
		return id
	}
	// pushes lists what reached B's device, by kind.
	const token = "ExponentPushToken[b-phone-0001]"
	pushes := func(kind string) []expofake.Message {
		var out []expofake.Message
		for _, m := range fake.Delivered() {
			if m.To == token && m.Data["kind"] == kind {
				out = append(out, m)
			}
		}
		return out
	}
	// settled: nothing for B waits in the outbox or in a send job.
	settled := func(b string) bool {
		return count(`SELECT count(*) FROM push_outbox WHERE user_id = $1`, b) == 0 &&
			count(`SELECT count(*) FROM river_job WHERE kind = 'push_send' AND state NOT IN ('completed', 'cancelled', 'discarded')`) == 0
	}

	aTok, _ := s.login(t)
	bTok, b := s.login(t)
	rpc(bTok, "/infliq.notify.v1.NotificationService/RegisterPushToken", map[string]any{"token": token, "platform": "PUSH_PLATFORM_ANDROID"})

	// B offline.
	p1 := post(bTok)
	rpc(aTok, "/infliq.post.v1.PostService/LikePost", map[string]any{"postId": p1})
	call1 := callB(aTok, b)
	waitFor(t, "the ring and the like on B's phone", func() bool { return len(pushes("call")) == 1 && len(pushes("like")) == 1 })
	ring := pushes("call")[0]
	if ring.Priority != "high" || ring.InterruptionLevel != "time-sensitive" || ring.ChannelID != push.ChannelCalls ||
		ring.Data["callId"] != call1 || ring.Data["callerId"] == "" || ring.Data["callerId"] == b {
		t.Fatalf("ring push %+v", ring)
	}
	like := pushes("like")[0]
	if like.ChannelID != push.ChannelDefault || like.Data["postId"] != p1 || like.Priority != "default" {
		t.Fatalf("like push %+v", like)
	}
	rpc(bTok, "/infliq.call.v1.CallService/RejectCall", map[string]any{"callId": call1})

	// B connected: its stream shows the like, the phone does not.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := connect.NewRequest(&realtimev1.SubscribeRequest{})
	req.Header().Set("Authorization", "Bearer "+bTok)
	stream, err := realtimev1connect.NewRealtimeServiceClient(http.DefaultClient, s.base).Subscribe(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	p2 := post(bTok)
	rang, liked := make(chan string, 8), make(chan struct{}, 8)
	go func() {
		for stream.Receive() {
			if c := stream.Msg().GetCall(); c != nil {
				rang <- c.String()
			}
			if n := stream.Msg().GetNotification(); n != nil && strings.Contains(n.String(), p2) {
				liked <- struct{}{}
			}
		}
	}()
	// The ring on the stream shows that B's connection is registered (the
	// ring is pushed whatever the presence).
	call2 := callB(aTok, b)
	waitFor(t, "the ring on B's stream", func() bool {
		select {
		case c := <-rang:
			return strings.Contains(c, call2)
		case <-time.After(100 * time.Millisecond):
			return false
		}
	})
	rpc(aTok, "/infliq.post.v1.PostService/LikePost", map[string]any{"postId": p2})
	waitFor(t, "the like on B's stream", func() bool {
		select {
		case <-liked:
			return true
		case <-time.After(100 * time.Millisecond):
			return false
		}
	})
	waitFor(t, "the second ring on B's phone", func() bool { return len(pushes("call")) == 2 })
	if r := pushes("call")[1]; r.Data["callId"] != call2 || r.ChannelID != push.ChannelCalls {
		t.Fatalf("second ring %+v", r)
	}
	rpc(bTok, "/infliq.call.v1.CallService/RejectCall", map[string]any{"callId": call2})
	waitFor(t, "B's pushes settled", func() bool { return settled(b) })
	if n := len(pushes("like")); n != 1 {
		t.Fatalf("%d like pushes, want 1 (B was connected for the second)", n)
	}

	// B logs out: the session's token goes, nothing more is pushed.
	rpc(bTok, "/infliq.auth.v1.AuthService/Logout", map[string]any{})
	waitFor(t, "the token forgotten", func() bool { return count(`SELECT count(*) FROM push_tokens WHERE user_id = $1`, b) == 0 })
	cancel()
	before := len(fake.Delivered())
	rpc(aTok, "/infliq.post.v1.PostService/UnlikePost", map[string]any{"postId": p1})
	rpc(aTok, "/infliq.post.v1.PostService/LikePost", map[string]any{"postId": p1})
	call3 := callB(aTok, b)
	rpc(aTok, "/infliq.call.v1.CallService/EndCall", map[string]any{"callId": call3})
	// The missed call is the last of these records: once it is in B's
	// inbox the ring before it was applied too.
	waitFor(t, "the missed call in B's inbox", func() bool {
		return count(`SELECT count(*) FROM notification_groups WHERE user_id = $1 AND subject_id = $2`, b, call3) == 1
	})
	waitFor(t, "B's pushes settled", func() bool { return settled(b) })
	if after := len(fake.Delivered()); after != before {
		t.Fatalf("%d pushes after logout: %+v", after-before, fake.Delivered()[before:])
	}
}

// waitFor polls cond; the deadline only bounds a broken run.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
