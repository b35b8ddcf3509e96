package bus

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/proto"

	"github.com/infliq/infliq/backend/platform/cache/redistest"
	"github.com/infliq/infliq/backend/platform/id"
)

// perRecipient is the previous fan-out (one script call per recipient),
// kept here only to compare against in the same run.
var perRecipient = redis.NewScript(`
local seq = redis.call('INCR', KEYS[1])
local payload = ARGV[1]
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], seq .. '-1', 'e', payload)
redis.call('PUBLISH', KEYS[3], seq .. ':' .. payload)
return seq
`)

func publishPerRecipient(ctx context.Context, b *Redis, users []id.ID, raw string) error {
	_, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, uid := range users {
			perRecipient.EvalSha(ctx, p, []string{b.seqKey(uid), b.LogKey(uid), b.UserChannel(uid)}, raw, strconv.FormatInt(b.logLen, 10))
		}
		return nil
	})
	return err
}

// redisCPU is the server's CPU seconds so far (meaningful on a Redis of
// one's own: REDIS_TEST_URL).
func redisCPU(ctx context.Context, rdb *redis.Client) float64 {
	info, _ := rdb.Info(ctx, "cpu").Result()
	var sum float64
	for _, l := range strings.Split(info, "\r\n") {
		for _, k := range []string{"used_cpu_sys:", "used_cpu_user:"} {
			if v, ok := strings.CutPrefix(l, k); ok {
				f, _ := strconv.ParseFloat(v, 64)
				sum += f
			}
		}
	}
	return sum
}

// BenchmarkFanOut publishes one chat message to n members, one event per
// op: Redis calls per message and Redis CPU per message, the script per
// event against the script per recipient.
func BenchmarkFanOut(b *testing.B) {
	rdb := redistest.New(b)
	bus := New(rdb, redistest.Prefix(), 100)
	ctx := context.Background()
	ev := note("m")
	raw, _ := proto.Marshal(ev)
	_ = perRecipient.Load(ctx, rdb).Err()
	_ = publishEvent.Load(ctx, rdb).Err()
	for _, n := range []int{2, 8} {
		users := make([]id.ID, n)
		for i := range users {
			users[i] = id.New()
		}
		for _, mode := range []string{"per-recipient", "per-event"} {
			b.Run(fmt.Sprintf("%s/members=%d", mode, n), func(b *testing.B) {
				cc := &cmdCounter{}
				cc.reset()
				rdb.AddHook(cc)
				cpu0 := redisCPU(ctx, rdb)
				cc.reset()
				b.ResetTimer()
				for range b.N {
					var err error
					if mode == "per-event" {
						err = bus.PublishToUsers(ctx, users, ev)
					} else {
						err = publishPerRecipient(ctx, bus, users, string(raw))
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				calls := cc.names["evalsha"]
				b.ReportMetric(float64(calls)/float64(b.N), "calls/msg")
				b.ReportMetric((redisCPU(ctx, rdb)-cpu0)*1e6/float64(b.N), "redis-µs/msg")
			})
		}
		for _, uid := range users {
			rdb.Del(ctx, bus.LogKey(uid), bus.seqKey(uid))
		}
	}
}
