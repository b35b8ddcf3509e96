package bus

import (
	"context"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	realtimev1 "github.com/infliq/infliq/backend/gen/infliq/realtime/v1"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/logx"
)

// TestWorksOnMiniredis: the embedded dev Redis (miniredis) runs the bus too.
func TestWorksOnMiniredis(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	b := New(rdb, "rt:", 10)
	s := NewSubscriber(b, logx.Discard())
	defer s.Close()
	ctx := context.Background()
	uid := id.New()
	got := make(chan uint64, 10)
	un, err := s.SubscribeUser(ctx, uid, func(ev *realtimev1.SubscribeResponse) { got <- ev.Sequence })
	if err != nil {
		t.Fatal(err)
	}
	defer un()
	waitSubs(t, b, b.UserChannel(uid), 1)
	if err := b.PublishToUsers(ctx, []id.ID{uid}, note("a")); err != nil {
		t.Fatal(err)
	}
	if err := b.PublishToUser(ctx, uid, note("b")); err != nil {
		t.Fatal(err)
	}
	if <-got != 1 || <-got != 2 {
		t.Fatal("sequences")
	}
	evs, complete, err := b.Replay(ctx, uid, 1, 10)
	if err != nil || !complete || len(evs) != 1 || evs[0].Sequence != 2 {
		t.Fatalf("replay: %v %v %v", evs, complete, err)
	}
}
