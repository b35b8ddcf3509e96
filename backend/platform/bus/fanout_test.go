package bus

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/infliq/infliq/backend/platform/cache/redistest"
	"github.com/infliq/infliq/backend/platform/id"
)

// cmdCounter counts the commands and round trips a client sends.
type cmdCounter struct {
	mu         sync.Mutex
	names      map[string]int
	roundTrips int
}

func (c *cmdCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *cmdCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.add([]redis.Cmder{cmd})
		return next(ctx, cmd)
	}
}

func (c *cmdCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.add(cmds)
		return next(ctx, cmds)
	}
}

func (c *cmdCounter) add(cmds []redis.Cmder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	counted := false
	for _, cmd := range cmds {
		switch n := strings.ToLower(cmd.Name()); n {
		case "hello", "client", "auth", "select": // a new pooled connection's set-up
		default:
			c.names[n]++
			counted = true
		}
	}
	if counted {
		c.roundTrips++
	}
}

func (c *cmdCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.names, c.roundTrips = map[string]int{}, 0
}

// TestFanOutOneCallPerEvent: two events for six users each cost one round
// trip holding one script call per event (not one per user), and every
// user still gets its own gap-free sequence, log entries and live copies.
func TestFanOutOneCallPerEvent(t *testing.T) {
	rdb := redistest.New(t)
	b := New(rdb, redistest.Prefix(), 10)
	ctx := context.Background()
	users := make([]id.ID, 6)
	chans := make([]string, len(users))
	for i := range users {
		users[i] = id.New()
		chans[i] = b.UserChannel(users[i])
	}
	sub := rdb.Subscribe(ctx, chans...)
	defer sub.Close()
	for range users {
		if _, err := sub.Receive(ctx); err != nil { // subscriptions confirmed
			t.Fatal(err)
		}
	}
	cc := &cmdCounter{}
	cc.reset()
	rdb.AddHook(cc)
	// The script is cached after the first use; count from the second.
	if err := b.PublishToUsers(ctx, users, note("warm")); err != nil {
		t.Fatal(err)
	}
	cc.reset()
	if err := b.PublishMany(ctx, []Publication{{Users: users, Event: note("a")}, {Users: users, Event: note("b")}}); err != nil {
		t.Fatal(err)
	}
	if cc.roundTrips != 1 || cc.names["evalsha"] != 2 || len(cc.names) != 1 {
		t.Fatalf("%d round trips, commands %v; want 1 round trip of 2 evalsha", cc.roundTrips, cc.names)
	}
	got := map[string][]string{}
	for range 3 * len(users) {
		m, err := sub.ReceiveMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := Decode(m.Payload)
		if err != nil {
			t.Fatal(err)
		}
		got[m.Channel] = append(got[m.Channel], ev.GetNotification().GetId()+":"+string(rune('0'+ev.Sequence)))
	}
	for i, ch := range chans {
		if strings.Join(got[ch], ",") != "warm:1,a:2,b:3" {
			t.Fatalf("user %d got %v", i, got[ch])
		}
		evs, complete, err := b.Replay(ctx, users[i], 1, 10)
		if err != nil || !complete || len(evs) != 2 || evs[0].GetNotification().GetId() != "a" || evs[1].Sequence != 3 {
			t.Fatalf("user %d replay: %v %v %v", i, evs, complete, err)
		}
		rdb.Del(ctx, b.LogKey(users[i]), b.seqKey(users[i]))
	}
}

// TestSlotGroups: on Redis Cluster no call may span two hash slots; users
// whose keys share a hash tag share a call.
func TestSlotGroups(t *testing.T) {
	if KeySlot("123456789") != 0x31c3 || KeySlot("foo") != 12182 || KeySlot("{user1000}.following") != KeySlot("{user1000}.followers") || KeySlot("a{}b") != KeySlot("a{}b") {
		t.Fatal("KeySlot disagrees with Redis Cluster")
	}
	users := []id.ID{id.New(), id.New(), id.New(), id.New()}
	tagged := New(nil, "rt:{all}:", 10)
	tagged.SlotGroups = true
	if g := tagged.groups(users); len(g) != 1 || len(g[0]) != 4 {
		t.Fatalf("one hash tag: %d groups", len(g))
	}
	plain := New(nil, "rt:", 10)
	plain.SlotGroups = true
	seen := 0
	for _, g := range plain.groups(users) {
		slot := KeySlot(plain.seqKey(g[0]))
		for _, u := range g {
			if KeySlot(plain.seqKey(u)) != slot {
				t.Fatal("a call spans two slots")
			}
			seen++
		}
	}
	if seen != len(users) {
		t.Fatalf("%d users grouped of %d", seen, len(users))
	}
	plain.SlotGroups = false
	if g := plain.groups(users); len(g) != 1 {
		t.Fatal("one Redis: one call per event")
	}
}
