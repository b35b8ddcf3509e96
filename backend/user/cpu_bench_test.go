package user

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// singleConnStore is a store on one connection of the bench database, and
// that connection's PostgreSQL backend pid, so a benchmark can report CPU
// time per operation (this process plus the backend) rather than wall time,
// which on a shared machine mostly measures the other load.
func singleConnStore(b *testing.B) (*Store, int) {
	b.Helper()
	cfg := benchPool.Config().Copy()
	cfg.MaxConns, cfg.MinConns = 1, 1
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	var pid int
	if err := pool.QueryRow(context.Background(), `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		b.Fatal(err)
	}
	return NewStore(pool), pid
}

// cpuNow is this process's CPU time plus PostgreSQL backend pid's (from
// /proc; 0 when unreadable, e.g. a server on another host).
func cpuNow(pid int) (self, pg time.Duration) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return self, 0
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)                  // utime, field 14 of stat
	st, _ := strconv.ParseInt(f[12], 10, 64)                  // stime, field 15
	return self, time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ = 100
}

// reportCPU adds "go-cpu-µs/op" and "pg-cpu-µs/op" to a benchmark that ran
// since (self0, pg0).
func reportCPU(b *testing.B, pid int, self0, pg0 time.Duration) {
	self, pg := cpuNow(pid)
	n := float64(b.N)
	b.ReportMetric(float64((self-self0).Microseconds())/n, "go-cpu-µs/op")
	b.ReportMetric(float64((pg-pg0).Microseconds())/n, "pg-cpu-µs/op")
}
