package chat

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5/pgxpool"

	chatv1 "github.com/infliq/infliq/backend/gen/infliq/chat/v1"
	realtimev1 "github.com/infliq/infliq/backend/gen/infliq/realtime/v1"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/id"
)

// exists reports whether message mid is visible to another connection,
// i.e. committed.
func (e *env) exists(t *testing.T, chatID, mid string) bool {
	t.Helper()
	var ok bool
	if err := e.pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM messages WHERE chat_id = $1 AND id = $2)`, chatID, mid).Scan(&ok); err != nil {
		t.Error(err)
	}
	return ok
}

func (e *env) pairChat(t *testing.T, a, b id.ID) string {
	t.Helper()
	chatID, _, err := (&store{db: e.pool}).createChat(context.Background(), "chat", a, []id.ID{a, b})
	if err != nil {
		t.Fatal(err)
	}
	return chatID
}

// TestConcurrentSendsGroupCommit: many concurrent sends (batched into
// shared commits) are each acked only once committed, each published only
// once committed, all persisted, and seen by every member in id order with
// gap-free per-user sequences.
func TestConcurrentSendsGroupCommit(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const chats, perSender = 8, 15
	type chatInfo struct {
		id   string
		a, b id.ID
	}
	cs := make([]chatInfo, chats)
	for i := range cs {
		a, b := e.user(t, fmt.Sprint("a", i)), e.user(t, fmt.Sprint("b", i))
		cs[i] = chatInfo{e.pairChat(t, a, b), a, b}
	}

	// Every member's events, checked for commit visibility off the
	// subscriber's goroutine.
	sub := bus.NewSubscriber(e.bus, slog.New(slog.DiscardHandler))
	t.Cleanup(func() { _ = sub.Close() })
	type got struct {
		uid id.ID
		ev  *realtimev1.SubscribeResponse
	}
	evs := make(chan got, 4*chats*2*perSender)
	for _, c := range cs {
		for _, u := range []id.ID{c.a, c.b} {
			if _, err := sub.SubscribeUser(ctx, u, func(ev *realtimev1.SubscribeResponse) { evs <- got{u, ev} }); err != nil {
				t.Fatal(err)
			}
		}
	}

	var wg sync.WaitGroup
	for _, c := range cs {
		for _, sender := range []id.ID{c.a, c.b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := range perSender {
					res, err := e.internal.SendMessageAs(ctx, connect.NewRequest(&chatv1.SendMessageAsRequest{SenderId: sender.String(),
						Message: &chatv1.SendMessageRequest{ChatId: c.id, Text: "m" + strconv.Itoa(n), ClientMessageId: sender.String() + strconv.Itoa(n)}}))
					if err != nil {
						t.Error(err)
						return
					}
					if !e.exists(t, c.id, res.Msg.GetMessage().GetId()) {
						t.Errorf("message %s acked before it was committed", res.Msg.GetMessage().GetId())
					}
				}
			}()
		}
	}
	wg.Wait()

	total := chats * 2 * perSender
	lastSeq := map[id.ID]uint64{}
	lastID := map[id.ID]map[string]string{} // member → chat → newest id seen
	for i := 0; i < 2*total; i++ {
		var g got
		select {
		case g = <-evs:
		case <-time.After(20 * time.Second):
			t.Fatalf("%d of %d events arrived", i, 2*total)
		}
		m := g.ev.GetMessage().GetMessage()
		if !e.exists(t, m.GetChatId(), m.GetId()) {
			t.Errorf("event for %s published before the commit", m.GetId())
		}
		if g.ev.GetSequence() != lastSeq[g.uid]+1 {
			t.Errorf("user %s: sequence %d after %d", g.uid, g.ev.GetSequence(), lastSeq[g.uid])
		}
		lastSeq[g.uid] = g.ev.GetSequence()
		if lastID[g.uid] == nil {
			lastID[g.uid] = map[string]string{}
		}
		if prev := lastID[g.uid][m.GetChatId()]; m.GetId() <= prev {
			t.Errorf("chat %s: event %s after %s", m.GetChatId(), m.GetId(), prev)
		}
		lastID[g.uid][m.GetChatId()] = m.GetId()
	}

	// All stored; each sender's messages in the order sent.
	for _, c := range cs {
		for _, sender := range []id.ID{c.a, c.b} {
			rows, err := e.pool.Query(ctx, `SELECT text FROM messages WHERE chat_id = $1 AND sender_id = $2 ORDER BY id`, c.id, sender.String())
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for rows.Next() {
				var text string
				_ = rows.Scan(&text)
				if text != "m"+strconv.Itoa(n) {
					t.Errorf("chat %s sender %s: message %d is %q", c.id, sender, n, text)
				}
				n++
			}
			rows.Close()
			if n != perSender {
				t.Errorf("chat %s sender %s: %d messages stored, want %d", c.id, sender, n, perSender)
			}
		}
	}
}

// TestBatchFailureIsolated: sends queued together commit as one batch; a
// send that makes PostgreSQL fail (a NUL byte) rolls the batch back, the
// others are retried alone and succeed, duplicates within the batch return
// the first message, and a non-member is refused.
func TestBatchFailureIsolated(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a, b, mallory := e.user(t, "a"), e.user(t, "b"), e.user(t, "mallory")
	chatID := e.pairChat(t, a, b)
	st := &store{db: e.pool}
	// Loops not started yet, so everything queued below lands in one batch.
	s := &sender{st: st, pub: e.bus, log: slog.New(slog.DiscardHandler), reqs: make(chan []*sendReq, batchQueue), publish: make(chan *batch, 4)}

	type result struct {
		m   *message
		dup bool
		err error
	}
	ins := []sendInput{
		{ChatID: chatID, SenderID: a.String(), Text: "one", Type: "text", ClientMessageID: "c1", CheckSender: true},
		{ChatID: chatID, SenderID: a.String(), Text: "bad\x00", Type: "text", CheckSender: true},
		{ChatID: chatID, SenderID: b.String(), Text: "two", Type: "text", CheckSender: true},
		{ChatID: chatID, SenderID: a.String(), Text: "one again", Type: "text", ClientMessageID: "c1", CheckSender: true},
		{ChatID: chatID, SenderID: mallory.String(), Text: "intruder", Type: "text", CheckSender: true},
	}
	results := make([]result, len(ins))
	var wg sync.WaitGroup
	for i, in := range ins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, _, dup, err := s.send(ctx, in)
			results[i] = result{m, dup, err}
		}()
		for len(s.reqs) != i+1 { // keep the queue order
			time.Sleep(time.Millisecond)
		}
	}
	s.start()
	wg.Wait()

	if r := results[0]; r.err != nil || r.dup || r.m.Text != "one" {
		t.Errorf("first send: %+v", r)
	}
	if results[1].err == nil {
		t.Error("a NUL byte was stored")
	}
	if r := results[2]; r.err != nil || r.m.Text != "two" {
		t.Errorf("other member's send: %+v", r)
	}
	if r := results[3]; r.err != nil || !r.dup || r.m.ID != results[0].m.ID {
		t.Errorf("retry with the same client message id: %+v", r)
	}
	if results[4].err != errNotMember {
		t.Errorf("non-member: %v", results[4].err)
	}
	var n int
	_ = e.pool.QueryRow(ctx, `SELECT count(*) FROM messages WHERE chat_id = $1`, chatID).Scan(&n)
	if n != 2 {
		t.Errorf("%d messages stored, want 2", n)
	}
	close(s.reqs)
}

// TestAppendGenericPlan: the append statement runs on its generic plan
// even for one-message batches (where plan_cache_mode=auto re-plans it
// every time), and the setting does not outlive the batch's transaction.
func TestAppendGenericPlan(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a, b := e.user(t, "a"), e.user(t, "b")
	chatID := e.pairChat(t, a, b)
	cfg := e.pool.Config()
	cfg.MaxConns = 1 // one connection: its prepared statements are the ones checked
	conn, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	st := &store{db: conn}
	for i := range 8 {
		in := sendInput{ChatID: chatID, SenderID: a.String(), Text: "hi", Type: "text", ClientMessageID: strconv.Itoa(i), CheckSender: true}
		if _, _, _, err := st.appendMessage(ctx, in, id.New().String()); err != nil {
			t.Fatal(err)
		}
	}
	var generic, custom int64
	if err := conn.QueryRow(ctx, `SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1`, appendSQL).Scan(&generic, &custom); err != nil {
		t.Fatal(err)
	}
	if generic != 8 || custom != 0 {
		t.Errorf("append statement: %d generic plans, %d custom plans; want 8 and 0", generic, custom)
	}
	var mode string
	if err := conn.QueryRow(ctx, `SELECT current_setting('plan_cache_mode')`).Scan(&mode); err != nil || mode != "auto" {
		t.Errorf("plan_cache_mode after the batch: %q %v", mode, err)
	}
}

// TestAppendManyNoDeadlock: overlapping batches of chats in random orders,
// committed concurrently straight through appendMany (no batch formation in
// between), all commit: every batch takes its chat locks in one order.
func TestAppendManyNoDeadlock(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	st := &store{db: e.pool}
	var ins []sendInput
	for i := range 12 {
		a, b := e.user(t, fmt.Sprint("a", i)), e.user(t, fmt.Sprint("b", i))
		chatID := e.pairChat(t, a, b)
		ins = append(ins, sendInput{ChatID: chatID, SenderID: a.String(), Text: "x", Type: "text", CheckSender: true},
			sendInput{ChatID: chatID, SenderID: b.String(), Text: "y", Type: "text", CheckSender: true})
	}
	const workers, rounds = 4, 60
	var wg sync.WaitGroup
	var stored atomic.Int64
	errs := make(chan error, workers*rounds)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				batch := make([]sendInput, 2+rand.IntN(len(ins)-2))
				for i, j := range rand.Perm(len(ins))[:len(batch)] {
					batch[i] = ins[j]
				}
				ids := make([]string, len(batch))
				for i := range ids {
					ids[i] = id.New().String()
				}
				if _, err := st.appendMany(ctx, batch, ids); err != nil {
					errs <- err
					continue
				}
				stored.Add(int64(len(batch)))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var n int64
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM messages`).Scan(&n); err != nil || n != stored.Load() {
		t.Errorf("%d messages stored (%v), want %d", n, err, stored.Load())
	}
}
