package admin

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5/pgxpool"

	adminv1 "github.com/infliq/infliq/backend/gen/infliq/admin/v1"
	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/db"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/logx"
	"github.com/infliq/infliq/backend/platform/pgtest"
)

// seedSQL fills a database the size of a busy month: 5,000 users, 30,000
// posts and 60,000 messages over 30 days, 20,000 session refreshes, and
// 12,000 reports (10,000 on 2,000 posts, 2,000 on 1,000 users) of which
// half are resolved. Ids are ObjectIds of their creation time.
const seedSQL = `
CREATE TEMP TABLE seq AS SELECT g AS i, now() - (g % 43200) * interval '1 minute' AS at FROM generate_series(1, 60000) g;
CREATE FUNCTION pg_temp.oid(t timestamptz, i bigint) RETURNS text LANGUAGE sql AS
  $$ SELECT lpad(to_hex(extract(epoch FROM t)::bigint), 8, '0') || lpad(to_hex(i), 16, '0') $$;
INSERT INTO users (id, name, created_at) SELECT pg_temp.oid(at, i), 'user ' || i, at FROM seq WHERE i <= 5000;
CREATE TEMP TABLE u AS SELECT row_number() OVER (ORDER BY id) AS n, id FROM users;
INSERT INTO posts (id, user_id, content, created_at)
  SELECT pg_temp.oid(at, 100000 + i), (SELECT id FROM u WHERE n = 1 + i % 5000), 'post ' || i, at FROM seq WHERE i <= 30000;
INSERT INTO chats (id, type) VALUES ('0000000000000000000000c1', 'community');
INSERT INTO messages (chat_id, id, sender_id, text, created_at)
  SELECT '0000000000000000000000c1', pg_temp.oid(at, 200000 + i), (SELECT id FROM u WHERE n = 1 + i % 5000), 'm', at FROM seq;
INSERT INTO auth_credentials (user_id, profile_ready) SELECT id, true FROM u;
INSERT INTO auth_sessions (id, user_id, expires_at) SELECT pg_temp.oid(now(), 300000 + n), id, now() + interval '30 days' FROM u;
INSERT INTO auth_refresh_tokens (token_hash, session_id, issued_at, expires_at)
  SELECT sha256(i::text::bytea), (SELECT s.id FROM auth_sessions s JOIN u ON u.id = s.user_id WHERE u.n = 1 + i % 5000), at, now() + interval '30 days'
  FROM seq WHERE i <= 20000;
INSERT INTO post_reports (id, reporter_id, post_id, reason, created_at)
  SELECT pg_temp.oid(at, 400000 + i), (SELECT id FROM u WHERE n = 1 + (i * 7) % 5000),
    (SELECT id FROM posts ORDER BY id LIMIT 1 OFFSET i % 2000), (ARRAY['spam', 'hate', 'nudity'])[1 + i % 3], at
  FROM seq WHERE i <= 10000;
INSERT INTO user_reports (id, reporter_id, target_id, reason, created_at)
  SELECT pg_temp.oid(at, 500000 + i), (SELECT id FROM u WHERE n = 1 + (i * 11) % 5000), (SELECT id FROM u WHERE n = 1 + i % 1000), 'fake', at
  FROM seq WHERE i <= 2000;
INSERT INTO report_outcomes (report_kind, report_id, target_id, outcome, log_id, resolved_at)
  SELECT kind, id, target_id, 'dismissed', pg_temp.oid(now(), 600000), created_at + interval '3 hours'
  FROM moderation_reports WHERE id < (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY id) FROM moderation_reports);
ANALYZE;`

// benchService seeds a database and serves it through a one-connection
// pool, so one PostgreSQL backend runs every statement and its CPU can be
// read from /proc (cpuPerOp).
func benchService(b *testing.B) (*Service, context.Context, *pgxpool.Pool) {
	b.Helper()
	pool, err := db.Open(context.Background(), pgtest.NewDSN(b), 1)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	if _, err := pool.Exec(context.Background(), seedSQL); err != nil {
		b.Fatal(err)
	}
	adminID := id.New()
	s := New(logx.Discard(), Options{DB: pool, BootstrapAdmins: []string{adminID.String()}})
	return s, authn.WithPrincipal(context.Background(), authn.Principal{UserID: adminID}), pool
}

// cpuPerOp runs op b.N times and reports the CPU per op of this process
// (handler and client) and of the PostgreSQL backend, in µs.
func cpuPerOp(b *testing.B, pool *pgxpool.Pool, op func() error) {
	b.Helper()
	var pid int
	if err := pool.QueryRow(context.Background(), `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		b.Fatal(err)
	}
	pg0, self0 := procCPU(pid), selfCPU()
	b.ResetTimer()
	for b.Loop() {
		if err := op(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(procCPU(pid)-pg0)/n/float64(time.Microsecond), "pg-cpu-µs/op")
	b.ReportMetric(float64(selfCPU()-self0)/n/float64(time.Microsecond), "go-cpu-µs/op")
}

// procCPU is a process's user+system CPU from /proc (clock ticks of 10 ms).
func procCPU(pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(raw)
	s = s[strings.LastIndexByte(s, ')')+1:]
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+k) * 10 * time.Millisecond
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReportQueue reads the first page (50 targets) of the open queue
// over 12,000 reports of 3,000 targets, as the console opens it.
func BenchmarkReportQueue(b *testing.B) {
	s, ctx, pool := benchService(b)
	r := connect.NewRequest(&adminv1.ListReportQueueRequest{})
	res, err := s.ListReportQueue(ctx, r)
	if err != nil || len(res.Msg.GetItems()) != 50 {
		b.Fatalf("%v %v", res, err)
	}
	cpuPerOp(b, pool, func() error {
		_, err := s.ListReportQueue(ctx, r)
		return err
	})
}

// BenchmarkOverview computes the 30-day overview over the same month.
func BenchmarkOverview(b *testing.B) {
	s, ctx, pool := benchService(b)
	res, err := s.overview(ctx, time.Now(), 30)
	if err != nil || len(res.GetDays()) != 30 {
		b.Fatalf("%v %v", res, err)
	}
	var posts int32
	for _, d := range res.GetDays() {
		posts += d.GetPosts()
	}
	if posts < 29000 {
		b.Fatalf("seeded posts not counted: %d", posts)
	}
	cpuPerOp(b, pool, func() error {
		_, err := s.overview(ctx, time.Now(), 30)
		return err
	})
}
