package bus

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

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
	heard     atomic.Bool            // something arrived since the last health tick
	done      chan struct{}          // closed when run returns
	stop      chan struct{}          // closed by Close
	closeOnce sync.Once
}

// NewSubscriber starts the dispatch loop; Close stops it.
func NewSubscriber(b *Redis, log *slog.Logger) *Subscriber {
	s := &Subscriber{b: b, ps: b.rdb.Subscribe(context.Background()), log: log,
		listeners: map[string][]*listener{}, done: make(chan struct{}), stop: make(chan struct{})}
	go s.run()
	go s.health()
	return s
}

// run reads the pub/sub connection and dispatches each event on this one
// goroutine. go-redis's Channel() hands every message to a second goroutine
// and wakes a third (its health check) per message; in the realtime tier's
// message phase those two wake-ups per delivered event were the largest
// cost after the socket writes.
func (s *Subscriber) run() {
	defer close(s.done)
	ctx := context.Background()
	errs := 0
	for {
		msg, err := s.ps.Receive(ctx)
		if err != nil {
			if errors.Is(err, redis.ErrClosed) {
				return
			}
			// go-redis reconnects and re-subscribes on the next Receive;
			// back off when that keeps failing.
			if errs++; errs > 1 {
				select {
				case <-time.After(100 * time.Millisecond):
				case <-s.stop:
					return
				}
			}
			continue
		}
		errs = 0
		s.heard.Store(true)
		if m, ok := msg.(*redis.Message); ok {
			s.dispatch(m)
		}
	}
}

// health pings the connection when nothing arrived for healthEvery, so a
// connection that died silently is replaced (a failed ping reconnects).
func (s *Subscriber) health() {
	t := time.NewTicker(healthEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if s.heard.Swap(false) {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = s.ps.Ping(ctx)
			cancel()
		}
	}
}

// healthEvery is go-redis's own health-check interval for Channel().
const healthEvery = 3 * time.Second

func (s *Subscriber) dispatch(m *redis.Message) {
	s.mu.Lock()
	ls := s.listeners[m.Channel]
	s.mu.Unlock()
	if len(ls) == 0 {
		return
	}
	ev, tp, err := DecodeTraced(m.Payload)
	if err != nil {
		s.log.Warn("bus: undecodable event", "channel", m.Channel, "err", err)
		return
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
// Redis subscription is made by the first listener and dropped with the last.
func (s *Subscriber) subscribe(ctx context.Context, channel string, fn Listener) (func(), error) {
	l := &listener{fn: fn}
	s.mu.Lock()
	old := s.listeners[channel]
	if len(old) == 0 {
		if err := s.ps.Subscribe(ctx, channel); err != nil {
			s.mu.Unlock()
			return nil, err
		}
	}
	next := make([]*listener, len(old), len(old)+1)
	copy(next, old)
	s.listeners[channel] = append(next, l)
	s.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { s.unsubscribe(channel, l) }) }, nil
}

func (s *Subscriber) unsubscribe(channel string, l *listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.listeners[channel]
	next := make([]*listener, 0, len(old))
	for _, x := range old {
		if x != l {
			next = append(next, x)
		}
	}
	if len(next) > 0 {
		s.listeners[channel] = next
		return
	}
	delete(s.listeners, channel)
	if err := s.ps.Unsubscribe(context.Background(), channel); err != nil {
		s.log.Warn("bus: unsubscribe failed", "err", err)
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
	s.closeOnce.Do(func() { close(s.stop) })
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
