package bus

import (
	"context"
	"log/slog"
	"sync"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	realtimev1 "github.com/infliq/infliq/backend/gen/infliq/realtime/v1"
	"github.com/infliq/infliq/backend/platform/id"
)

// Listener receives the events of one channel. It runs on the subscriber's
// dispatch goroutine and must not block; the event is shared by every
// listener and must not be modified.
type Listener func(ev *realtimev1.SubscribeResponse)

type listener struct{ fn Listener }

// Subscriber is the receiving side of the bus for one process. Each channel
// is subscribed in Redis once, however many local sockets and streams
// listen on it (reference counted), over one pub/sub connection that
// go-redis re-establishes and re-subscribes after a failure. Events published
// while the connection was down are not redelivered here: typed streams fill
// such gaps from the per-user log (Replay).
type Subscriber struct {
	b   *Redis
	ps  *redis.PubSub
	log *slog.Logger

	mu        sync.Mutex
	listeners map[string][]*listener // copy-on-write, so dispatch never allocates
	// Redis (un)subscribe commands not yet written, in the order the
	// listener map changed. One caller at a time writes the queue, each
	// run of one kind as one command: a connect storm's subscriptions go
	// out several per write, and dispatch never waits on a write.
	queue   []subCmd
	writing bool
	pending map[string]*subWait // channels whose SUBSCRIBE is not written yet
	done    chan struct{}
}

type subCmd struct {
	channel string
	unsub   bool
	wait    *subWait // the subscribers waiting for this SUBSCRIBE
}

// subWait is closed once a SUBSCRIBE is written (err its outcome).
type subWait struct {
	done chan struct{}
	err  error
}

// NewSubscriber starts the dispatch loop; Close stops it.
func NewSubscriber(b *Redis, log *slog.Logger) *Subscriber {
	s := &Subscriber{b: b, ps: b.rdb.Subscribe(context.Background()), log: log,
		listeners: map[string][]*listener{}, pending: map[string]*subWait{}, done: make(chan struct{})}
	ch := s.ps.Channel(redis.WithChannelSize(4096))
	go s.run(ch)
	return s
}

func (s *Subscriber) run(ch <-chan *redis.Message) {
	defer close(s.done)
	for m := range ch {
		s.mu.Lock()
		ls := s.listeners[m.Channel]
		s.mu.Unlock()
		if len(ls) == 0 {
			continue
		}
		ev, tp, err := DecodeTraced(m.Payload)
		if err != nil {
			s.log.Warn("bus: undecodable event", "channel", m.Channel, "err", err)
			continue
		}
		var span trace.Span
		if tp != "" {
			_, span = s.b.Trace.Start(context.Background(), s.b.Trace.FromTraceparent(tp), "realtime.deliver")
		}
		for _, l := range ls {
			l.fn(ev)
		}
		if span != nil {
			span.End()
		}
	}
}

// Bus is the publisher whose channels this subscriber reads.
func (s *Subscriber) Bus() *Redis { return s.b }

// SubscribeUser listens to uid's events.
func (s *Subscriber) SubscribeUser(ctx context.Context, uid id.ID, fn Listener) (func(), error) {
	return s.subscribe(ctx, s.b.UserChannel(uid), fn)
}

// SubscribeChat listens to chatID's ephemeral events.
func (s *Subscriber) SubscribeChat(ctx context.Context, chatID id.ID, fn Listener) (func(), error) {
	return s.subscribe(ctx, s.b.ChatChannel(chatID), fn)
}

// subscribe adds fn to channel and returns the function removing it. The
// Redis subscription is made by the first listener and dropped with the
// last. It returns once the SUBSCRIBE is written (also to a listener that
// joins while the first one's SUBSCRIBE is queued).
func (s *Subscriber) subscribe(ctx context.Context, channel string, fn Listener) (func(), error) {
	l := &listener{fn: fn}
	s.mu.Lock()
	old := s.listeners[channel]
	w := s.pending[channel]
	if len(old) == 0 {
		w = &subWait{done: make(chan struct{})}
		s.pending[channel] = w
		s.queue = append(s.queue, subCmd{channel: channel, wait: w})
	}
	next := make([]*listener, len(old), len(old)+1)
	copy(next, old)
	s.listeners[channel] = append(next, l)
	lead := s.leadLocked()
	s.mu.Unlock()
	if lead {
		s.writeQueue()
	}
	if w != nil {
		var err error
		select {
		case <-w.done:
			err = w.err
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			s.unsubscribe(channel, l)
			return nil, err
		}
	}
	var once sync.Once
	return func() { once.Do(func() { s.unsubscribe(channel, l) }) }, nil
}

// leadLocked makes the caller the queue's writer when commands wait and
// nobody writes.
func (s *Subscriber) leadLocked() bool {
	if s.writing || len(s.queue) == 0 {
		return false
	}
	s.writing = true
	return true
}

// writeQueue writes the queued commands in order until none is left.
func (s *Subscriber) writeQueue() {
	ctx := context.Background() // a caller's deadline must not fail the others' commands
	for {
		s.mu.Lock()
		q := s.queue
		s.queue = nil
		if len(q) == 0 {
			s.writing = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		for len(q) > 0 {
			n := 1
			for n < len(q) && q[n].unsub == q[0].unsub {
				n++
			}
			run := q[:n]
			q = q[n:]
			chans := make([]string, n)
			for i, c := range run {
				chans[i] = c.channel
			}
			var err error
			if run[0].unsub {
				if err = s.ps.Unsubscribe(ctx, chans...); err != nil {
					s.log.Warn("bus: unsubscribe failed", "err", err)
				}
				continue
			}
			err = s.ps.Subscribe(ctx, chans...)
			s.mu.Lock()
			for _, c := range run {
				if s.pending[c.channel] == c.wait {
					delete(s.pending, c.channel)
				}
				c.wait.err = err
				close(c.wait.done)
			}
			s.mu.Unlock()
		}
	}
}

func (s *Subscriber) unsubscribe(channel string, l *listener) {
	s.mu.Lock()
	old := s.listeners[channel]
	next := make([]*listener, 0, len(old))
	for _, x := range old {
		if x != l {
			next = append(next, x)
		}
	}
	if len(next) > 0 {
		s.listeners[channel] = next
		s.mu.Unlock()
		return
	}
	if len(old) == 0 {
		s.mu.Unlock()
		return // already gone
	}
	delete(s.listeners, channel)
	s.queue = append(s.queue, subCmd{channel: channel, unsub: true})
	lead := s.leadLocked()
	s.mu.Unlock()
	if lead {
		s.writeQueue()
	}
}

// Channels is the number of channels subscribed in Redis.
func (s *Subscriber) Channels() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.listeners)
}

// Close ends the subscription.
func (s *Subscriber) Close() error {
	err := s.ps.Close()
	<-s.done
	return err
}

// Sequence is uid's latest event sequence (0 before the first event).
func (b *Redis) Sequence(ctx context.Context, uid id.ID) (uint64, error) {
	n, err := b.rdb.Get(ctx, b.seqKey(uid)).Uint64()
	if err == redis.Nil {
		return 0, nil
	}
	return n, err
}
