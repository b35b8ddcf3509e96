package realtime

import (
	"context"
	"fmt"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"

	chatv1 "github.com/infliq/infliq/backend/gen/infliq/chat/v1"
	"github.com/infliq/infliq/backend/gen/infliq/chat/v1/chatv1connect"
)

// sendBatcher coalesces the sockets' send-message events into
// SendMessagesAs calls. One call per message cost more CPU in HTTP, Connect
// and validation, on both tiers, than the send itself. A send goes out at
// once unless a call is already running; then it joins the batch that
// leaves when the call returns, or, if fewer than lingerItems are waiting
// then, when the oldest of them has waited linger (as a producer's
// linger.ms: Kafka's default is 5 ms too). At low load every message
// travels alone and at once; under load each call carries what arrived
// during the last one and the linger, and the CPU per message of realtime,
// chat and PostgreSQL falls with the batch size (BENCHMARKS.md, issue 23).
//
// A socket has at most one send here at a time (its handler waits for the
// result before the socket's next event is read), so a socket's messages
// reach chat in the order sent.
type sendBatcher struct {
	chat        chatv1connect.ChatInternalServiceClient
	linger      time.Duration
	lingerItems int           // this many waiting end a linger at once
	full        chan struct{} // (buffered) lingerItems are waiting

	// waited observes how long each send queued before its call left
	// (nil: not recorded).
	waited prometheus.Observer
	called prometheus.Observer // each SendMessagesAs call, as this side sees it

	mu       sync.Mutex
	pending  []*queuedSend
	inflight int
}

const (
	// maxInflight calls at once. One call at a time makes each call carry
	// what arrived during the previous one: at 2,000 msg/s, 3.4 sends per
	// call instead of 2.6, and 17% less realtime CPU per message (20% less
	// over realtime, chat and PostgreSQL) with the same p99. (Two was chosen
	// when chat's group commit was slower and one call at a time had 2.5
	// times the p99; since chat's send groups, that is no longer so.)
	maxInflight = 1
	// maxItems per call (SendMessagesAsRequest allows 512).
	maxItems = 256
	// lingerItems: a batch this large gains little from waiting longer.
	lingerItems = 64
)

type queuedSend struct {
	item *chatv1.SendMessagesAsItem
	done chan sendResult // buffered: the flusher never blocks
	at   time.Time       // queued
}

// sendResult is one send's outcome: the stored message, or an error with the
// Connect code chat gave it.
type sendResult struct {
	msg  *chatv1.Message
	code connect.Code
	err  error
}

// newSendBatcher batches calls to chat; linger 0 sends each batch as soon
// as the previous call returns.
func newSendBatcher(chat chatv1connect.ChatInternalServiceClient, linger time.Duration) *sendBatcher {
	return &sendBatcher{chat: chat, linger: linger, lingerItems: lingerItems, full: make(chan struct{}, 1)}
}

// send sends item with whatever other sends are waiting and returns its
// result.
func (b *sendBatcher) send(item *chatv1.SendMessagesAsItem) sendResult {
	q := &queuedSend{item: item, done: make(chan sendResult, 1), at: time.Now()}
	b.mu.Lock()
	b.pending = append(b.pending, q)
	var batch []*queuedSend
	if b.inflight < maxInflight || len(b.pending) >= maxItems {
		b.inflight++
		batch = b.takeLocked()
	} else if len(b.pending) == b.lingerItems {
		select {
		case b.full <- struct{}{}:
		default:
		}
	}
	b.mu.Unlock()
	if batch != nil {
		go b.run(batch)
	}
	return <-q.done
}

// takeLocked removes up to maxItems waiting sends.
func (b *sendBatcher) takeLocked() []*queuedSend {
	n := min(len(b.pending), maxItems)
	batch := b.pending[:n:n]
	if n == len(b.pending) {
		b.pending = nil
	} else {
		b.pending = append([]*queuedSend(nil), b.pending[n:]...)
	}
	return batch
}

// run calls chat with batch, then with whatever queued meanwhile (after
// the linger), until nothing waits.
func (b *sendBatcher) run(batch []*queuedSend) {
	for {
		b.call(batch)
		b.mu.Lock()
		if len(b.pending) == 0 {
			b.inflight--
			b.mu.Unlock()
			return
		}
		if b.linger > 0 && len(b.pending) < b.lingerItems {
			select {
			case <-b.full: // from a batch that already left
			default:
			}
			wait := b.linger - time.Since(b.pending[0].at)
			b.mu.Unlock()
			if wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-b.full:
					t.Stop()
				}
			}
			b.mu.Lock()
			if len(b.pending) == 0 { // a full batch left on a call of its own meanwhile
				b.inflight--
				b.mu.Unlock()
				return
			}
		}
		batch = b.takeLocked()
		b.mu.Unlock()
	}
}

// call sends one batch and answers each of its sends.
func (b *sendBatcher) call(batch []*queuedSend) {
	items := make([]*chatv1.SendMessagesAsItem, len(batch))
	now := time.Now()
	for i, q := range batch {
		items[i] = q.item
		if b.waited != nil {
			b.waited.Observe(now.Sub(q.at).Seconds())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), rpcTimeout)
	res, err := b.chat.SendMessagesAs(ctx, connect.NewRequest(&chatv1.SendMessagesAsRequest{Items: items}))
	cancel()
	if b.called != nil {
		b.called.Observe(time.Since(now).Seconds())
	}
	if err == nil && len(res.Msg.GetResults()) != len(batch) {
		err = connect.NewError(connect.CodeInternal, fmt.Errorf("%d results for %d sends", len(res.Msg.GetResults()), len(batch)))
	}
	if err != nil {
		for _, q := range batch {
			q.done <- sendResult{code: connect.CodeOf(err), err: err}
		}
		return
	}
	for i, r := range res.Msg.GetResults() {
		if e := r.GetError(); e != nil || r.GetSent() == nil {
			code := connect.CodeInternal
			if e != nil {
				_ = code.UnmarshalText([]byte(e.GetCode())) // unknown names stay internal
			}
			batch[i].done <- sendResult{code: code, err: fmt.Errorf("chat: %s: %s", e.GetCode(), e.GetMessage())}
			continue
		}
		batch[i].done <- sendResult{msg: r.GetSent().GetMessage()}
	}
}
