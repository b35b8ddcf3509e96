package realtime

import (
	"context"
	"fmt"
	"sync"

	"connectrpc.com/connect"

	chatv1 "github.com/infliq/infliq/backend/gen/infliq/chat/v1"
	"github.com/infliq/infliq/backend/gen/infliq/chat/v1/chatv1connect"
)

// sendBatcher coalesces the sockets' send-message events into
// SendMessagesAs calls. One call per message cost more CPU in HTTP, Connect
// and validation, on both tiers, than the send itself. Nothing waits for a
// batch to fill: a send goes out at once unless maxInflight calls are
// already running, and then it joins the batch that leaves when one of them
// returns (or as soon as maxItems are waiting). At low load every message
// travels alone as before; under load batches grow with the load.
//
// A socket has at most one send here at a time (its handler waits for the
// result before the socket's next event is read), so a socket's messages
// reach chat in the order sent.
type sendBatcher struct {
	chat chatv1connect.ChatInternalServiceClient

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
)

type queuedSend struct {
	item *chatv1.SendMessagesAsItem
	done chan sendResult // buffered: the flusher never blocks
}

// sendResult is one send's outcome: the stored message, or an error with the
// Connect code chat gave it.
type sendResult struct {
	msg  *chatv1.Message
	code connect.Code
	err  error
}

func newSendBatcher(chat chatv1connect.ChatInternalServiceClient) *sendBatcher {
	return &sendBatcher{chat: chat}
}

// send sends item with whatever other sends are waiting and returns its
// result.
func (b *sendBatcher) send(item *chatv1.SendMessagesAsItem) sendResult {
	q := &queuedSend{item: item, done: make(chan sendResult, 1)}
	b.mu.Lock()
	b.pending = append(b.pending, q)
	var batch []*queuedSend
	if b.inflight < maxInflight || len(b.pending) >= maxItems {
		b.inflight++
		batch = b.takeLocked()
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

// run calls chat with batch, then with whatever queued meanwhile, until
// nothing waits.
func (b *sendBatcher) run(batch []*queuedSend) {
	for {
		b.call(batch)
		b.mu.Lock()
		if len(b.pending) == 0 {
			b.inflight--
			b.mu.Unlock()
			return
		}
		batch = b.takeLocked()
		b.mu.Unlock()
	}
}

// call sends one batch and answers each of its sends.
func (b *sendBatcher) call(batch []*queuedSend) {
	items := make([]*chatv1.SendMessagesAsItem, len(batch))
	for i, q := range batch {
		items[i] = q.item
	}
	ctx, cancel := context.WithTimeout(context.Background(), rpcTimeout)
	res, err := b.chat.SendMessagesAs(ctx, connect.NewRequest(&chatv1.SendMessagesAsRequest{Items: items}))
	cancel()
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
