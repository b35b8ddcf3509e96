package bus

import (
	"context"
	"errors"
	"hash/fnv"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/infliq/infliq/backend/platform/id"
)

// Records are the durable side of the bus: domain events (a like, a follow,
// a message, a missed call) that the owning services append after they
// commit, in the same round trip as their realtime publish, and that the
// notify tier consumes exactly once. Pub/sub delivers to whoever is
// listening now; a record waits in a Redis Stream, read by a consumer group
// (XREADGROUP, XACK, XAUTOCLAIM for entries a dead consumer held), until a
// consumer has applied it. Consumers make it exactly once by recording the
// record's ID in the same database transaction as its effect.

// Record kinds. A record names what happened, never who is told: the
// consumer decides (preferences, blocks, presence).
const (
	RecLike           = "like"            // Actor liked post Subject (owned by To[0])
	RecUnlike         = "unlike"          // Actor unliked post Subject (owned by To[0])
	RecComment        = "comment"         // Actor commented Item on post Subject (owned by To[0]); Text
	RecPost           = "post"            // Actor published post Subject; Text (mentions)
	RecFollow         = "follow"          // Actor followed To[0]
	RecUnfollow       = "unfollow"        // Actor unfollowed To[0]
	RecMessage        = "message"         // Actor sent message Item in chat Subject to To; Text
	RecCallStarted    = "call_started"    // Actor rings To[0] for call Subject; Tag audio|video
	RecCallMissed     = "call_missed"     // To[0] missed Actor's call Subject; Tag
	RecCallDeclined   = "call_declined"   // Actor declined To[0]'s call Subject; Tag
	RecCallEnded      = "call_ended"      // the ringing call Subject was answered or hung up
	RecBlock          = "block"           // Actor blocked To[0]
	RecSessionEnded   = "session_ended"   // Actor's session Tag ended (logout, revocation)
	RecAccountDeleted = "account_deleted" // Actor's account was deleted
	// A moderator's notice to To[0] (a warning); Text. Actor is the zero
	// ID: who moderated never travels to the user.
	RecModeration = "moderation"
)

// RecordTextMax bounds Record.Text in bytes (mentions and previews need no
// more).
const RecordTextMax = 1024

// RecordShards is the number of streams records are spread over (by
// recipient, so one user's records, say a like storm on their post, are
// read in one batch), each its own key and so its own Redis Cluster slot;
// consumers read every shard.
const RecordShards = 4

// recordMaxLen caps each stream (approximately) should no consumer run;
// consumers delete what they applied, so a healthy stream stays short.
const recordMaxLen = 1_000_000

// Record is one domain event.
type Record struct {
	// ID is the idempotency key; zero gets a fresh one on append.
	ID      id.ID
	Kind    string
	Actor   id.ID
	To      []id.ID
	Subject id.ID
	Item    id.ID
	Text    string
	Tag     string
	At      time.Time
}

// RecordKey is the stream of records of one shard.
func (b *Redis) RecordKey(shard int) string {
	return b.prefix + "ev:{" + strconv.Itoa(shard) + "}"
}

// RecordShard is the shard of a record: by its first recipient, else its
// actor.
func RecordShard(r *Record) int {
	k := r.Actor
	if len(r.To) > 0 {
		k = r.To[0]
	}
	h := fnv.New32a()
	_, _ = h.Write(k[:])
	return int(h.Sum32() % RecordShards)
}

// xadd queues r on p.
func (b *Redis) xadd(ctx context.Context, p redis.Cmdable, r *Record) *redis.StringCmd {
	if r.ID.IsZero() {
		r.ID = id.New()
	}
	if r.At.IsZero() {
		r.At = time.Now()
	}
	to := make([]string, len(r.To))
	for i, u := range r.To {
		to[i] = u.String()
	}
	vals := []any{"id", r.ID.String(), "k", r.Kind, "a", r.Actor.String(), "at", strconv.FormatInt(r.At.UnixMilli(), 10)}
	if len(to) > 0 {
		vals = append(vals, "to", strings.Join(to, ","))
	}
	if !r.Subject.IsZero() {
		vals = append(vals, "s", r.Subject.String())
	}
	if !r.Item.IsZero() {
		vals = append(vals, "i", r.Item.String())
	}
	if r.Text != "" {
		vals = append(vals, "t", truncUTF8(r.Text, RecordTextMax))
	}
	if r.Tag != "" {
		vals = append(vals, "g", r.Tag)
	}
	return p.XAdd(ctx, &redis.XAddArgs{Stream: b.RecordKey(RecordShard(r)), MaxLen: recordMaxLen, Approx: true, Values: vals})
}

// AppendRecords appends records in one round trip (records carried by
// publications go with their PublishMany).
func (b *Redis) AppendRecords(ctx context.Context, recs ...Record) error {
	if len(recs) == 0 {
		return nil
	}
	if len(recs) == 1 {
		return b.xadd(ctx, b.rdb, &recs[0]).Err()
	}
	_, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range recs {
			b.xadd(ctx, p, &recs[i])
		}
		return nil
	})
	return err
}

// ParseRecord reads a stream entry back; an entry that does not parse is
// an error (the consumer acknowledges and drops it).
func ParseRecord(values map[string]any) (Record, error) {
	str := func(k string) string { s, _ := values[k].(string); return s }
	var r Record
	var err error
	if r.ID, err = id.Parse(str("id")); err != nil {
		return r, errors.New("bus: record without id")
	}
	r.Kind = str("k")
	if r.Actor, err = id.Parse(str("a")); err != nil {
		return r, errors.New("bus: record without actor")
	}
	ms, err := strconv.ParseInt(str("at"), 10, 64)
	if err != nil {
		return r, errors.New("bus: record without time")
	}
	r.At = time.UnixMilli(ms)
	if to := str("to"); to != "" {
		for _, s := range strings.Split(to, ",") {
			u, err := id.Parse(s)
			if err != nil {
				return r, errors.New("bus: record with a bad recipient")
			}
			r.To = append(r.To, u)
		}
	}
	if s := str("s"); s != "" {
		if r.Subject, err = id.Parse(s); err != nil {
			return r, errors.New("bus: record with a bad subject")
		}
	}
	if s := str("i"); s != "" {
		if r.Item, err = id.Parse(s); err != nil {
			return r, errors.New("bus: record with a bad item")
		}
	}
	r.Text, r.Tag = str("t"), str("g")
	return r, nil
}

func truncUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// RecordAppender is implemented by publishers that carry records (*Redis).
type RecordAppender interface {
	AppendRecords(ctx context.Context, recs ...Record) error
}

// Online reports, per user, whether some process holds a live connection
// for them: a realtime process subscribes to a user's channel exactly while
// it holds one of their sockets or streams, so the channel's subscriber
// count is presence, with no extra state to keep or expire. On Redis
// Cluster classic pub/sub subscriptions live on the node the subscriber
// connected to, so every node is asked and the counts added.
func (b *Redis) Online(ctx context.Context, uids ...id.ID) ([]bool, error) {
	out := make([]bool, len(uids))
	if len(uids) == 0 {
		return out, nil
	}
	chans := make([]string, len(uids))
	for i, u := range uids {
		chans[i] = b.UserChannel(u)
	}
	add := func(m map[string]int64) {
		for i, c := range chans {
			if m[c] > 0 {
				out[i] = true
			}
		}
	}
	if cc, ok := b.rdb.(*redis.ClusterClient); ok {
		var mu = make(chan struct{}, 1)
		err := cc.ForEachShard(ctx, func(ctx context.Context, node *redis.Client) error {
			m, err := node.PubSubNumSub(ctx, chans...).Result()
			if err != nil {
				return err
			}
			mu <- struct{}{}
			add(m)
			<-mu
			return nil
		})
		return out, err
	}
	m, err := b.rdb.PubSubNumSub(ctx, chans...).Result()
	if err != nil {
		return nil, err
	}
	add(m)
	return out, nil
}

// PeekRecords returns the records waiting in every shard, oldest first per
// shard, without consuming them (tests and debugging).
func (b *Redis) PeekRecords(ctx context.Context) ([]Record, error) {
	var out []Record
	for s := range RecordShards {
		msgs, err := b.rdb.XRange(ctx, b.RecordKey(s), "-", "+").Result()
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			if r, err := ParseRecord(m.Values); err == nil {
				out = append(out, r)
			}
		}
	}
	return out, nil
}
