package push

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/infliq/infliq/backend/platform/db"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/logx"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/devstack/expofake"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(crashEnv); mode != "" {
		crashChild(mode) // never returns
	}
	os.Exit(m.Run())
}

// testPolicy is the notify tier's Policy as a test drives it: who is online,
// who is in quiet hours until when, which kinds are switched off.
type testPolicy struct {
	mu     sync.Mutex
	online map[id.ID]bool
	quiet  map[id.ID]time.Time // resumeAt
	off    map[string]bool     // kinds switched off
	allows int
}

func newPolicy() *testPolicy {
	return &testPolicy{online: map[id.ID]bool{}, quiet: map[id.ID]time.Time{}, off: map[string]bool{}}
}

func (p *testPolicy) Allow(_ context.Context, uid id.ID, kind string, at time.Time) (bool, time.Time, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.allows++
	if p.off[kind] {
		return false, time.Time{}, nil
	}
	if r, ok := p.quiet[uid]; ok && at.Before(r) {
		return false, r, nil
	}
	return true, time.Time{}, nil
}

func (p *testPolicy) Online(_ context.Context, uid id.ID) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.online[uid], nil
}

func (p *testPolicy) set(f func(p *testPolicy)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

type env struct {
	t      testing.TB
	ctx    context.Context
	pool   *pgxpool.Pool
	dsn    string
	fake   *expofake.Server
	policy *testPolicy
	svc    *Service
	cfg    Config
}

// testConfig is fast: short windows so tests take seconds.
func testConfig(url string) Config {
	return Config{
		ExpoPushURL:   url,
		AccessToken:   "test-access-token",
		BurstWindow:   400 * time.Millisecond,
		FlushInterval: 100 * time.Millisecond,
		ReceiptDelay:  300 * time.Millisecond,
		RetryBase:     200 * time.Millisecond,
		RetryMax:      2 * time.Second,
		HTTPTimeout:   5 * time.Second,
		RescueAfter:   time.Second,
		Workers:       6,
		H2C:           true,
	}
}

func newEnv(t testing.TB, tweak func(*Config)) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	dsn := pgtest.NewDSN(t)
	pool, err := db.Open(ctx, dsn, 24)
	if err != nil {
		t.Fatal(err)
	}
	return newEnvOn(t, ctx, dsn, pool, tweak)
}

func newEnvOn(t testing.TB, ctx context.Context, dsn string, pool *pgxpool.Pool, tweak func(*Config)) *env {
	t.Helper()
	t.Cleanup(pool.Close)
	fake := expofake.New()
	fake.AccessToken = "test-access-token"
	url, err := fake.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fake.Close() })
	cfg := testConfig(url)
	if tweak != nil {
		tweak(&cfg)
	}
	e := &env{t: t, ctx: ctx, pool: pool, dsn: dsn, fake: fake, policy: newPolicy(), cfg: cfg}
	e.svc = e.service()
	return e
}

func (e *env) service() *Service {
	e.t.Helper()
	svc, err := New(e.pool, e.cfg, e.policy, logx.Discard())
	if err != nil {
		e.t.Fatal(err)
	}
	return svc
}

func (e *env) start() {
	e.t.Helper()
	if err := e.svc.Start(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.svc.Stop(ctx)
	})
}

// users creates n users, each with one token ("ExponentPushToken[u<i>…]").
func (e *env) users(n int) ([]id.ID, []string) {
	e.t.Helper()
	ids := make([]id.ID, n)
	strs := make([]string, n)
	toks := make([]string, n)
	for i := range ids {
		ids[i] = id.New()
		strs[i] = ids[i].String()
		toks[i] = fmt.Sprintf("ExponentPushToken[%s%06d]", ids[i].String()[12:], i)
	}
	if _, err := e.pool.Exec(e.ctx, `INSERT INTO users (id) SELECT unnest($1::text[])`, strs); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.pool.Exec(e.ctx, `INSERT INTO push_tokens (token, user_id, platform, session_id)
SELECT t, u, 'ios', 'sess' FROM unnest($1::text[], $2::text[]) AS v(t, u)`, toks, strs); err != nil {
		e.t.Fatal(err)
	}
	return ids, toks
}

func (e *env) enqueue(msgs ...Message) {
	e.t.Helper()
	if err := pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error { return e.svc.EnqueueTx(e.ctx, tx, msgs...) }); err != nil {
		e.t.Fatal(err)
	}
}

// eventually polls cond until it holds (or fails the test after a generous
// deadline: the deadline guards against hangs, it is not a timing check).
func (e *env) eventually(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(e.ctx, q, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// quiet reports that nothing is waiting to be sent: no outbox rows and no
// unfinished send or flush-produced work.
func (e *env) quiet() bool {
	return e.count(`SELECT count(*) FROM push_outbox`) == 0 &&
		e.count(`SELECT count(*) FROM river_job WHERE kind = 'push_send' AND state NOT IN ('completed','cancelled','discarded')`) == 0
}

// settle waits until the outbox and the send jobs are drained.
func (e *env) settle() {
	e.t.Helper()
	e.eventually("the outbox to drain", e.quiet)
}

func byToken(ms []expofake.Message) map[string][]expofake.Message {
	out := map[string][]expofake.Message{}
	for _, m := range ms {
		out[m.To] = append(out[m.To], m)
	}
	return out
}
