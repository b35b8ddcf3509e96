package notify

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	notifyv1 "github.com/infliq/infliq/backend/gen/infliq/notify/v1"
	"github.com/infliq/infliq/backend/gen/infliq/notify/v1/notifyv1connect"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/cache/redistest"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
	"github.com/infliq/infliq/backend/post/posttest"
)

// fakePusher is the push outbox stand-in: it writes the pushes into a table
// in the caller's transaction (so a rolled-back apply leaves none, as the
// real outbox does) and dedupes on DedupeKey.
type fakePusher struct {
	mu     sync.Mutex
	tokens map[string]string // token → "uid/platform/session"
}

func (f *fakePusher) EnqueueTx(ctx context.Context, tx pgx.Tx, msgs ...PushMessage) error {
	for _, m := range msgs {
		if _, err := tx.Exec(ctx, `INSERT INTO test_push_outbox (dedupe, user_id, kind, urgent, title, body, collapse, call_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
			m.DedupeKey, m.UserID, m.Kind, m.Urgent, m.Title, m.Body, m.CollapseKey, m.Data["callId"]); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakePusher) RegisterToken(_ context.Context, uid id.ID, token, platform, session string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens[token] = uid.String() + "/" + platform + "/" + session
	return nil
}

func (f *fakePusher) UnregisterToken(_ context.Context, uid id.ID, token string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v, ok := f.tokens[token]; ok && len(v) > 24 && v[:24] == uid.String() {
		delete(f.tokens, token)
	}
	return nil
}

func (f *fakePusher) ForgetUser(context.Context, id.ID) error { return nil }

func (f *fakePusher) ForgetSession(_ context.Context, uid id.ID, session string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for tok, v := range f.tokens {
		if v == uid.String()+"/ios/"+session || v == uid.String()+"/android/"+session {
			delete(f.tokens, tok)
		}
	}
	return nil
}

type rig struct {
	t      *testing.T
	pool   *pgxpool.Pool
	rdb    redis.UniversalClient
	b      *bus.Redis
	s      *Service
	push   *fakePusher
	url    string
	h1     *http.Client
	client func(uid id.ID) notifyv1connect.NotificationServiceClient
}

func newRig(t *testing.T) *rig {
	t.Helper()
	pool := pgtest.New(t)
	if _, err := pool.Exec(context.Background(), `CREATE TABLE test_push_outbox (dedupe text PRIMARY KEY, user_id text, kind text,
		urgent bool, title text, body text, collapse text, call_id text)`); err != nil {
		t.Fatal(err)
	}
	rdb := redistest.New(t)
	prefix := redistest.Prefix()
	b := bus.New(rdb, prefix, 100)
	r := &rig{t: t, pool: pool, rdb: rdb, b: b, push: &fakePusher{tokens: map[string]string{}}}
	// The inbox cache is on: every test reads through it.
	r.s = New(tiertest.Deps().Log, Options{Pool: pool, Pub: b, Online: b.Online, Push: r.push, Cache: rdb, CachePrefix: prefix})
	url, h2c, h1 := tiertest.Serve(t, NewTier(tiertest.Deps(), r.s).Handler())
	r.url, r.h1 = url, h1
	n := 0
	r.client = func(uid id.ID) notifyv1connect.NotificationServiceClient {
		n++
		if n%2 == 0 {
			return notifyv1connect.NewNotificationServiceClient(h1, url, tiertest.Bearer(tiertest.Token(t, uid)))
		}
		return notifyv1connect.NewNotificationServiceClient(h2c, url, connect.WithGRPC(), tiertest.Bearer(tiertest.Token(t, uid)))
	}
	return r
}

// consume runs a consumer until the test ends.
func (r *rig) consume() *Consumer {
	ctx, cancel := context.WithCancel(context.Background())
	c := r.s.NewConsumer(r.rdb, r.b)
	c.Start(ctx)
	r.t.Cleanup(func() { cancel(); c.Wait() })
	return c
}

func (r *rig) user(name string) id.ID { return posttest.User(r.t, r.pool, name) }

func (r *rig) exec(sql string, args ...any) {
	r.t.Helper()
	if _, err := r.pool.Exec(context.Background(), sql, args...); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) int(sql string, args ...any) int {
	r.t.Helper()
	var n int
	if err := r.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		r.t.Fatal(err)
	}
	return n
}

// apply applies records synchronously (as the consumer would).
func (r *rig) apply(recs ...bus.Record) {
	r.t.Helper()
	for i := range recs {
		if recs[i].ID.IsZero() {
			recs[i].ID = id.New()
		}
		if recs[i].At.IsZero() {
			recs[i].At = time.Now()
		}
	}
	if err := r.s.Apply(context.Background(), recs); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) like(actor, post, owner id.ID) bus.Record {
	r.exec(`INSERT INTO post_likes (post_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, post, actor)
	return bus.Record{Kind: bus.RecLike, Actor: actor, To: []id.ID{owner}, Subject: post}
}

func (r *rig) list(uid id.ID, kinds ...notifyv1.Kind) *notifyv1.ListNotificationsResponse {
	r.t.Helper()
	res, err := r.client(uid).ListNotifications(context.Background(), connect.NewRequest(&notifyv1.ListNotificationsRequest{Kinds: kinds}))
	if err != nil {
		r.t.Fatal(err)
	}
	return res.Msg
}

// eventually polls cond (no timing is asserted: the deadline only bounds a
// broken run).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func pageReq(cursor string) *commonv1.PageRequest { return &commonv1.PageRequest{Cursor: cursor} }

func notifyvNoAuth(r *rig) notifyv1connect.NotificationServiceClient {
	return notifyv1connect.NewNotificationServiceClient(r.h1, r.url)
}
