package post

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/logx"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/backend/post/posttest"
)

// BenchmarkToggleLikeHotPost measures toggles of one post from parallel
// users (the store calls, without the RPC layer): each alone, and in group
// commits through a liker.
func BenchmarkToggleLikeHotPost(b *testing.B) {
	b.Run("alone", func(b *testing.B) { benchToggleLikes(b, pgtest.New(b), setLike) })
	b.Run("batched", func(b *testing.B) {
		pool := pgtest.New(b)
		l := newLiker(pool, nil, logx.Discard(), likeCommitters)
		benchToggleLikes(b, pool, batched(l))
		b.ReportMetric(float64(b.N)/float64(l.batches.Load()), "ops/batch")
	})
}

func benchToggleLikes(b *testing.B, pool *pgxpool.Pool, setLike likeFunc) {
	owner := posttest.User(b, pool, "owner")
	hot := posttest.Post(b, pool, owner, "post", "hot")
	users := make([]id.ID, 64)
	for i := range users {
		users[i] = posttest.User(b, pool, fmt.Sprint("u", i))
	}
	ctx := context.Background()
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(32) // 64 callers on 2 cores, as the hot-post scenario
	cpu0 := pgCPU(b, pool)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1))
		for pb.Next() {
			if _, err := setLike(ctx, pool, users[i%len(users)], hot, likeToggle); err != nil {
				b.Fatal(err)
			}
			i += 64
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(pgCPU(b, pool)-cpu0)*1e4/float64(b.N), "pg-µs/op")
	if counter, rows := likeCounts(b, pool, hot); counter != rows {
		b.Fatalf("like count %d != rows %d", counter, rows)
	}
}

// pgCPU is the user+system CPU time, in clock ticks (1/100 s), that the
// PostgreSQL backends of pool's database used so far (the pool keeps its
// connections through a benchmark).
func pgCPU(tb testing.TB, pool *pgxpool.Pool) int64 {
	tb.Helper()
	rows, err := pool.Query(context.Background(), `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		tb.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		tb.Fatal(err)
	}
	var ticks int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue // PostgreSQL on another machine: no figure
		}
		// Fields 14 and 15 (utime, stime) follow the parenthesized name.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		u, _ := strconv.ParseInt(f[11], 10, 64)
		k, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + k
	}
	return ticks
}
