package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/infliq/infliq/backend/platform/bus"
)

// The consumer reads the record streams (one per shard) as one member of
// the consumer group "notify": every notify replica is a member, each
// record goes to one of them. A record is acknowledged and deleted only
// after the transaction that applied it committed; a consumer that dies
// holding records leaves them pending, and another member claims them
// (XAUTOCLAIM) once they sat idle for claimIdle. Applying is idempotent on
// the record id, so a record applied but not acknowledged is skipped when
// it comes again.
const (
	consumerGroup = "notify"
	readCount     = 256
	readBlock     = 2 * time.Second
	claimIdle     = 30 * time.Second
	claimEvery    = 10 * time.Second
	// maxAttempts: a record that failed this many times in one process is
	// dropped (logged), so one poison record does not stall its shard.
	maxAttempts = 5
	// DefaultLinger: after a read that did not fill a batch, the reader
	// waits this long and reads again before applying, so a storm is applied
	// in large batches (one statement and one realtime update per batch: on
	// a like storm the consumer's CPU per like fell about fourfold) at the
	// price of that much notification latency.
	DefaultLinger = 100 * time.Millisecond
)

// Consumer applies the bus records.
type Consumer struct {
	// Linger is DefaultLinger unless changed before Start (0: none).
	Linger time.Duration
	s      *Service
	rdb    redis.UniversalClient
	b      *bus.Redis
	name   string
	mu     sync.Mutex
	fails  map[string]int
	wg     sync.WaitGroup
}

// NewConsumer returns a consumer named uniquely for this process.
func (s *Service) NewConsumer(rdb redis.UniversalClient, b *bus.Redis) *Consumer {
	host, _ := os.Hostname()
	var r [4]byte
	_, _ = rand.Read(r[:])
	return &Consumer{Linger: DefaultLinger, s: s, rdb: rdb, b: b, name: host + "-" + hex.EncodeToString(r[:]), fails: map[string]int{}}
}

// Start runs one reader per shard until ctx ends; Wait waits for them.
func (c *Consumer) Start(ctx context.Context) {
	for shard := range bus.RecordShards {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.run(ctx, c.b.RecordKey(shard))
		}()
	}
}

// Wait returns once every reader stopped.
func (c *Consumer) Wait() { c.wg.Wait() }

func (c *Consumer) run(ctx context.Context, key string) {
	log := c.s.log.With("stream", key)
	backoff := time.Second
	for ctx.Err() == nil {
		// "0": records appended before the group existed are consumed too.
		err := c.rdb.XGroupCreateMkStream(ctx, key, consumerGroup, "0").Err()
		if err == nil || redis.HasErrorPrefix(err, "BUSYGROUP") {
			break
		}
		log.Warn("notify: creating the consumer group failed", "err", err)
		sleep(ctx, backoff)
	}
	lastClaim := time.Time{}
	for ctx.Err() == nil {
		if time.Since(lastClaim) >= claimEvery {
			lastClaim = time.Now()
			c.claim(ctx, key)
		}
		res, err := c.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: consumerGroup, Consumer: c.name,
			Streams: []string{key, ">"}, Count: readCount, Block: readBlock}).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if redis.HasErrorPrefix(err, "NOGROUP") { // the stream was deleted: recreate
				_ = c.rdb.XGroupCreateMkStream(ctx, key, consumerGroup, "0").Err()
			}
			log.Warn("notify: reading records failed", "err", err)
			sleep(ctx, backoff)
			continue
		}
		var msgs []redis.XMessage
		for _, st := range res {
			msgs = append(msgs, st.Messages...)
		}
		if len(msgs) < readCount && c.Linger > 0 {
			sleep(ctx, c.Linger)
			more, err := c.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: consumerGroup, Consumer: c.name,
				Streams: []string{key, ">"}, Count: int64(readCount - len(msgs)), Block: -1}).Result()
			if err == nil {
				for _, st := range more {
					msgs = append(msgs, st.Messages...)
				}
			}
		}
		c.process(ctx, key, msgs)
	}
}

// claim takes over records other members left pending too long.
func (c *Consumer) claim(ctx context.Context, key string) {
	start := "0-0"
	for ctx.Err() == nil {
		msgs, next, err := c.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: key, Group: consumerGroup,
			Consumer: c.name, MinIdle: claimIdle, Start: start, Count: readCount}).Result()
		if err != nil {
			if !errors.Is(err, redis.Nil) && ctx.Err() == nil {
				c.s.log.Warn("notify: claiming records failed", "stream", key, "err", err)
			}
			return
		}
		c.process(ctx, key, msgs)
		if next == "0-0" || len(msgs) == 0 {
			return
		}
		start = next
	}
}

// process applies a batch and acknowledges what was applied (or can never
// be). When the batch fails, each record is tried alone, so one bad record
// fails only itself; it stays pending, to be claimed and tried again.
func (c *Consumer) process(ctx context.Context, key string, msgs []redis.XMessage) {
	if len(msgs) == 0 {
		return
	}
	recs := make([]bus.Record, 0, len(msgs))
	var ids []string // stream ids to acknowledge
	recIDs := make([]string, 0, len(msgs))
	for _, m := range msgs {
		r, err := bus.ParseRecord(m.Values)
		if err != nil {
			c.s.log.Warn("notify: dropping an unreadable record", "stream", key, "entry", m.ID, "err", err)
			ids = append(ids, m.ID)
			continue
		}
		recs = append(recs, r)
		recIDs = append(recIDs, m.ID)
	}
	if err := c.s.Apply(ctx, recs); err == nil {
		ids = append(ids, recIDs...)
	} else if ctx.Err() == nil {
		c.s.log.Warn("notify: applying a batch failed, applying one by one", "n", len(recs), "err", err)
		for i, r := range recs {
			if err := c.s.Apply(ctx, recs[i:i+1]); err != nil {
				if c.failed(recIDs[i]) {
					c.s.log.Error("notify: dropping a record that keeps failing", "stream", key, "entry", recIDs[i], "kind", r.Kind, "err", err)
					ids = append(ids, recIDs[i])
				}
				continue
			}
			ids = append(ids, recIDs[i])
		}
	}
	if len(ids) == 0 {
		return
	}
	// XACK and XDEL go together: an applied record is no longer needed, and
	// deleting keeps the stream short (XADD's MAXLEN is only a safety cap).
	_, err := c.rdb.Pipelined(context.WithoutCancel(ctx), func(p redis.Pipeliner) error {
		p.XAck(ctx, key, consumerGroup, ids...)
		p.XDel(ctx, key, ids...)
		return nil
	})
	if err != nil {
		c.s.log.Warn("notify: acknowledging records failed (they will be skipped when delivered again)", "err", err)
	}
}

func (c *Consumer) failed(entry string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fails[entry]++
	if c.fails[entry] >= maxAttempts {
		delete(c.fails, entry)
		return true
	}
	return false
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
