package bus

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	realtimev1 "github.com/infliq/infliq/backend/gen/infliq/realtime/v1"
	"github.com/infliq/infliq/backend/platform/cache/redistest"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/telemetry"
)

func note(n string) *realtimev1.SubscribeResponse {
	return &realtimev1.SubscribeResponse{Event: &realtimev1.SubscribeResponse_Notification{Notification: &realtimev1.NotificationEvent{Id: n, Type: "like"}}}
}

func TestPublishSequencesLogsAndReplays(t *testing.T) {
	redistest.Each(t, testPublishSequencesLogsAndReplays)
}

func testPublishSequencesLogsAndReplays(t *testing.T, rdb redis.UniversalClient) {
	b := New(rdb, redistest.Prefix(), 3)
	ctx := context.Background()
	uid := id.New()
	sub := rdb.Subscribe(ctx, b.UserChannel(uid))
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil { // subscription confirmed before publishing
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := b.PublishToUser(ctx, uid, note(string(rune('a'+i)))); err != nil {
			t.Fatal(err)
		}
	}
	for want := uint64(1); want <= 5; want++ {
		m, err := sub.ReceiveMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := Decode(m.Payload)
		if err != nil || ev.Sequence != want || ev.GetNotification().GetId() != string(rune('a'+want-1)) {
			t.Fatalf("event %d: %+v %v", want, ev, err)
		}
	}
	// A client that saw 3 gets 4 and 5.
	evs, complete, err := b.Replay(ctx, uid, 3, 100)
	if err != nil || !complete || len(evs) != 2 || evs[0].Sequence != 4 || evs[1].Sequence != 5 {
		t.Fatalf("replay after 3: %v complete=%v err=%v", evs, complete, err)
	}
	// Make the log trim exactly for the test: XADD MAXLEN ~ may keep more.
	rdb.XTrimMaxLen(ctx, b.LogKey(uid), 2)
	if _, complete, _ := b.Replay(ctx, uid, 1, 100); complete {
		t.Fatal("replay from an aged-out sequence must ask for a resync")
	}
	if evs, complete, _ := b.Replay(ctx, uid, 5, 100); !complete || len(evs) != 0 {
		t.Fatal("an up-to-date client needs nothing")
	}
	rdb.Del(ctx, b.LogKey(uid), b.seqKey(uid))
}

func TestDecodeRejectsGarbage(t *testing.T) {
	for _, p := range []string{"", "abc", "x:yz", "1:\xff\xff\xff"} {
		if _, err := Decode(p); err == nil {
			t.Errorf("Decode(%q) accepted", p)
		}
	}
}

// TestPublishManyResendsOnlyRefusedCalls: on a cluster where one node lost
// its script cache, a batch's calls to that node fail with NOSCRIPT while
// the others run; only the refused ones are resent, so no user gets an event
// twice.
func TestPublishManyResendsOnlyRefusedCalls(t *testing.T) {
	rdb := redistest.Cluster(t)
	b := New(rdb, redistest.Prefix(), 10)
	ctx := context.Background()
	master := func(uid id.ID) string {
		n, err := rdb.MasterForKey(ctx, b.seqKey(uid))
		if err != nil {
			t.Fatal(err)
		}
		return n.Options().Addr
	}
	u1, u2 := id.New(), id.New()
	for master(u2) == master(u1) {
		u2 = id.New()
	}
	if err := b.PublishToUsers(ctx, []id.ID{u1, u2}, note("first")); err != nil { // both nodes load the script
		t.Fatal(err)
	}
	n1, _ := rdb.MasterForKey(ctx, b.seqKey(u1))
	if err := n1.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := b.PublishToUsers(ctx, []id.ID{u1, u2}, note("second")); err != nil {
		t.Fatal(err)
	}
	for _, uid := range []id.ID{u1, u2} {
		evs, complete, err := b.Replay(ctx, uid, 0, 10)
		if err != nil || !complete || len(evs) != 2 || evs[1].Sequence != 2 || evs[1].GetNotification().GetId() != "second" {
			t.Fatalf("user log: %v %v %v", evs, complete, err)
		}
		rdb.Del(ctx, b.LogKey(uid), b.seqKey(uid))
	}
}

// TestTracedEventsCarryTraceparent: with tracing on, an event published in a
// sampled span reaches subscribers with that trace's traceparent, through
// the sequenced publish, the batched publish and the chat channel, and the
// replayed log still decodes.
func TestTracedEventsCarryTraceparent(t *testing.T) {
	rdb := redistest.New(t)
	b := New(rdb, redistest.Prefix(), 10)
	tr, err := telemetry.New(sdktrace.NewTracerProvider())
	if err != nil {
		t.Fatal(err)
	}
	b.Trace = tr
	ctx, span := tr.Start(context.Background(), trace.SpanContext{}, "request")
	defer span.End()
	want := span.SpanContext().TraceID().String()
	uid, chat := id.New(), id.New()
	sub := rdb.Subscribe(ctx, b.UserChannel(uid), b.ChatChannel(chat))
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.PublishToUser(ctx, uid, note("a")); err != nil {
		t.Fatal(err)
	}
	// A batch published apart from its request names the request's span.
	if err := b.PublishMany(context.Background(), []Publication{{Users: []id.ID{uid}, Event: note("b"), Trace: span.SpanContext()}}); err != nil {
		t.Fatal(err)
	}
	if err := b.PublishToChat(ctx, chat, note("c")); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b", "c"} {
		m, err := sub.ReceiveMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ev, tp, err := DecodeTraced(m.Payload)
		if err != nil || ev.GetNotification().GetId() != n || tr.FromTraceparent(tp).TraceID().String() != want {
			t.Fatalf("event %s: %v traceparent %q err %v", n, ev, tp, err)
		}
	}
	evs, _, err := b.Replay(ctx, uid, 0, 10)
	if err != nil || len(evs) != 2 || evs[1].GetNotification().GetId() != "b" {
		t.Fatalf("replay of traced events: %v %v", evs, err)
	}
	rdb.Del(ctx, b.LogKey(uid), b.seqKey(uid))
}
