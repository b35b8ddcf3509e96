// Package bus is the realtime event bus on Redis. Services publish after
// they commit; the realtime tier subscribes and delivers to sockets and
// streams. Per-user events get a per-user sequence number and are appended
// to a bounded per-user Redis Stream, so a client reconnecting with its last
// sequence can be replayed what it missed. Per-chat events (typing) are
// ephemeral.
package bus

import (
	"context"
	"fmt"
	"strconv"
	"unsafe"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	realtimev1 "github.com/infliq/infliq/backend/gen/infliq/realtime/v1"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/telemetry"
)

// Publisher is what services depend on.
type Publisher interface {
	// PublishToUser sequences ev for uid, logs it and publishes it.
	PublishToUser(ctx context.Context, uid id.ID, ev *realtimev1.SubscribeResponse) error
	// PublishToUsers does PublishToUser for each user in one round trip.
	PublishToUsers(ctx context.Context, uids []id.ID, ev *realtimev1.SubscribeResponse) error
	// PublishToChat publishes an ephemeral event to everyone watching chatID.
	PublishToChat(ctx context.Context, chatID id.ID, ev *realtimev1.SubscribeResponse) error
}

// Redis implements Publisher on one Redis or a Redis Cluster.
type Redis struct {
	rdb    redis.UniversalClient
	prefix string
	logLen int64
	// Trace, when set, carries each event's trace context to its delivery
	// (see envelope); nil publishes bare events.
	Trace *telemetry.Tracing
	// SlotGroups makes each publish call touch one Redis Cluster hash slot
	// (New sets it on a cluster client); on one Redis an event's recipients
	// share one call.
	SlotGroups bool
}

// traceMark opens a payload that carries a W3C traceparent (55 bytes)
// before the protobuf event. A protobuf message never starts with a zero
// byte (field number 0 is invalid), so bare and traced payloads coexist.
const (
	traceMark = "\x00"
	tpLen     = 55
)

// envelope opens a "bus.publish" span under parent (or ctx's span) and
// returns the payload of raw, traced when that span is sampled. The caller
// ends the span once the publish is done.
func (b *Redis) envelope(ctx context.Context, parent trace.SpanContext, raw []byte) (string, trace.Span) {
	ctx, span := b.Trace.Start(ctx, parent, "bus.publish")
	if tp := b.Trace.Traceparent(ctx); len(tp) == tpLen {
		return traceMark + tp + string(raw), span
	}
	return string(raw), span
}

// splitTrace separates a payload's traceparent (or "") from its event.
func splitTrace(p string) (tp, event string) {
	if len(p) > tpLen && p[0] == 0 {
		return p[1 : 1+tpLen], p[1+tpLen:]
	}
	return "", p
}

// New returns a bus whose keys start with prefix (e.g. "rt:") and whose
// per-user logs keep about logLen events.
func New(rdb redis.UniversalClient, prefix string, logLen int64) *Redis {
	_, cluster := rdb.(*redis.ClusterClient)
	return &Redis{rdb: rdb, prefix: prefix, logLen: logLen, SlotGroups: cluster}
}

// UserChannel is the pub/sub channel of one user's events.
func (b *Redis) UserChannel(uid id.ID) string { return b.prefix + "user:" + uid.String() }

// ChatChannel is the pub/sub channel of one chat's ephemeral events.
func (b *Redis) ChatChannel(chatID id.ID) string { return b.prefix + "chat:" + chatID.String() }

// LogKey is the Redis Stream holding one user's recent events. A user's
// log and sequence share the hash tag {uid}: one Redis Cluster slot.
func (b *Redis) LogKey(uid id.ID) string { return b.prefix + "log:{" + uid.String() + "}" }

func (b *Redis) seqKey(uid id.ID) string { return b.prefix + "seq:{" + uid.String() + "}" }

// publishEvent delivers one event to every recipient in one call: per
// recipient it assigns the next sequence, appends to the log and publishes,
// atomically, so subscribers never see sequence gaps that the log lacks.
// KEYS are the recipients' (seq, log) pairs; ARGV is the payload, the log
// length, then the recipients' channels (pub/sub channels are not keys,
// also on Redis Cluster).
var publishEvent = redis.NewScript(`
local payload, maxlen = ARGV[1], ARGV[2]
for i = 1, #KEYS, 2 do
  local seq = redis.call('INCR', KEYS[i])
  redis.call('XADD', KEYS[i + 1], 'MAXLEN', '~', maxlen, seq .. '-1', 'e', payload)
  redis.call('PUBLISH', ARGV[2 + (i + 1) / 2], seq .. ':' .. payload)
end
return #KEYS / 2
`)

// PublishToUser implements Publisher.
func (b *Redis) PublishToUser(ctx context.Context, uid id.ID, ev *realtimev1.SubscribeResponse) error {
	return b.PublishMany(ctx, []Publication{{Users: []id.ID{uid}, Event: ev}})
}

// PublishToUsers implements Publisher: one round trip, each user getting
// its own sequence number.
func (b *Redis) PublishToUsers(ctx context.Context, uids []id.ID, ev *realtimev1.SubscribeResponse) error {
	return b.PublishMany(ctx, []Publication{{Users: uids, Event: ev}})
}

// Publication is one event for some users.
type Publication struct {
	Users []id.ID
	Event *realtimev1.SubscribeResponse
	// Trace is the span the event belongs to when the publish runs apart
	// from its request (a batched chat send); zero uses ctx's.
	Trace trace.SpanContext
	// Records are durable domain events appended in the same round trip
	// (see records.go); a publication may carry records only.
	Records []Record
}

// ManyPublisher publishes several events in one round trip, in order: a
// user's sequence numbers follow the order of pubs. *Redis implements it;
// callers holding a Publisher check for it.
type ManyPublisher interface {
	PublishMany(ctx context.Context, pubs []Publication) error
}

// PublishAll publishes pubs in order, in one round trip when pub is a
// ManyPublisher, else one at a time (stopping at the first error).
func PublishAll(ctx context.Context, pub Publisher, pubs []Publication) error {
	if mp, ok := pub.(ManyPublisher); ok {
		return mp.PublishMany(ctx, pubs)
	}
	for _, p := range pubs {
		if len(p.Users) > 0 {
			if err := pub.PublishToUsers(ctx, p.Users, p.Event); err != nil {
				return err
			}
		}
		if ra, ok := pub.(RecordAppender); ok && len(p.Records) > 0 {
			if err := ra.AppendRecords(ctx, p.Records...); err != nil {
				return err
			}
		}
	}
	return nil
}

// scriptCall is one publishEvent call.
type scriptCall struct {
	keys []string
	args []any
}

// calls turns pubs into publishEvent calls: one per event, whatever the
// number of recipients (the payload travels once). With SlotGroups set,
// one per event and Redis Cluster hash slot, so no call spans two slots.
func (b *Redis) calls(ctx context.Context, pubs []Publication) (out []scriptCall, spans []trace.Span, err error) {
	now := timestamppb.Now()
	logLen := strconv.FormatInt(b.logLen, 10)
	for _, p := range pubs {
		if len(p.Users) == 0 {
			continue
		}
		ev := p.Event
		if ev.Time == nil {
			ev.Time = now
		}
		ev.Sequence = 0 // assigned by Redis
		raw, err := proto.Marshal(ev)
		if err != nil {
			return nil, spans, err
		}
		payload, span := b.envelope(ctx, p.Trace, raw)
		spans = append(spans, span)
		for _, group := range b.groups(p.Users) {
			c := scriptCall{keys: make([]string, 0, 2*len(group)), args: make([]any, 0, 2+len(group))}
			c.args = append(c.args, payload, logLen)
			for _, uid := range group {
				c.keys = append(c.keys, b.seqKey(uid), b.LogKey(uid))
				c.args = append(c.args, b.UserChannel(uid))
			}
			out = append(out, c)
		}
	}
	return out, spans, nil
}

// groups splits users by hash slot when SlotGroups is set; else they are
// one group.
func (b *Redis) groups(users []id.ID) [][]id.ID {
	if !b.SlotGroups || len(users) == 1 {
		return [][]id.ID{users}
	}
	bySlot := map[uint16]int{}
	var out [][]id.ID
	for _, uid := range users {
		slot := KeySlot(b.seqKey(uid))
		i, ok := bySlot[slot]
		if !ok {
			i = len(out)
			bySlot[slot] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], uid)
	}
	return out
}

// PublishMany does PublishToUsers for each publication in one pipelined
// round trip with one script call per event (a batch of committed chat
// messages costs one Redis round trip, and one call per message however
// many members the chat has; on a cluster, one per message and slot).
func (b *Redis) PublishMany(ctx context.Context, pubs []Publication) error {
	calls, spans, err := b.calls(ctx, pubs)
	for _, sp := range spans {
		defer sp.End()
	}
	if err != nil {
		return err
	}
	var recs []*Record
	for i := range pubs {
		for j := range pubs[i].Records {
			recs = append(recs, &pubs[i].Records[j])
		}
	}
	if len(calls) == 0 {
		if len(recs) == 0 {
			return nil
		}
		rs := make([]Record, len(recs))
		for i, r := range recs {
			rs[i] = *r
		}
		return b.AppendRecords(ctx, rs...)
	}
	sha := true
	for len(calls) > 0 {
		eval := func(p redis.Scripter, c scriptCall) *redis.Cmd {
			if sha {
				return publishEvent.EvalSha(ctx, p, c.keys, c.args...)
			}
			return publishEvent.Eval(ctx, p, c.keys, c.args...)
		}
		cmds := make([]*redis.Cmd, len(calls))
		var xadds []*redis.StringCmd
		if len(calls) == 1 && len(recs) == 0 { // no pipeline bookkeeping for the common case
			cmds[0] = eval(b.rdb, calls[0])
			err = cmds[0].Err()
		} else {
			_, err = b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i, c := range calls {
					cmds[i] = eval(p, c)
				}
				for _, r := range recs {
					xadds = append(xadds, b.xadd(ctx, p, r))
				}
				return nil
			})
		}
		recs = nil // appended once, whatever the scripts' fate
		if err == nil {
			return nil
		}
		for _, c := range xadds {
			if e := c.Err(); e != nil {
				return fmt.Errorf("bus: append records: %w", e)
			}
		}
		// A node seeing the script for the first time refuses its calls
		// with NOSCRIPT (on a cluster, the other nodes' calls ran). Resend
		// just those, with the body; a user's calls share a node, so their
		// order holds.
		var retry []scriptCall
		for i, c := range cmds {
			if e := c.Err(); e != nil {
				if !sha || !redis.HasErrorPrefix(e, "NOSCRIPT") {
					return fmt.Errorf("bus: publish to users: %w", e)
				}
				retry = append(retry, calls[i])
			}
		}
		if len(retry) == 0 {
			return fmt.Errorf("bus: publish to users: %w", err)
		}
		calls, sha = retry, false
	}
	return nil
}

// PublishToChat implements Publisher.
func (b *Redis) PublishToChat(ctx context.Context, chatID id.ID, ev *realtimev1.SubscribeResponse) error {
	if ev.Time == nil {
		ev.Time = timestamppb.Now()
	}
	raw, err := proto.Marshal(ev)
	if err != nil {
		return err
	}
	payload, span := b.envelope(ctx, trace.SpanContext{}, raw)
	defer span.End()
	return b.rdb.Publish(ctx, b.ChatChannel(chatID), "0:"+payload).Err()
}

// Decode parses a pub/sub payload ("<seq>:<protobuf>") into an event.
func Decode(payload string) (*realtimev1.SubscribeResponse, error) {
	ev, _, err := DecodeTraced(payload)
	return ev, err
}

// DecodeTraced is Decode that also returns the event's traceparent ("" when
// it carries none).
func DecodeTraced(payload string) (*realtimev1.SubscribeResponse, string, error) {
	i := 0
	for i < len(payload) && payload[i] != ':' {
		i++
	}
	if i == len(payload) {
		return nil, "", fmt.Errorf("bus: malformed payload")
	}
	seq, err := strconv.ParseUint(payload[:i], 10, 64)
	if err != nil {
		return nil, "", fmt.Errorf("bus: malformed sequence")
	}
	tp, event := splitTrace(payload[i+1:])
	var ev realtimev1.SubscribeResponse
	// Read in place: Unmarshal neither modifies nor keeps its input (no
	// alias option), so the payload is not copied for every delivery.
	if err := proto.Unmarshal(unsafe.Slice(unsafe.StringData(event), len(event)), &ev); err != nil {
		return nil, "", fmt.Errorf("bus: %w", err)
	}
	ev.Sequence = seq
	return &ev, tp, nil
}

// Replay returns the logged events of uid after sequence after, oldest first,
// and whether the log still reaches back that far (false means the client
// must resync).
func (b *Redis) Replay(ctx context.Context, uid id.ID, after uint64, max int64) ([]*realtimev1.SubscribeResponse, bool, error) {
	entries, err := b.rdb.XRangeN(ctx, b.LogKey(uid), "("+strconv.FormatUint(after, 10)+"-1", "+", max).Result()
	if err != nil {
		return nil, false, err
	}
	complete := true
	if after > 0 {
		first, err := b.rdb.XRangeN(ctx, b.LogKey(uid), "-", "+", 1).Result()
		if err != nil {
			return nil, false, err
		}
		// The oldest retained event must be at most after+1, or some were trimmed.
		if len(first) == 0 {
			cur, _ := b.rdb.Get(ctx, b.seqKey(uid)).Uint64()
			complete = cur <= after
		} else if s := streamSeq(first[0].ID); s > after+1 {
			complete = false
		}
	}
	out := make([]*realtimev1.SubscribeResponse, 0, len(entries))
	for _, e := range entries {
		raw, _ := e.Values["e"].(string)
		_, raw = splitTrace(raw)
		var ev realtimev1.SubscribeResponse
		if err := proto.Unmarshal([]byte(raw), &ev); err != nil {
			continue
		}
		ev.Sequence = streamSeq(e.ID)
		out = append(out, &ev)
	}
	return out, complete, nil
}

func streamSeq(streamID string) uint64 {
	for i := 0; i < len(streamID); i++ {
		if streamID[i] == '-' {
			n, _ := strconv.ParseUint(streamID[:i], 10, 64)
			return n
		}
	}
	return 0
}
