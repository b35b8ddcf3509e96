package chat

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	chatv1 "github.com/infliq/infliq/backend/gen/infliq/chat/v1"
	realtimev1 "github.com/infliq/infliq/backend/gen/infliq/realtime/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/telemetry"
)

// Group commit. Every send is its own durable commit (synchronous_commit
// stays on), and on this hardware the WAL flush of a commit, not the insert,
// is most of a send's cost. So concurrent sends are collected and written
// together: a batch is one statement in one transaction (one round trip,
// one commit, one WAL flush; store.appendMany), then the events of the
// committed messages go to the bus in one round trip, then each caller gets
// its own message. Nothing waits for a batch to fill: while one batch
// commits, the next collects whatever arrived meanwhile, so an idle chat
// service sends a lone message at once.
//
// A few committers write batches concurrently (one PostgreSQL backend
// alone is one core; a single committer was the bottleneck on a busy
// machine). Batches are formed one at a time: message ids are assigned in
// that order, each batch first locks its chats in chat id order (concurrent
// batches lock chats in the same order, so they cannot deadlock each
// other), and the one publisher publishes batches in formation order, each
// after its own commit, so every member sees a chat's messages in id order.

const (
	maxBatch   = 128
	batchQueue = 4096
	committers = 4
)

// sendReq is one send waiting for its batch.
type sendReq struct {
	in   sendInput
	id   string       // the message id, assigned when batched
	done chan sendRes // buffered: the committer never blocks on a caller
	res  sendRes
	// trace is the sending request's span: the batch's commit and publish
	// are traced under it although they run on other goroutines.
	trace trace.SpanContext
}

// batch is a group of sends committed together.
type batch struct {
	reqs      []*sendReq
	committed chan struct{} // closed once every result is filled
}

type sendRes struct {
	msg     *message
	members []string
	dup     bool
	err     error
}

type sender struct {
	st      *store
	pub     bus.Publisher
	log     *slog.Logger
	tracing *telemetry.Tracing // nil: off
	reqs    chan []*sendReq    // groups of sends, each taken by one batch
	publish chan *batch        // in formation order

	form sync.Mutex // one batch formed at a time
}

func newSender(st *store, pub bus.Publisher, log *slog.Logger, tracing *telemetry.Tracing) *sender {
	s := &sender{st: st, pub: pub, log: log, tracing: tracing, reqs: make(chan []*sendReq, batchQueue), publish: make(chan *batch, 64)}
	s.start()
	return s
}

func (s *sender) start() {
	for range committers {
		go s.commitLoop()
	}
	go s.publishLoop()
}

// send stores in (as appendMessage does), publishes it to the members when
// it is new, and returns it once both happened. If ctx ends first the
// message may still be stored and published; a retry with the same client
// message id finds it.
func (s *sender) send(ctx context.Context, in sendInput) (*message, []string, bool, error) {
	res := s.sendMany(ctx, []sendInput{in})[0]
	return res.msg, res.members, res.dup, res.err
}

// sendMany is send for several inputs; one result per input, in order.
// They are queued as one group, which a batch takes whole: inputs of one
// chat get ascending ids in the order given, and of two inputs with the
// same client message id the first is the one stored (a group split over
// two concurrently committing batches could store the later one first).
func (s *sender) sendMany(ctx context.Context, ins []sendInput) []sendRes {
	out := make([]sendRes, len(ins))
	reqs := make([]sendReq, len(ins))
	group := make([]*sendReq, len(ins))
	done := make(chan sendRes, len(ins))
	for i := range ins {
		reqs[i] = sendReq{in: ins[i], done: done, trace: trace.SpanContextFromContext(ctx)}
		group[i] = &reqs[i]
	}
	failed := func() []sendRes {
		for i := range out {
			out[i] = sendRes{err: apperr.Internal(ctx.Err())}
		}
		return out
	}
	select {
	case s.reqs <- group:
	case <-ctx.Done():
		return failed()
	}
	// Each request answers on the shared channel; its result is also in
	// the request, which the committer no longer touches once answered.
	for range ins {
		select {
		case <-done:
		case <-ctx.Done():
			return failed()
		}
	}
	for i := range out {
		out[i] = reqs[i].res
	}
	return out
}

// commitLoop forms a batch of whatever is queued (waiting only for the
// first send), hands it to the publisher, and commits it.
func (s *sender) commitLoop() {
	for {
		s.form.Lock()
		g, ok := <-s.reqs
		if !ok {
			s.form.Unlock()
			return
		}
		// Groups are taken whole, so a batch may pass maxBatch by one group.
		b := &batch{reqs: slices.Clip(g), committed: make(chan struct{})}
	fill:
		for len(b.reqs) < maxBatch {
			select {
			case g := <-s.reqs:
				b.reqs = append(b.reqs, g...)
			default:
				break fill
			}
		}
		for _, r := range b.reqs {
			r.id = id.New().String()
		}
		s.publish <- b
		s.form.Unlock()
		s.commit(b.reqs)
		close(b.committed)
	}
}

// commit writes a batch in one transaction (store.appendMany: one
// statement for all its messages) and fills each request's result. If it
// fails, nothing was stored and each send is retried alone, so one bad send
// fails only itself.
func (s *sender) commit(reqs []*sendReq) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if s.tracing != nil {
		for _, r := range reqs {
			_, span := s.tracing.Start(ctx, r.trace, "chat.commit")
			defer span.End()
		}
	}
	ins := make([]sendInput, len(reqs))
	ids := make([]string, len(reqs))
	for i, r := range reqs {
		ins[i], ids[i] = r.in, r.id
	}
	rows, err := s.st.appendMany(ctx, ins, ids)
	if err != nil {
		if len(reqs) > 1 {
			s.log.Warn("chat: batched send failed, retrying one by one", "n", len(reqs), "err", err)
		}
		for _, r := range reqs {
			m, members, dup, err := s.st.appendMessage(ctx, r.in, r.id)
			r.res = sendRes{msg: m, members: members, dup: dup, err: err}
		}
		return
	}
	for i, r := range reqs {
		m, members, dup, err := s.st.appendResult(ctx, r.in, r.id, &rows[i])
		r.res = sendRes{msg: m, members: members, dup: dup, err: err}
	}
}

// publishLoop publishes each committed batch's new messages in one round
// trip, then answers the callers. A bus failure does not fail the sends:
// the messages are stored and clients catch up by listing messages.
func (s *sender) publishLoop() {
	for b := range s.publish {
		<-b.committed
		pubs := make([]bus.Publication, 0, len(b.reqs))
		for _, r := range b.reqs {
			if r.res.err != nil || r.res.dup {
				continue
			}
			pubs = append(pubs, bus.Publication{Users: memberIDs(r.res.members), Event: messageEvent(messageProto(r.res.msg)), Trace: r.trace,
				Records: messageRecord(r.res.msg, r.res.members)})
		}
		if len(pubs) > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := bus.PublishAll(ctx, s.pub, pubs); err != nil {
				s.log.Warn("chat: publish failed", "err", err)
			}
			cancel()
		}
		for _, r := range b.reqs {
			r.done <- r.res
		}
	}
}

// messageRecord is the durable record of a new message for the notify
// tier (inbox and push for members without a live connection), appended
// in the publish's round trip. Call logs are not messages to notify of:
// calls have their own records.
func messageRecord(m *message, members []string) []bus.Record {
	if m == nil || m.Type == "call" {
		return nil
	}
	sender, err1 := id.Parse(m.SenderID)
	chatID, err2 := id.Parse(m.ChatID)
	msgID, err3 := id.Parse(m.ID)
	if err1 != nil || err2 != nil || err3 != nil {
		return nil
	}
	to := make([]id.ID, 0, len(members))
	for _, u := range memberIDs(members) {
		if u != sender {
			to = append(to, u)
		}
	}
	if len(to) == 0 {
		return nil
	}
	return []bus.Record{{Kind: bus.RecMessage, Actor: sender, To: to, Subject: chatID, Item: msgID, Text: m.Text, At: m.CreatedAt}}
}

func memberIDs(members []string) []id.ID {
	uids := make([]id.ID, 0, len(members))
	for _, uid := range members {
		if u, err := id.Parse(uid); err == nil {
			uids = append(uids, u)
		}
	}
	return uids
}

func messageEvent(m *chatv1.Message) *realtimev1.SubscribeResponse {
	return &realtimev1.SubscribeResponse{Event: &realtimev1.SubscribeResponse_Message{Message: &realtimev1.MessageEvent{Message: m}}}
}
