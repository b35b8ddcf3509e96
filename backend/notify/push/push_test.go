package push

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/db"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/logx"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/devstack/expofake"
)

// River's schema comes from our migration files; River's own migrator must
// find nothing to do, or the pinned River grew a version to copy in.
func TestRiverSchemaCurrent(t *testing.T) {
	e := newEnv(t, nil)
	m, err := rivermigrate.New(riverpgxv5.New(e.pool), &rivermigrate.Config{Logger: logx.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.Validate(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK {
		t.Fatalf("River schema is behind the pinned River: %v; copy the new versions into a migration", res.Messages)
	}
}

func TestTokens(t *testing.T) {
	e := newEnv(t, nil)
	ctx := e.ctx
	ids, _ := e.users(2)
	a, b := ids[0], ids[1]
	good := "ExponentPushToken[abcdefghijklmnopqrstuv]"

	for _, bad := range []string{"", "ExponentPushToken[]", "ExponentPushToken[abc\x00defghij]", "PushToken[abcdefghijkl]",
		"ExponentPushToken[" + strings.Repeat("a", 300) + "]", "ExpoPushToken[abc\xffdefghijk]", "ExponentPushToken[abcdefghijkl] "} {
		err := e.svc.RegisterToken(ctx, a, bad, "ios", "s1")
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Code != connect.CodeInvalidArgument {
			t.Fatalf("token %q: want InvalidArgument, got %v", bad, err)
		}
	}
	for _, bad := range []string{"", "windows", "i\x00os"} {
		if err := e.svc.RegisterToken(ctx, a, good, bad, "s1"); err == nil {
			t.Fatalf("platform %q accepted", bad)
		}
	}
	if err := e.svc.RegisterToken(ctx, a, good, "ios", "s\x00"); err == nil {
		t.Fatal("NUL session id accepted")
	}
	if err := e.svc.RegisterToken(ctx, id.New(), good, "ios", "s1"); err == nil {
		t.Fatal("token registered for a user that does not exist")
	}
	if err := e.svc.RegisterToken(ctx, a, good, "iOS", "s1"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RegisterToken(ctx, a, "ExpoPushToken[zzzzzzzzzzzzzzzzzzzzzz]", "android", "s2"); err != nil {
		t.Fatal(err)
	}
	owner := func(tok string) string {
		var u string
		err := e.pool.QueryRow(ctx, `SELECT user_id FROM push_tokens WHERE token = $1`, tok).Scan(&u)
		if errors.Is(err, pgx.ErrNoRows) {
			return ""
		}
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	// Another account signs in on the same phone: the token moves.
	if err := e.svc.RegisterToken(ctx, b, good, "ios", "s9"); err != nil {
		t.Fatal(err)
	}
	if owner(good) != b.String() {
		t.Fatal("token did not move to the new account")
	}
	// a cannot unregister b's token.
	if err := e.svc.UnregisterToken(ctx, a, good); err != nil {
		t.Fatal(err)
	}
	if owner(good) != b.String() {
		t.Fatal("a removed b's token")
	}
	if err := e.svc.UnregisterToken(ctx, b, good); err != nil || owner(good) != "" {
		t.Fatalf("unregister: %v", err)
	}
	// Logout on one device forgets that device only.
	_ = e.svc.RegisterToken(ctx, a, good, "ios", "s1")
	if err := e.svc.ForgetSession(ctx, a, "s2"); err != nil {
		t.Fatal(err)
	}
	if owner("ExpoPushToken[zzzzzzzzzzzzzzzzzzzzzz]") != "" || owner(good) != a.String() {
		t.Fatal("ForgetSession removed the wrong tokens")
	}
	if err := e.svc.ForgetSession(ctx, a, ""); err == nil {
		t.Fatal("empty session id accepted")
	}
	if err := e.svc.ForgetUser(ctx, a); err != nil || owner(good) != "" {
		t.Fatalf("ForgetUser: %v", err)
	}

	// Dozens of parallel registrations for one user keep exactly the cap.
	var wg sync.WaitGroup
	errs := make(chan error, 60)
	for i := 0; i < 60; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs <- e.svc.RegisterToken(ctx, b, fmt.Sprintf("ExponentPushToken[parallel%012d]", i), "android", "s")
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := e.count(`SELECT count(*) FROM push_tokens WHERE user_id = $1`, b.String()); n != maxTokensPerUser {
		t.Fatalf("user has %d tokens, cap is %d", n, maxTokensPerUser)
	}
}

func TestEnqueueRejectsBadInput(t *testing.T) {
	e := newEnv(t, nil)
	ids, _ := e.users(1)
	u := ids[0]
	huge := map[string]string{"x": strings.Repeat("a", 3000)}
	for name, m := range map[string]Message{
		"no user":         {Kind: "like"},
		"no kind":         {UserID: u},
		"bad kind":        {UserID: u, Kind: "Like!"},
		"NUL dedupe":      {UserID: u, Kind: "like", DedupeKey: "a\x00b"},
		"bad UTF-8 key":   {UserID: u, Kind: "like", CollapseKey: "\xff"},
		"huge key":        {UserID: u, Kind: "like", CollapseKey: strings.Repeat("k", 201)},
		"bad UTF-8 data":  {UserID: u, Kind: "like", Data: map[string]string{"a": "\xff"}},
		"NUL data":        {UserID: u, Kind: "like", Data: map[string]string{"a\x00": "b"}},
		"empty data key":  {UserID: u, Kind: "like", Data: map[string]string{"": "b"}},
		"huge data":       {UserID: u, Kind: "like", Data: huge},
		"one bad of many": {UserID: u, Kind: "like", DedupeKey: strings.Repeat("d", 500)},
	} {
		err := pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error {
			return e.svc.EnqueueTx(e.ctx, tx, Message{UserID: u, Kind: "like"}, m)
		})
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Code != connect.CodeInvalidArgument {
			t.Fatalf("%s: want InvalidArgument, got %v", name, err)
		}
	}
	if n := e.count(`SELECT count(*) FROM push_outbox`); n != 0 {
		t.Fatalf("a refused batch left %d rows", n)
	}
	// Bad text in title/body is cleaned, not refused; previews never carry
	// phone numbers or addresses, nor more than a preview's length.
	e.enqueue(Message{UserID: u, Kind: "comment", Title: "Asha\x00 commented\xff",
		Body: "call me on +91 98765-43210 or asha@example.com " + strings.Repeat("é", 500)})
	var title, body string
	if err := e.pool.QueryRow(e.ctx, `SELECT title, body FROM push_outbox`).Scan(&title, &body); err != nil {
		t.Fatal(err)
	}
	if title != "Asha commented" || strings.Contains(body, "98765") || strings.Contains(body, "example.com") || len([]rune(body)) > maxBody {
		t.Fatalf("preview not cleaned: %q / %q", title, body)
	}
}

// A burst to many users goes out in Expo requests of at most 100 messages,
// every device exactly once, over HTTP/2 with gzip and the access token.
func TestBatchingNoDuplicates(t *testing.T) {
	e := newEnv(t, nil)
	ids, toks := e.users(250)
	// Some users have a second device.
	for i := 0; i < 30; i++ {
		tok := fmt.Sprintf("ExpoPushToken[second%016d]", i)
		if err := e.svc.RegisterToken(e.ctx, ids[i], tok, "android", "s2"); err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
	}
	msgs := make([]Message, len(ids))
	for i, u := range ids {
		msgs[i] = Message{UserID: u, Kind: "message", Title: "Chat", Body: "hello", CollapseKey: "chat:abc", Data: map[string]string{"chatId": "abc"}}
	}
	e.enqueue(msgs...)
	e.start()
	e.eventually("every device", func() bool { return e.fake.DeliveredCount() >= len(toks) })
	e.settle()
	got := byToken(e.fake.Delivered())
	if len(got) != len(toks) {
		t.Fatalf("delivered to %d devices, want %d", len(got), len(toks))
	}
	for _, tok := range toks {
		if len(got[tok]) != 1 {
			t.Fatalf("device got %d pushes, want 1", len(got[tok]))
		}
		m := got[tok][0]
		if m.Body != "hello" || m.Data["chatId"] != "abc" || m.Data["kind"] != "message" || m.Priority != "high" || m.ChannelID != ChannelMessages {
			t.Fatalf("push %+v", m)
		}
	}
	for _, r := range e.fake.Requests() {
		if r.Path != expofake.SendPath {
			continue
		}
		if len(r.Messages) > expofake.MaxMessages || r.Status != http.StatusOK {
			t.Fatalf("request of %d messages answered %d", len(r.Messages), r.Status)
		}
		if r.Proto != "HTTP/2.0" || r.Auth != "Bearer test-access-token" {
			t.Fatalf("request over %s with auth %q", r.Proto, r.Auth)
		}
		if len(r.Messages) > 10 && !r.Gzip {
			t.Fatal("a large request was not gzipped")
		}
	}
	if st := e.svc.Stats(); st.Sent != int64(len(toks)) {
		t.Fatalf("stats %+v", st)
	}
}

// Messages collapse per chat with a count; likes and follows are batched.
func TestCollapse(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.BurstWindow = 2 * time.Second })
	ids, toks := e.users(2)
	u, v := ids[0], ids[1]
	e.start()
	for i := 0; i < 3; i++ { // separate transactions, as separate events
		e.enqueue(Message{UserID: u, Kind: "message", Title: "Asha", Body: fmt.Sprintf("msg %d", i), CollapseKey: "chat:x", Data: map[string]string{"chatId": "x"}})
	}
	e.enqueue(Message{UserID: u, Kind: "message", Title: "Ben", Body: "hey", CollapseKey: "chat:y", Data: map[string]string{"chatId": "y"}},
		Message{UserID: u, Kind: "message", Title: "Ben", Body: "there", CollapseKey: "chat:y", Data: map[string]string{"chatId": "y"}})
	e.enqueue(Message{UserID: u, Kind: "like", Title: "Cara liked your post", CollapseKey: "likes"})
	e.enqueue(Message{UserID: u, Kind: "like", Title: "Dan liked your post", CollapseKey: "likes"})
	e.enqueue(Message{UserID: u, Kind: "follow", Title: "Eve followed you", CollapseKey: "follows", CollapsedBody: "{count} people followed you"})
	e.enqueue(Message{UserID: u, Kind: "follow", Title: "Fay followed you", CollapseKey: "follows", CollapsedBody: "{count} people followed you"})
	e.enqueue(Message{UserID: v, Kind: "message", Title: "Asha", Body: "only one", CollapseKey: "chat:x"})
	// No collapse key: never merged.
	e.enqueue(Message{UserID: v, Kind: "comment", Title: "c1"}, Message{UserID: v, Kind: "comment", Title: "c2"})

	e.eventually("the collapsed pushes", func() bool { return e.fake.DeliveredCount() >= 7 })
	e.settle()
	got := byToken(e.fake.Delivered())
	if len(got[toks[0]]) != 4 || len(got[toks[1]]) != 3 {
		t.Fatalf("u got %d pushes (want 4), v got %d (want 3)", len(got[toks[0]]), len(got[toks[1]]))
	}
	bodies := map[string]string{}
	for _, m := range got[toks[0]] {
		bodies[m.Data["chatId"]+"/"+m.Data["kind"]] = m.Body + "|" + m.Data["count"]
	}
	want := map[string]string{"x/message": "3 new messages|3", "y/message": "2 new messages|2", "/like": "2 new likes|2", "/follow": "2 people followed you|2"}
	for k, w := range want {
		if bodies[k] != w {
			t.Fatalf("%s: got %q, want %q (all: %v)", k, bodies[k], w, bodies)
		}
	}
	for _, m := range got[toks[1]] {
		if m.Data["count"] != "" {
			t.Fatalf("a single push carries a count: %+v", m)
		}
	}
}

// Quiet hours defer (and keep collapsing), switched-off kinds drop, online
// users get nothing, and calls bypass all of it.
func TestPolicy(t *testing.T) {
	e := newEnv(t, nil)
	ids, toks := e.users(3)
	sleeper, onliner, other := ids[0], ids[1], ids[2]
	// Quiet hours end 15 s from now: the first flush must see them still on,
	// even on a loaded machine (with 4 s a slow flush found them over).
	resume := time.Now().Add(15 * time.Second).Truncate(time.Millisecond)
	e.policy.set(func(p *testPolicy) {
		p.quiet[sleeper] = resume
		p.online[onliner] = true
		p.off["like"] = true
	})
	e.start()
	e.enqueue(Message{UserID: sleeper, Kind: "message", Title: "Asha", Body: "night", CollapseKey: "chat:q"})
	e.enqueue(Message{UserID: onliner, Kind: "message", Title: "Asha", Body: "you are here", CollapseKey: "chat:q"})
	e.enqueue(Message{UserID: other, Kind: "like", Title: "liked", CollapseKey: "likes"})
	e.eventually("the quiet-hours deferral", func() bool {
		return e.count(`SELECT count(*) FROM push_outbox WHERE user_id = $1 AND due_at = $2`, sleeper.String(), resume) == 1
	})
	if n := e.fake.DeliveredCount(); n != 0 {
		t.Fatalf("%d pushes went out during quiet hours / online / switched off", n)
	}
	// More arrives during quiet hours: it joins the waiting push.
	e.enqueue(Message{UserID: sleeper, Kind: "message", Title: "Asha", Body: "still night", CollapseKey: "chat:q"})
	// A call rings now: urgent bypasses quiet hours and presence.
	call := Message{UserID: sleeper, Kind: "call", Title: "Asha is calling", Urgent: true, CollapseKey: "call",
		Data: map[string]string{"callId": "c1", "callerId": "u9"}, TTL: 45 * time.Second}
	e.enqueue(call)
	e.enqueue(Message{UserID: onliner, Kind: "call", Title: "Asha is calling", Urgent: true, Data: map[string]string{"callId": "c2", "callerId": "u9"}})
	e.eventually("the calls", func() bool { return e.fake.DeliveredCount() >= 2 })
	for _, m := range e.fake.Delivered()[:2] {
		if m.Priority != "high" || m.InterruptionLevel != "time-sensitive" || m.Data["callerId"] != "u9" || m.Data["callId"] == "" || m.Data["kind"] != "call" || m.ChannelID != ChannelCalls {
			t.Fatalf("call push %+v", m)
		}
	}
	e.eventually("the deferred push", func() bool { return e.fake.DeliveredCount() >= 3 })
	e.settle()
	got := byToken(e.fake.Delivered())
	if len(got[toks[0]]) != 2 || len(got[toks[1]]) != 1 || len(got[toks[2]]) != 0 {
		t.Fatalf("deliveries: sleeper %d (want call + 1), online %d (want call only), switched off %d",
			len(got[toks[0]]), len(got[toks[1]]), len(got[toks[2]]))
	}
	night := got[toks[0]][1]
	if night.Body != "2 new messages" || night.Data["count"] != "2" {
		t.Fatalf("deferred push %+v", night)
	}
	if st := e.svc.Stats(); st.SkippedOnline != 1 || st.Dropped != 1 || st.Deferred < 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestDedupe(t *testing.T) {
	e := newEnv(t, nil)
	ids, toks := e.users(2)
	u, v := ids[0], ids[1]
	m := Message{UserID: u, Kind: "comment", Title: "Asha commented", DedupeKey: "evt-1"}
	e.enqueue(m, m) // twice in one transaction
	e.enqueue(m)    // and again later
	// A rolled-back enqueue does not use the key up.
	rb := Message{UserID: u, Kind: "comment", Title: "rolled back", DedupeKey: "evt-2"}
	tx, err := e.pool.Begin(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.EnqueueTx(e.ctx, tx, rb); err != nil {
		t.Fatal(err)
	}
	_ = tx.Rollback(e.ctx)
	// Many parallel redeliveries of one event.
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error {
				return e.svc.EnqueueTx(e.ctx, tx, rb, Message{UserID: v, Kind: "comment", Title: "v", DedupeKey: "evt-1"})
			})
		}()
	}
	wg.Wait()
	e.start()
	e.eventually("the pushes", func() bool { return e.fake.DeliveredCount() >= 3 })
	e.settle()
	got := byToken(e.fake.Delivered())
	if len(got[toks[0]]) != 2 || len(got[toks[1]]) != 1 {
		t.Fatalf("u got %d (want 2), v got %d (want 1: the key is per recipient)", len(got[toks[0]]), len(got[toks[1]]))
	}
}

// DeviceNotRegistered in a ticket removes the token at once.
func TestDeviceNotRegisteredTicket(t *testing.T) {
	e := newEnv(t, nil)
	ids, toks := e.users(2)
	e.fake.Unregister(toks[0])
	e.start()
	e.enqueue(Message{UserID: ids[0], Kind: "follow", Title: "x"}, Message{UserID: ids[1], Kind: "follow", Title: "y"})
	e.eventually("the token removal", func() bool {
		return e.count(`SELECT count(*) FROM push_tokens WHERE token = $1`, toks[0]) == 0
	})
	e.settle()
	if e.count(`SELECT count(*) FROM push_tokens WHERE token = $1 AND last_used_at IS NOT NULL`, toks[1]) != 1 {
		t.Fatal("the working token was removed or not marked used")
	}
	// Later pushes do not go to the dead token.
	e.fake.Reset()
	e.enqueue(Message{UserID: ids[0], Kind: "follow", Title: "again"}, Message{UserID: ids[1], Kind: "follow", Title: "again"})
	e.eventually("the second push", func() bool { return e.fake.DeliveredCount() >= 1 })
	e.settle()
	for _, r := range e.fake.Requests() {
		for _, m := range r.Messages {
			if m.To == toks[0] {
				t.Fatal("a push went to a removed token")
			}
		}
	}
}

// DeviceNotRegistered in a receipt removes the token when receipts are read,
// unless the device registered again after the push went out.
func TestDeviceNotRegisteredReceipt(t *testing.T) {
	e := newEnv(t, nil)
	ids, toks := e.users(3)
	e.fake.UnregisterOnReceipt(toks[0])
	e.fake.UnregisterOnReceipt(toks[2])
	e.start()
	e.enqueue(Message{UserID: ids[0], Kind: "like", Title: "x"}, Message{UserID: ids[1], Kind: "like", Title: "y"})
	e.eventually("the receipts fetch", func() bool {
		return e.count(`SELECT count(*) FROM push_tokens WHERE token = $1`, toks[0]) == 0
	})
	if e.count(`SELECT count(*) FROM push_tokens WHERE token = ANY($1)`, toks[1:]) != 2 {
		t.Fatal("a healthy token was removed")
	}
	var ids2 []string
	for _, r := range e.fake.Requests() {
		if r.Path == expofake.ReceiptsPath {
			ids2 = append(ids2, r.IDs...)
		}
	}
	if len(ids2) < 2 {
		t.Fatalf("receipts asked for %d ids", len(ids2))
	}
	// Re-registered after the push: the stale receipt must not remove it.
	e.enqueue(Message{UserID: ids[2], Kind: "like", Title: "z"})
	e.eventually("the push", func() bool { return len(byToken(e.fake.Delivered())[toks[2]]) == 1 })
	if err := e.svc.RegisterToken(e.ctx, ids[2], toks[2], "ios", "sess"); err != nil {
		t.Fatal(err)
	}
	e.eventually("the receipts job", func() bool {
		return e.count(`SELECT count(*) FROM river_job WHERE kind = 'push_receipts' AND state <> 'completed'`) == 0
	})
	if e.count(`SELECT count(*) FROM push_tokens WHERE token = $1`, toks[2]) != 1 {
		t.Fatal("a token registered after the push was removed by its receipt")
	}
}

// 429 (with Retry-After) and 5xx back off and retry; the push then goes out
// once. MessageRateExceeded re-sends just that message later.
func TestRetryBackoff(t *testing.T) {
	e := newEnv(t, nil)
	ids, toks := e.users(2)
	e.fake.FailNext(1, http.StatusTooManyRequests, time.Second)
	e.fake.FailNext(1, http.StatusServiceUnavailable, 0)
	e.fake.RateLimit(toks[1], 1)
	e.start()
	e.enqueue(Message{UserID: ids[0], Kind: "message", Title: "t", Body: "b", CollapseKey: "chat:r"},
		Message{UserID: ids[1], Kind: "message", Title: "t", Body: "b", CollapseKey: "chat:r"})
	e.eventually("both pushes", func() bool { return e.fake.DeliveredCount() >= 2 })
	e.settle()
	got := byToken(e.fake.Delivered())
	if len(got[toks[0]]) != 1 || len(got[toks[1]]) != 1 {
		t.Fatalf("deliveries %d and %d, want 1 each", len(got[toks[0]]), len(got[toks[1]]))
	}
	var sends []expofake.Request
	for _, r := range e.fake.Requests() {
		if r.Path == expofake.SendPath {
			sends = append(sends, r)
		}
	}
	if len(sends) != 4 || sends[0].Status != 429 || sends[1].Status != 503 || sends[2].Status != 200 || sends[3].Status != 200 {
		var st []int
		for _, r := range sends {
			st = append(st, r.Status)
		}
		t.Fatalf("send statuses %v, want [429 503 200 200]", st)
	}
	// Retry-After is a floor (a lower bound, never flaky).
	if gap := sends[1].At.Sub(sends[0].At); gap < time.Second {
		t.Fatalf("retried %v after a 429 with Retry-After: 1", gap)
	}
	if len(sends[3].Messages) != 1 || sends[3].Messages[0].To != toks[1] {
		t.Fatal("the rate-limited message was not re-sent alone")
	}
	// A request Expo refuses as such is not retried.
	e.fake.Reset()
	e.fake.FailNext(1, http.StatusBadRequest, 0)
	e.enqueue(Message{UserID: ids[0], Kind: "follow", Title: "refused"})
	e.eventually("the refusal", func() bool { return e.svc.Stats().Failed >= 1 })
	e.settle()
	if n := len(e.fake.Requests()); n != 1 {
		t.Fatalf("%d requests after a 400, want 1", n)
	}
}

// Logout and account deletion stop pushes that are already waiting.
func TestForgetStopsWaitingPushes(t *testing.T) {
	e := newEnv(t, nil)
	ids, toks := e.users(3)
	e.enqueue(Message{UserID: ids[0], Kind: "like", Title: "x"}, Message{UserID: ids[1], Kind: "like", Title: "y"},
		Message{UserID: ids[2], Kind: "like", Title: "z"})
	if err := e.svc.ForgetSession(e.ctx, ids[0], "sess"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ForgetUser(e.ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	e.start()
	e.eventually("the remaining push", func() bool { return e.fake.DeliveredCount() >= 1 })
	e.settle()
	got := byToken(e.fake.Delivered())
	if len(got) != 1 || len(got[toks[2]]) != 1 {
		t.Fatalf("deliveries %v", got)
	}
}

// A send job built before a logout re-checks the token when it runs.
func TestSendRechecksTokens(t *testing.T) {
	e := newEnv(t, nil)
	ids, toks := e.users(2)
	e.enqueue(Message{UserID: ids[0], Kind: "like", Title: "x"}, Message{UserID: ids[1], Kind: "like", Title: "y"})
	e.eventually("the rows to be due", func() bool { return e.count(`SELECT count(*) FROM push_outbox WHERE due_at <= now()`) == 2 })
	if err := e.svc.flush(e.ctx); err != nil { // workers not started: build the send job by hand
		t.Fatal(err)
	}
	if e.count(`SELECT count(*) FROM river_job WHERE kind = 'push_send'`) != 1 || e.count(`SELECT count(*) FROM push_outbox`) != 0 {
		t.Fatal("flush did not turn the rows into one send job")
	}
	if err := e.svc.ForgetSession(e.ctx, ids[0], "sess"); err != nil {
		t.Fatal(err)
	}
	// The token now belongs to someone else entirely: still not ids[0]'s push.
	if err := e.svc.RegisterToken(e.ctx, ids[1], toks[0], "ios", "other"); err != nil {
		t.Fatal(err)
	}
	e.start()
	e.eventually("the push", func() bool { return e.fake.DeliveredCount() >= 1 })
	e.settle()
	d := e.fake.Delivered()
	if len(d) != 1 || d[0].Title != "y" || d[0].To != toks[1] {
		t.Fatalf("deliveries %+v: want only y's push to its own device", d)
	}
}

// batchPolicy answers presence for many users in one call.
type batchPolicy struct {
	*testPolicy
	mu    sync.Mutex
	calls int
}

func (p *batchPolicy) OnlineMany(_ context.Context, uids []id.ID) (map[id.ID]bool, error) {
	p.mu.Lock()
	p.calls++
	p.mu.Unlock()
	p.testPolicy.mu.Lock()
	defer p.testPolicy.mu.Unlock()
	out := map[id.ID]bool{}
	for _, u := range uids {
		if p.online[u] {
			out[u] = true
		}
	}
	return out, nil
}

// Dozens of concurrent events for one chat collapse without losing any:
// the counts of what goes out add up to what came in. A Policy with
// OnlineMany is asked once per flush, not once per user.
func TestParallelCollapseCounts(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.BurstWindow = 2 * time.Second })
	bp := &batchPolicy{testPolicy: e.policy}
	svc, err := New(e.pool, e.cfg, bp, logx.Discard())
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	ids, toks := e.users(3)
	bp.set(func(p *testPolicy) { p.online[ids[2]] = true })
	e.start()
	const n = 40
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			err := pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error {
				return e.svc.EnqueueTx(e.ctx, tx,
					Message{UserID: ids[0], Kind: "message", Title: "Asha", Body: fmt.Sprint(i), CollapseKey: "chat:p"},
					Message{UserID: ids[1], Kind: "message", Title: "Asha", Body: fmt.Sprint(i), CollapseKey: "chat:p"},
					Message{UserID: ids[2], Kind: "message", Title: "Asha", Body: fmt.Sprint(i), CollapseKey: "chat:p"})
			})
			if err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	e.eventually("the pushes", func() bool {
		got := byToken(e.fake.Delivered())
		return len(got[toks[0]]) > 0 && len(got[toks[1]]) > 0
	})
	e.settle()
	got := byToken(e.fake.Delivered())
	for _, tok := range toks[:2] {
		sum := 0
		for _, m := range got[tok] {
			c := 1
			if m.Data["count"] != "" {
				fmt.Sscan(m.Data["count"], &c)
			}
			sum += c
		}
		if sum != n {
			t.Fatalf("pushes carry %d messages in all, want %d (%d pushes)", sum, n, len(got[tok]))
		}
	}
	if len(got[toks[2]]) != 0 {
		t.Fatal("an online user was pushed")
	}
	bp.mu.Lock()
	calls := bp.calls
	bp.mu.Unlock()
	if calls == 0 || calls > 10 {
		t.Fatalf("OnlineMany called %d times", calls)
	}
}

// Behind PgBouncer in transaction mode (DB_PGBOUNCER) River polls instead
// of LISTEN/NOTIFY and the whole path still works: enqueue, collapse,
// urgent flush, send, token removal.
func TestThroughPgBouncer(t *testing.T) {
	dsn := pgtest.NewDSN(t)
	b := pgtest.StartPgBouncer(t, dsn)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	pool, err := db.OpenWith(ctx, b.DSN(dsn), db.Options{MaxConns: 16, PgBouncer: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	e := newEnvOn(t, ctx, dsn, pool, nil)
	if !e.svc.cfg.PollOnly {
		t.Fatal("River not in poll-only mode behind PgBouncer")
	}
	ids, toks := e.users(120)
	e.fake.Unregister(toks[0])
	e.start()
	var msgs []Message
	for _, u := range ids {
		msgs = append(msgs, Message{UserID: u, Kind: "message", Title: "t", Body: "a", CollapseKey: "chat:b"},
			Message{UserID: u, Kind: "message", Title: "t", Body: "b", CollapseKey: "chat:b"})
	}
	e.enqueue(msgs...)
	e.enqueue(Message{UserID: ids[1], Kind: "call", Title: "ring", Urgent: true, Data: map[string]string{"callId": "c", "callerId": "x"}})
	e.eventually("every push", func() bool { return e.fake.DeliveredCount() >= len(ids) })
	e.settle()
	got := byToken(e.fake.Delivered())
	if len(got[toks[1]]) != 2 || len(got[toks[2]]) != 1 || got[toks[2]][0].Body != "2 new messages" {
		t.Fatalf("deliveries: %d to the caller's target, %d (%+v) to another", len(got[toks[1]]), len(got[toks[2]]), got[toks[2]])
	}
	if e.count(`SELECT count(*) FROM push_tokens WHERE token = $1`, toks[0]) != 0 {
		t.Fatal("DeviceNotRegistered token kept")
	}
}

// TestChannels: Android channels as the SDK recipe creates them.
func TestChannels(t *testing.T) {
	for _, c := range []struct {
		kind   string
		urgent bool
		want   string
	}{
		{"call", true, ChannelCalls}, {"message", false, ChannelMessages}, {"like", false, ChannelDefault},
		{"follow", false, ChannelDefault}, {"missed_call", false, ChannelDefault}, {"call", false, ChannelDefault},
	} {
		if got := (outRow{kind: c.kind, urgent: c.urgent}).expo().ChannelID; got != c.want {
			t.Errorf("%s urgent=%v: channel %q, want %q", c.kind, c.urgent, got, c.want)
		}
	}
}
