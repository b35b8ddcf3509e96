package realtime

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	chatv1 "github.com/infliq/infliq/backend/gen/infliq/chat/v1"
	"github.com/infliq/infliq/backend/gen/infliq/chat/v1/chatv1connect"
	"github.com/infliq/infliq/backend/platform/tier"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
)

// fakeChat answers SendMessagesAs from a function, recording batch sizes;
// release gates every call.
type fakeChat struct {
	chatv1connect.ChatInternalServiceClient
	release chan struct{}
	answer  func(*chatv1.SendMessagesAsItem) *chatv1.SendMessagesAsResult
	fail    error

	mu      sync.Mutex
	batches [][]string // texts per call
}

func (f *fakeChat) SendMessagesAs(_ context.Context, req *connect.Request[chatv1.SendMessagesAsRequest]) (*connect.Response[chatv1.SendMessagesAsResponse], error) {
	var texts []string
	for _, it := range req.Msg.GetItems() {
		texts = append(texts, it.GetText())
	}
	f.mu.Lock()
	f.batches = append(f.batches, texts)
	f.mu.Unlock()
	<-f.release
	if f.fail != nil {
		return nil, f.fail
	}
	out := &chatv1.SendMessagesAsResponse{}
	for _, it := range req.Msg.GetItems() {
		out.Results = append(out.Results, f.answer(it))
	}
	return connect.NewResponse(out), nil
}

func (f *fakeChat) calls() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]string(nil), f.batches...)
}

func sentAs(it *chatv1.SendMessagesAsItem) *chatv1.SendMessagesAsResult {
	return &chatv1.SendMessagesAsResult{Result: &chatv1.SendMessagesAsResult_Sent{Sent: &chatv1.SendMessageAsResponse{
		Message: &chatv1.Message{Id: "id-" + it.GetText(), Text: it.GetText()}}}}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestSendBatcherCoalesces: a lone send goes out at once; sends arriving
// while maxInflight calls run leave together in one call when one returns;
// each caller gets its own item's result, errors included.
func TestSendBatcherCoalesces(t *testing.T) {
	f := &fakeChat{release: make(chan struct{}), answer: func(it *chatv1.SendMessagesAsItem) *chatv1.SendMessagesAsResult {
		if it.GetText() == "refused" {
			return &chatv1.SendMessagesAsResult{Result: &chatv1.SendMessagesAsResult_Error{Error: &chatv1.SendMessagesAsError{Code: "not_found", Message: "Chat not found or access denied"}}}
		}
		if it.GetText() == "blocked" {
			return &chatv1.SendMessagesAsResult{Result: &chatv1.SendMessagesAsResult_Error{Error: &chatv1.SendMessagesAsError{Code: "permission_denied"}}}
		}
		return sentAs(it)
	}}
	b := newSendBatcher(f, 0)
	results := make(map[string]sendResult)
	var mu sync.Mutex
	var wg sync.WaitGroup
	send := func(text string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := b.send(&chatv1.SendMessagesAsItem{Text: text})
			mu.Lock()
			results[text] = r
			mu.Unlock()
		}()
	}
	// The first maxInflight sends each go out alone, at once.
	var lone []string
	for i := range maxInflight {
		lone = append(lone, "l"+strconv.Itoa(i))
		send(lone[i])
		waitFor(t, "a lone call", func() bool { return len(f.calls()) == i+1 })
	}
	// These wait for a call to return, then leave together.
	for _, text := range []string{"c", "refused", "d", "blocked"} {
		send(text)
	}
	waitFor(t, "the queued sends", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.pending) == 4
	})
	if n := len(f.calls()); n != maxInflight {
		t.Fatalf("%d calls while %d were in flight", n, maxInflight)
	}
	close(f.release)
	wg.Wait()

	calls := f.calls()
	if len(calls) != maxInflight+1 || len(calls[maxInflight]) != 4 {
		t.Fatalf("calls %v; want %d lone ones, then [c refused d blocked]", calls, maxInflight)
	}
	for _, text := range append(lone, "c", "d") {
		if r := results[text]; r.err != nil || r.msg.GetId() != "id-"+text {
			t.Errorf("%s: %+v", text, r)
		}
	}
	if r := results["refused"]; r.err == nil || r.code != connect.CodeNotFound {
		t.Errorf("refused: %+v", r)
	}
	if r := results["blocked"]; r.err == nil || r.code != connect.CodePermissionDenied {
		t.Errorf("blocked: %+v", r)
	}
	// The callers were answered before the calls wound down.
	waitFor(t, "the calls to end", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.inflight == 0 && len(b.pending) == 0
	})
}

// TestSendBatcherLingers: a lone send leaves at once even with a linger;
// sends that queue behind a call wait after it returns (here the linger is
// an hour) until lingerItems are waiting, then leave together in one call.
func TestSendBatcherLingers(t *testing.T) {
	f := &fakeChat{release: make(chan struct{}), answer: sentAs}
	b := newSendBatcher(f, time.Hour)
	b.lingerItems = 5
	var wg sync.WaitGroup
	send := func(text string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := b.send(&chatv1.SendMessagesAsItem{Text: text}); r.err != nil || r.msg.GetText() != text {
				t.Errorf("%s: %+v", text, r)
			}
		}()
	}
	pending := func(n int) func() bool {
		return func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.pending) == n }
	}
	send("lone")
	waitFor(t, "the lone call", func() bool { return len(f.calls()) == 1 })
	send("b")
	send("c")
	waitFor(t, "two queued sends", pending(2))
	f.release <- struct{}{} // the lone call returns; b and c linger
	for _, x := range []string{"d", "e"} {
		send(x)
	}
	waitFor(t, "four queued sends", pending(4))
	if n := len(f.calls()); n != 1 {
		t.Fatalf("%d calls while the batch lingered", n)
	}
	send("f") // the fifth ends the linger
	waitFor(t, "the lingering batch's call", func() bool { return len(f.calls()) == 2 })
	f.release <- struct{}{}
	wg.Wait()
	if calls := f.calls(); len(calls[1]) != 5 {
		t.Fatalf("calls %v; want [lone] then the five that lingered", calls)
	}
}

// TestSendBatcherCallFails: when the call itself fails, every send of the
// batch gets its error.
func TestSendBatcherCallFails(t *testing.T) {
	f := &fakeChat{release: make(chan struct{}), fail: connect.NewError(connect.CodeUnavailable, errors.New("chat down"))}
	close(f.release)
	b := newSendBatcher(f, 0)
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := b.send(&chatv1.SendMessagesAsItem{Text: "x"}); r.err == nil || r.code != connect.CodeUnavailable {
				t.Errorf("%+v", r)
			}
		}()
	}
	wg.Wait()
}

// TestSendBatcherRealChat: concurrent sends through the batcher to the chat
// tier: members' messages are stored, in each sender's order, and a
// non-member's sends in the same batches are refused alone.
func TestSendBatcherRealChat(t *testing.T) {
	st := newStack(t)
	alice, bob, mallory := st.user(t, "alice"), st.user(t, "bob"), st.user(t, "mallory")
	chatID := st.directChat(t, alice, bob)
	b := newSendBatcher(chatv1connect.NewChatInternalServiceClient(st.h1, st.chatURL, tier.InternalClientOptions(tiertest.InternalToken)...), 5*time.Millisecond)
	const perSender = 20
	var wg sync.WaitGroup
	for _, u := range []string{alice.String(), bob.String(), mallory.String()} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			prev := ""
			for n := range perSender {
				r := b.send(&chatv1.SendMessagesAsItem{SenderId: u, ChatId: chatID, Text: "m", ClientMessageId: u + string(rune('a'+n))})
				if u == mallory.String() {
					if r.code != connect.CodeNotFound {
						t.Errorf("non-member: %+v", r)
					}
					continue
				}
				if r.err != nil || r.msg.GetSenderId() != u || r.msg.GetId() <= prev {
					t.Errorf("send %d of %s: %+v after %s", n, u, r, prev)
					return
				}
				prev = r.msg.GetId()
			}
		}()
	}
	wg.Wait()
	var n int
	if err := st.pool.QueryRow(context.Background(), `SELECT count(*) FROM messages WHERE chat_id = $1`, chatID).Scan(&n); err != nil || n != 2*perSender {
		t.Errorf("%d messages stored (%v), want %d", n, err, 2*perSender)
	}
}
