package bus

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	realtimev1 "github.com/infliq/infliq/backend/gen/infliq/realtime/v1"
	"github.com/infliq/infliq/backend/platform/cache/redistest"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/logx"
)

// waitSubs waits until Redis reports n subscribers on channel (summed over
// a cluster's masters: each counts only its own clients).
func waitSubs(t *testing.T, b *Redis, channel string, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := numSub(b.rdb, channel)
		if err == nil && got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("channel %s: want %d subscribers, have %v (%v)", channel, n, got, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func numSub(rdb redis.UniversalClient, channel string) (int64, error) {
	ctx := context.Background()
	c, ok := rdb.(*redis.ClusterClient)
	if !ok {
		m, err := rdb.PubSubNumSub(ctx, channel).Result()
		return m[channel], err
	}
	var mu sync.Mutex
	var total int64
	err := c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		m, err := n.PubSubNumSub(ctx, channel).Result()
		mu.Lock()
		total += m[channel]
		mu.Unlock()
		return err
	})
	return total, err
}

func TestSubscriberSharesOneRedisSubscription(t *testing.T) {
	redistest.Each(t, testSubscriberSharesOneRedisSubscription)
}

func testSubscriberSharesOneRedisSubscription(t *testing.T, rdb redis.UniversalClient) {
	b := New(rdb, redistest.Prefix(), 10)
	s := NewSubscriber(b, logx.Discard())
	defer s.Close()
	ctx := context.Background()
	uid := id.New()
	got1, got2 := make(chan uint64, 10), make(chan uint64, 10)
	un1, err := s.SubscribeUser(ctx, uid, func(ev *realtimev1.SubscribeResponse) { got1 <- ev.Sequence })
	if err != nil {
		t.Fatal(err)
	}
	un2, err := s.SubscribeUser(ctx, uid, func(ev *realtimev1.SubscribeResponse) { got2 <- ev.Sequence })
	if err != nil {
		t.Fatal(err)
	}
	waitSubs(t, b, b.UserChannel(uid), 1) // one Redis subscription for two listeners
	if err := b.PublishToUser(ctx, uid, note("a")); err != nil {
		t.Fatal(err)
	}
	if <-got1 != 1 || <-got2 != 1 {
		t.Fatal("both listeners get sequence 1")
	}
	un1()
	un1() // idempotent
	if err := b.PublishToUser(ctx, uid, note("b")); err != nil {
		t.Fatal(err)
	}
	if <-got2 != 2 {
		t.Fatal("remaining listener gets sequence 2")
	}
	if s.Channels() != 1 {
		t.Fatal("still subscribed")
	}
	un2()
	waitSubs(t, b, b.UserChannel(uid), 0)
	if s.Channels() != 0 {
		t.Fatal("unsubscribed with the last listener")
	}
	if seq, err := b.Sequence(ctx, uid); err != nil || seq != 2 {
		t.Fatalf("sequence %d %v", seq, err)
	}
	if seq, err := b.Sequence(ctx, id.New()); err != nil || seq != 0 {
		t.Fatalf("fresh sequence %d %v", seq, err)
	}
	rdb.Del(ctx, b.LogKey(uid), b.seqKey(uid))
}

func TestPublishToUsersSequencesEachUser(t *testing.T) {
	redistest.Each(t, testPublishToUsersSequencesEachUser)
}

func testPublishToUsersSequencesEachUser(t *testing.T, rdb redis.UniversalClient) {
	b := New(rdb, redistest.Prefix(), 10)
	ctx := context.Background()
	u1, u2 := id.New(), id.New()
	if err := b.PublishToUser(ctx, u1, note("first")); err != nil {
		t.Fatal(err)
	}
	// NOSCRIPT fallback: the pipeline must work on a Redis that lost its script cache.
	rdb.ScriptFlush(ctx)
	for i := 0; i < 2; i++ {
		if err := b.PublishToUsers(ctx, []id.ID{u1, u2}, note("both")); err != nil {
			t.Fatal(err)
		}
	}
	for uid, want := range map[id.ID]uint64{u1: 3, u2: 2} {
		evs, complete, err := b.Replay(ctx, uid, 0, 10)
		if err != nil || !complete || uint64(len(evs)) != want || evs[len(evs)-1].Sequence != want || evs[len(evs)-1].GetNotification().GetId() != "both" {
			t.Fatalf("user log: %v %v %v", evs, complete, err)
		}
	}
	rdb.Del(ctx, b.LogKey(u1), b.seqKey(u1))
	rdb.Del(ctx, b.LogKey(u2), b.seqKey(u2))
}

// TestSubscriberSurvivesConnectionLoss: when Redis drops the pub/sub
// connection, the subscriber reconnects and re-subscribes by itself.
// namedSubscriber is a subscriber on a Redis client of its own, named
// uniquely, so a test can find (and kill) just its connections in CLIENT LIST.
func namedSubscriber(t *testing.T, label string) (*redis.Client, string, *Redis, *Subscriber) {
	t.Helper()
	opts, err := redis.ParseURL(redistest.URL())
	if err != nil {
		t.Fatal(err)
	}
	name := label + strings.ReplaceAll(redistest.Prefix(), ":", "")
	opts.ClientName = name
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	b := New(rdb, redistest.Prefix(), 10)
	s := NewSubscriber(b, logx.Discard())
	t.Cleanup(func() { s.Close() })
	return rdb, name, b, s
}

func TestSubscriberSurvivesConnectionLoss(t *testing.T) {
	rdb, name, b, s := namedSubscriber(t, "bustest")
	ctx := context.Background()
	uid := id.New()
	got := make(chan string, 100)
	un, err := s.SubscribeUser(ctx, uid, func(ev *realtimev1.SubscribeResponse) { got <- ev.GetNotification().GetId() })
	if err != nil {
		t.Fatal(err)
	}
	defer un()
	waitSubs(t, b, b.UserChannel(uid), 1)
	clients, err := rdb.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for _, line := range strings.Split(clients, "\n") {
		if !strings.Contains(line, " name="+name+" ") || !strings.Contains(line, " sub=1 ") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if cid, ok := strings.CutPrefix(f, "id="); ok {
				if n, _ := rdb.ClientKillByFilter(ctx, "ID", cid).Result(); n > 0 {
					killed++
				}
			}
		}
	}
	if killed != 1 {
		t.Fatalf("killed %d pub/sub connections, want 1", killed)
	}
	// Publish until the re-subscribed listener hears one (bounded).
	deadline := time.Now().Add(15 * time.Second)
	for {
		if err := b.PublishToUser(ctx, uid, note("after")); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-got:
			if got != "after" {
				t.Fatalf("got %q", got)
			}
			rdb.Del(ctx, b.LogKey(uid), b.seqKey(uid))
			return
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no event after the connection was killed")
		}
	}
}

// An idle subscription is pinged (a connection that died silently would
// fail the ping and be replaced); one that keeps receiving is not.
func TestSubscriberPingsWhenIdle(t *testing.T) {
	rdb, name, b, s := namedSubscriber(t, "bushealth")
	ctx := context.Background()
	uid := id.New()
	un, err := s.SubscribeUser(ctx, uid, func(*realtimev1.SubscribeResponse) {})
	if err != nil {
		t.Fatal(err)
	}
	defer un()
	waitSubs(t, b, b.UserChannel(uid), 1)
	// The pub/sub connection's last command, from CLIENT LIST.
	lastCmd := func() string {
		list, err := rdb.ClientList(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(list, "\n") {
			if strings.Contains(line, " name="+name+" ") && strings.Contains(line, " sub=1 ") {
				for _, f := range strings.Fields(line) {
					if c, ok := strings.CutPrefix(f, "cmd="); ok {
						return c
					}
				}
			}
		}
		return ""
	}
	if c := lastCmd(); c != "subscribe" {
		t.Fatalf("last command %q right after subscribing, want subscribe", c)
	}
	deadline := time.Now().Add(3*healthEvery + time.Second)
	for lastCmd() != "ping" {
		if time.Now().After(deadline) {
			t.Fatalf("no ping on an idle subscription within %s", 3*healthEvery)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
