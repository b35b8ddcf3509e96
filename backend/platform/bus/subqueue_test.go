package bus

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	realtimev1 "github.com/infliq/infliq/backend/gen/infliq/realtime/v1"
	"github.com/infliq/infliq/backend/platform/cache/redistest"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/logx"
)

// TestConcurrentSubscribesQueued: 48 goroutines subscribing and
// unsubscribing on 8 shared channels at once (their SUBSCRIBE and
// UNSUBSCRIBE commands queued and written in runs) leave Redis subscribed
// exactly to the channels that still have listeners, and every remaining
// listener gets the events published afterwards.
func TestConcurrentSubscribesQueued(t *testing.T) {
	redistest.Each(t, testConcurrentSubscribesQueued)
}

func testConcurrentSubscribesQueued(t *testing.T, rdb redis.UniversalClient) {
	b := New(rdb, redistest.Prefix(), 10)
	s := NewSubscriber(b, logx.Discard())
	defer s.Close()
	ctx := context.Background()
	users := make([]id.ID, 8)
	for i := range users {
		users[i] = id.New()
	}
	got := make([]atomic.Int32, 48)
	kept := make([]int, 48) // the user each goroutine still listens to, or -1
	var wg sync.WaitGroup
	for g := range 48 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			kept[g] = -1
			for round := range 6 {
				u := (g + round) % len(users)
				un, err := s.SubscribeUser(ctx, users[u], func(*realtimev1.SubscribeResponse) { got[g].Add(1) })
				if err != nil {
					t.Error(err)
					return
				}
				// Goroutines 0–15 keep their last subscription: every
				// user keeps a listener or two.
				if round == 5 && g < 16 {
					kept[g] = u
					continue
				}
				un()
			}
		}()
	}
	wg.Wait()
	listening := map[int]bool{}
	for _, u := range kept {
		if u >= 0 {
			listening[u] = true
		}
	}
	for u := range users {
		want := int64(0)
		if listening[u] {
			want = 1
		}
		waitSubs(t, b, b.UserChannel(users[u]), want)
	}
	if s.Channels() != len(listening) {
		t.Fatalf("%d channels, want %d", s.Channels(), len(listening))
	}
	for u := range listening {
		if err := b.PublishToUser(ctx, users[u], note("x")); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for g, u := range kept {
		for u >= 0 && got[g].Load() < 1 {
			if time.Now().After(deadline) {
				t.Fatalf("listener %d (user %d) got no event", g, u)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	for _, u := range users {
		rdb.Del(ctx, b.LogKey(u), b.seqKey(u))
	}
}
