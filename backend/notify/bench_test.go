package notify

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	notifyv1 "github.com/infliq/infliq/backend/gen/infliq/notify/v1"
	"github.com/infliq/infliq/backend/gen/infliq/notify/v1/notifyv1connect"
	postv1 "github.com/infliq/infliq/backend/gen/infliq/post/v1"
	"github.com/infliq/infliq/backend/gen/infliq/post/v1/postv1connect"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/logx"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
	"github.com/infliq/infliq/backend/post"
	"github.com/infliq/infliq/backend/post/posttest"
	"github.com/infliq/infliq/devstack"
)

// The benchmarks report CPU per operation, summed over this process (the
// tiers and the client), the PostgreSQL backends of the bench database and
// a private Redis server: on a shared machine wall time mostly measures
// the other load.

// privateRedis starts a redis-server of its own on a free port (its CPU is
// then the benchmark's alone) and returns a client and the server's pid.
func privateRedis(b *testing.B) (*redis.Client, int) {
	b.Helper()
	port, err := devstack.FreePort()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		b.Skipf("no redis-server: %v", err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), PoolSize: 64})
	b.Cleanup(func() { _ = rdb.Close() })
	for i := 0; rdb.Ping(context.Background()).Err() != nil; i++ {
		if i > 200 {
			b.Fatal("private redis did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return rdb, cmd.Process.Pid
}

type cpuMark struct{ self, pg, redis time.Duration }

func procCPU(pid int) time.Duration {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ = 100
}

func markCPU(b *testing.B, pool *pgxpool.Pool, redisPid int) cpuMark {
	b.Helper()
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	m := cpuMark{self: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), redis: procCPU(redisPid)}
	rows, err := pool.Query(context.Background(), `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		b.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range pids {
		m.pg += procCPU(p)
	}
	return m
}

func reportCPU(b *testing.B, m0, m1 cpuMark, n int, unit string) {
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(n) }
	b.ReportMetric(per(m1.self-m0.self)+per(m1.pg-m0.pg)+per(m1.redis-m0.redis), "cpu-µs/"+unit)
	b.ReportMetric(per(m1.self-m0.self), "go-µs/"+unit)
	b.ReportMetric(per(m1.pg-m0.pg), "pg-µs/"+unit)
	b.ReportMetric(per(m1.redis-m0.redis), "redis-µs/"+unit)
}

// BenchmarkLikeStorm: b.N distinct users like one post through the post
// tier (Connect over loopback, 64 callers), as posts.like-toggle-hot
// drives it. "route" is the like route alone (its records pile up
// unread); "route+notify" runs the notify consumer during the storm and
// counts its CPU until the stream is drained; "drain" is the consumer
// alone applying the backlog of a storm. The group count is checked
// against the like rows. Run with a fixed -benchtime (e.g. 3000x).
func BenchmarkLikeStorm(b *testing.B) {
	for _, mode := range []string{"route", "route+notify", "drain"} {
		b.Run(mode, func(b *testing.B) { benchLikeStorm(b, mode, 0) })
	}
}

// BenchmarkToggleStorm is posts.like-toggle-hot's load: 200 users toggle
// their like of one post over and over (likes and unlikes interleave in
// one group).
func BenchmarkToggleStorm(b *testing.B) {
	for _, mode := range []string{"route", "route+notify", "drain"} {
		b.Run(mode, func(b *testing.B) { benchLikeStorm(b, mode, 200) })
	}
}

func benchLikeStorm(b *testing.B, mode string, togglers int) {
	pool := pgtest.New(b)
	rdb, redisPid := privateRedis(b)
	bs := bus.New(rdb, "bench:", 100)
	s := New(logx.Discard(), Options{Pool: pool, Pub: bs, Online: bs.Online})
	url, h2c, _ := tiertest.Serve(b, post.NewTier(tiertest.Deps(), pool, bs, config.Content{}).Handler())
	owner := posttest.User(b, pool, "owner")
	hot := posttest.Post(b, pool, owner, "post", "hot")
	// b.N likers in one statement.
	nUsers := b.N
	if togglers > 0 {
		nUsers = togglers
	}
	if _, err := pool.Exec(context.Background(), `INSERT INTO users (id, name)
		SELECT lpad(to_hex(g), 24, '0'), 'u' || g FROM generate_series(1, $1) g`, nUsers); err != nil {
		b.Fatal(err)
	}
	clients := make([]postv1connect.PostServiceClient, nUsers)
	for i := range clients {
		uid, _ := id.Parse(fmt.Sprintf("%024x", i+1))
		clients[i] = postv1connect.NewPostServiceClient(h2c, url, connect.WithGRPC(), tiertest.Bearer(tiertest.Token(b, uid)))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var c *Consumer
	if mode == "route+notify" {
		c = s.NewConsumer(rdb, bs)
		c.Start(ctx)
	}
	var next atomic.Int64
	b.SetParallelism(32) // 64 callers on 2 cores
	m0 := markCPU(b, pool, redisPid)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			var err error
			if togglers > 0 {
				_, err = clients[i%int64(togglers)].ToggleLike(context.Background(), connect.NewRequest(&postv1.ToggleLikeRequest{PostId: hot.String()}))
			} else {
				_, err = clients[i].LikePost(context.Background(), connect.NewRequest(&postv1.LikePostRequest{PostId: hot.String()}))
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	if mode == "drain" {
		b.StopTimer()
		m0 = markCPU(b, pool, redisPid)
		b.StartTimer()
		c = s.NewConsumer(rdb, bs)
		c.Start(ctx)
	}
	if c != nil {
		drained := func() bool {
			var n int64
			for sh := range bus.RecordShards {
				n += rdb.XLen(context.Background(), bs.RecordKey(sh)).Val()
			}
			return n == 0
		}
		for !drained() {
			time.Sleep(5 * time.Millisecond)
		}
	}
	b.StopTimer()
	reportCPU(b, m0, markCPU(b, pool, redisPid), b.N, "like")
	if c != nil {
		b.ReportMetric(float64(b.N)/float64(s.applies.Load()), "likes/batch")
		var count, rows int
		_ = pool.QueryRow(context.Background(), `SELECT COALESCE(sum(actors_count), 0) FROM notification_groups WHERE user_id = $1`, owner).Scan(&count)
		_ = pool.QueryRow(context.Background(), `SELECT count(*) FROM post_likes WHERE post_id = $1`, hot).Scan(&rows)
		if count != rows || (togglers == 0 && rows != b.N) {
			b.Fatalf("group count %d, like rows %d, likes %d", count, rows, b.N)
		}
	}
}

// BenchmarkListNotifications: the inbox read of a user with 40 groups of
// 5 actors each, first page of 20 groups, Connect (binary, as the app's
// SDK sends it) over loopback HTTP/1.1, 64 callers; "query" without the
// first-page cache, "cached" with it.
func BenchmarkListNotifications(b *testing.B) {
	b.Run("query", func(b *testing.B) { benchList(b, false) })
	b.Run("cached", func(b *testing.B) { benchList(b, true) })
}

func benchList(b *testing.B, cached bool) {
	pool := pgtest.New(b)
	rdb, redisPid := privateRedis(b)
	bs := bus.New(rdb, "bench:", 100)
	o := Options{Pool: pool, Pub: bs, Online: bs.Online}
	if cached {
		o.Cache = rdb
	}
	s := New(logx.Discard(), o)
	url, _, h1 := tiertest.Serve(b, NewTier(tiertest.Deps(), s).Handler())
	owner := posttest.User(b, pool, "owner")
	var fans []id.ID
	for i := range 5 {
		fans = append(fans, posttest.User(b, pool, fmt.Sprint("fan", i)))
	}
	var recs []bus.Record
	for range 40 {
		p := posttest.Post(b, pool, owner, "post", "p")
		for _, f := range fans {
			if _, err := pool.Exec(context.Background(), `INSERT INTO post_likes (post_id, user_id) VALUES ($1, $2)`, p, f); err != nil {
				b.Fatal(err)
			}
			recs = append(recs, bus.Record{ID: id.New(), Kind: bus.RecLike, Actor: f, To: []id.ID{owner}, Subject: p, At: time.Now()})
		}
	}
	if err := s.Apply(context.Background(), recs); err != nil {
		b.Fatal(err)
	}
	cl := notifyv1connect.NewNotificationServiceClient(h1, url, tiertest.Bearer(tiertest.Token(b, owner)))
	b.SetParallelism(32)
	m0 := markCPU(b, pool, redisPid)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := cl.ListNotifications(context.Background(), connect.NewRequest(&notifyv1.ListNotificationsRequest{}))
			if err != nil || len(res.Msg.Notifications) != 20 || len(res.Msg.Notifications[0].Actors) != 3 {
				b.Errorf("list: %v", err)
				return
			}
		}
	})
	b.StopTimer()
	reportCPU(b, m0, markCPU(b, pool, redisPid), b.N, "req")
}
