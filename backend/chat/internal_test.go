package chat

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	chatv1 "github.com/infliq/infliq/backend/gen/infliq/chat/v1"
	"github.com/infliq/infliq/backend/gen/infliq/chat/v1/chatv1connect"
	realtimev1 "github.com/infliq/infliq/backend/gen/infliq/realtime/v1"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/tier"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
)

func (e *env) sendMany(t *testing.T, items ...*chatv1.SendMessagesAsItem) []*chatv1.SendMessagesAsResult {
	t.Helper()
	res, err := e.internal.SendMessagesAs(context.Background(), connect.NewRequest(&chatv1.SendMessagesAsRequest{Items: items}))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Msg.GetResults()) != len(items) {
		t.Fatalf("%d results for %d items", len(res.Msg.GetResults()), len(items))
	}
	return res.Msg.GetResults()
}

func item(sender id.ID, chatID, text, cmid string) *chatv1.SendMessagesAsItem {
	return &chatv1.SendMessagesAsItem{SenderId: sender.String(), ChatId: chatID, Text: text, ClientMessageId: cmid}
}

// TestSendMessagesAsPerItem: in one batch, refused and invalid items fail
// alone with SendMessageAs's codes, the others are stored in the order
// given, a client message id repeated in the batch or in a later batch
// returns the first message, and only new messages are published, after
// the commit.
func TestSendMessagesAsPerItem(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a, b, mallory, blocker := e.user(t, "a"), e.user(t, "b"), e.user(t, "mallory"), e.user(t, "blocker")
	chatID := e.pairChat(t, a, b)
	blockedChat := e.pairChat(t, a, blocker)
	if _, err := e.pool.Exec(ctx, `INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2)`, blocker.String(), a.String()); err != nil {
		t.Fatal(err)
	}
	sub := bus.NewSubscriber(e.bus, slog.New(slog.DiscardHandler))
	t.Cleanup(func() { _ = sub.Close() })
	evs := make(chan *chatv1.Message, 32)
	if _, err := sub.SubscribeUser(ctx, b, func(ev *realtimev1.SubscribeResponse) { evs <- ev.GetMessage().GetMessage() }); err != nil {
		t.Fatal(err)
	}

	res := e.sendMany(t,
		item(a, chatID, "  one  ", "k1"),                  // 0: stored, trimmed
		item(mallory, chatID, "intruder", ""),             // 1: not a member
		item(a, strings.ToUpper(chatID), "two", ""),       // 2: stored (ids are case-insensitive)
		item(a, "not-an-id", "x", ""),                     // 3: invalid
		item(a, chatID, "   ", ""),                        // 4: blank
		item(a, chatID, "one again", "k1"),                // 5: duplicate of 0
		item(a, blockedChat, "hi", ""),                    // 6: blocked
		item(b, chatID, "three", "k1"),                    // 7: same key, other sender: new
		item(a, id.New().String(), "nowhere", ""),         // 8: no such chat
		item(a, chatID, strings.Repeat("x", 4001), ""),    // 9: too long
		item(a, chatID, "four", strings.Repeat("k", 129)), // 10: key too long
		item(a, chatID, "five\x00", ""),                   // 11: NUL: refused alone
		item(a, chatID, "six", ""),                        // 12: stored
	)
	wantErr := map[int]string{1: "not_found", 3: "invalid_argument", 4: "invalid_argument", 6: "permission_denied",
		8: "not_found", 9: "invalid_argument", 10: "invalid_argument", 11: "invalid_argument"}
	for i, r := range res {
		if code, bad := wantErr[i]; bad {
			if r.GetError().GetCode() != code {
				t.Errorf("item %d: %v, want error %s", i, r, code)
			}
			continue
		}
		if r.GetSent().GetMessage().GetId() == "" {
			t.Errorf("item %d: %v, want a message", i, r)
		}
	}
	sent := func(i int) *chatv1.SendMessageAsResponse { return res[i].GetSent() }
	if m := sent(0).GetMessage(); m.GetText() != "one" || m.GetSenderId() != a.String() || m.GetClientMessageId() != "k1" || sent(0).GetDuplicate() {
		t.Errorf("first: %v", sent(0))
	}
	if m := sent(2).GetMessage(); m.GetChatId() != chatID {
		t.Errorf("chat id not normalized: %v", m)
	}
	if !sent(5).GetDuplicate() || sent(5).GetMessage().GetId() != sent(0).GetMessage().GetId() || sent(5).GetMessage().GetText() != "one" {
		t.Errorf("duplicate in the batch: %v", sent(5))
	}
	if sent(7).GetDuplicate() || sent(7).GetMessage().GetSenderId() != b.String() {
		t.Errorf("other sender's key: %v", sent(7))
	}
	// Stored in the order given, each once.
	order := []int{0, 2, 7, 12}
	for k := 1; k < len(order); k++ {
		if prev, cur := sent(order[k-1]).GetMessage().GetId(), sent(order[k]).GetMessage().GetId(); cur <= prev {
			t.Errorf("item %d's id %s not after item %d's %s", order[k], cur, order[k-1], prev)
		}
	}
	var n int
	var last string
	if err := e.pool.QueryRow(ctx, `SELECT count(*), max(id) FROM messages WHERE chat_id = $1`, chatID).Scan(&n, &last); err != nil || n != 4 {
		t.Fatalf("%d messages stored (%v), want 4", n, err)
	}
	var chatLast, readA string
	if err := e.pool.QueryRow(ctx, `SELECT c.last_message_id, m.last_read_id FROM chats c JOIN chat_members m ON m.chat_id = c.id AND m.user_id = $2 WHERE c.id = $1`,
		chatID, a.String()).Scan(&chatLast, &readA); err != nil || chatLast != last || readA != sent(12).GetMessage().GetId() {
		t.Errorf("last message %s, a's read marker %s (%v); want %s and %s", chatLast, readA, err, last, sent(12).GetMessage().GetId())
	}
	// Published once each, in id order, to the other member too.
	for _, i := range order {
		select {
		case m := <-evs:
			if m.GetId() != sent(i).GetMessage().GetId() {
				t.Errorf("event %s, want item %d's %s", m.GetId(), i, sent(i).GetMessage().GetId())
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no event for item %d", i)
		}
	}

	// Across batches: the key returns the first message, nothing is published.
	again := e.sendMany(t, item(a, chatID, "retry", "k1"), item(a, chatID, "seven", "k7"))
	if !again[0].GetSent().GetDuplicate() || again[0].GetSent().GetMessage().GetId() != sent(0).GetMessage().GetId() {
		t.Errorf("retry in a later batch: %v", again[0])
	}
	select {
	case m := <-evs:
		if m.GetId() != again[1].GetSent().GetMessage().GetId() {
			t.Errorf("event %v, want only the new message", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event for the new message")
	}
	select {
	case m := <-evs:
		t.Errorf("unexpected event %v", m)
	case <-time.After(200 * time.Millisecond):
	}

	// Only the count is validated for the whole request.
	if _, err := e.internal.SendMessagesAs(ctx, connect.NewRequest(&chatv1.SendMessagesAsRequest{})); code(err) != connect.CodeInvalidArgument {
		t.Errorf("empty batch: %v", err)
	}
	tooMany := make([]*chatv1.SendMessagesAsItem, 513)
	for i := range tooMany {
		tooMany[i] = &chatv1.SendMessagesAsItem{}
	}
	if _, err := e.internal.SendMessagesAs(ctx, connect.NewRequest(&chatv1.SendMessagesAsRequest{Items: tooMany})); code(err) != connect.CodeInvalidArgument {
		t.Errorf("513 items: %v", err)
	}
}

// TestSendMessagesAsConcurrent: concurrent batches spanning the same chats
// in different orders all commit (chats are locked in one order, so no
// deadlock aborts a batch), and each sender's messages of a chat are stored
// in the order sent, within and across batches.
func TestSendMessagesAsConcurrent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const chats, callers, rounds, perChat = 6, 4, 8, 3
	type pair struct {
		id   string
		a, b id.ID
	}
	cs := make([]pair, chats)
	for i := range cs {
		a, b := e.user(t, fmt.Sprint("a", i)), e.user(t, fmt.Sprint("b", i))
		cs[i] = pair{e.pairChat(t, a, b), a, b}
	}
	var wg sync.WaitGroup
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				var items []*chatv1.SendMessagesAsItem
				for k := range chats {
					p := cs[(k+c+r)%chats] // chats in different orders per caller and round
					if c%2 == 1 {
						p = cs[(chats-1-k+c+r)%chats]
					}
					sender := p.a
					if c%2 == 1 {
						sender = p.b
					}
					for j := range perChat {
						seq := strconv.Itoa(r*perChat + j)
						items = append(items, item(sender, p.id, fmt.Sprintf("%d:%s", c, seq), fmt.Sprintf("%d-%s", c, seq)))
					}
				}
				res, err := e.internal.SendMessagesAs(ctx, connect.NewRequest(&chatv1.SendMessagesAsRequest{Items: items}))
				if err != nil {
					t.Error(err)
					return
				}
				for i, x := range res.Msg.GetResults() {
					if x.GetSent() == nil || x.GetSent().GetDuplicate() {
						t.Errorf("caller %d round %d item %d: %v", c, r, i, x)
					}
				}
			}
		}()
	}
	wg.Wait()
	// Per chat and caller, texts in id order count up.
	rows, err := e.pool.Query(ctx, `SELECT chat_id, text FROM messages ORDER BY chat_id, id`)
	if err != nil {
		t.Fatal(err)
	}
	next := map[string]int{}
	total := 0
	for rows.Next() {
		var chatID, text string
		if err := rows.Scan(&chatID, &text); err != nil {
			t.Fatal(err)
		}
		caller, seq, _ := strings.Cut(text, ":")
		k := chatID + "/" + caller
		if want := strconv.Itoa(next[k]); seq != want {
			t.Errorf("chat %s caller %s: message %s where %s was due", chatID, caller, seq, want)
		}
		next[k]++
		total++
	}
	rows.Close()
	if want := callers * rounds * chats * perChat; total != want {
		t.Errorf("%d messages stored, want %d", total, want)
	}
}

// encodingRecorder records the Content-Encoding of each response.
type encodingRecorder struct {
	next http.RoundTripper
	got  []string
}

func (r *encodingRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := r.next.RoundTrip(req)
	if err == nil {
		r.got = append(r.got, res.Header.Get("Content-Encoding"))
	}
	return res, err
}

// TestSendMessagesAsUncompressed: a batch's reply is sent uncompressed even
// to a client accepting gzip (Connect's default) and far above the
// compression threshold of the public services.
func TestSendMessagesAsUncompressed(t *testing.T) {
	e := newEnv(t)
	a, b := e.user(t, "a"), e.user(t, "b")
	chatID := e.pairChat(t, a, b)
	rec := &encodingRecorder{next: e.h1.Transport}
	client := chatv1connect.NewChatInternalServiceClient(&http.Client{Transport: rec}, e.url, tier.InternalClientOptions(tiertest.InternalToken)...)
	items := make([]*chatv1.SendMessagesAsItem, 20)
	for i := range items {
		items[i] = item(a, chatID, strings.Repeat("x", 100), strconv.Itoa(i))
	}
	res, err := client.SendMessagesAs(context.Background(), connect.NewRequest(&chatv1.SendMessagesAsRequest{Items: items}))
	if err != nil {
		t.Fatal(err)
	}
	if n := proto.Size(res.Msg); n < 4096 {
		t.Fatalf("reply of %d bytes, too small to show compression", n)
	}
	if len(rec.got) != 1 || rec.got[0] != "" {
		t.Errorf("reply Content-Encoding: %q", rec.got)
	}
}
