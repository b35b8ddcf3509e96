//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// clockTicks is USER_HZ, the unit of utime/stime in /proc/<pid>/stat (100
// on every Linux this runs on).
const clockTicks = 100

// cpuTicks is a process's user+system CPU time in clock ticks.
func cpuTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces; fields after it are fixed.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return u + k
}

// cpuSample is the CPU time of every tier and of the bench database's
// PostgreSQL backends at one instant. Per-request CPU is a steadier figure
// than throughput on a shared two-core machine: it does not move when
// another process takes a core.
type cpuSample map[string]int64

func sampleCPU(ctx context.Context, s *stack, pool *pgxpool.Pool) cpuSample {
	out := cpuSample{"bench": cpuTicks(os.Getpid())}
	for _, pid := range pidsNamed("redis-server") {
		out["redis:"+strconv.Itoa(pid)] = cpuTicks(pid)
	}
	for _, p := range s.procs {
		out[p.name] += cpuTicks(p.cmd.Process.Pid) // replicas sum
	}
	samplePG(ctx, pool, out)
	return out
}

// samplePG adds the CPU time of the bench database's PostgreSQL backends
// to out, keyed "pg:<pid>".
func samplePG(ctx context.Context, pool *pgxpool.Pool, out cpuSample) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	rows, err := pool.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		return
	}
	defer rows.Close()
	for rows.Next() {
		var pid int
		if rows.Scan(&pid) == nil {
			out["pg:"+strconv.Itoa(pid)] = cpuTicks(pid)
		}
	}
}

// cpuPerRequest is microseconds of CPU per request between two samples,
// per tier, for PostgreSQL (backends present in both samples), and for the
// load generator itself.
func cpuPerRequest(a, b cpuSample, requests uint64) map[string]float64 {
	out := map[string]float64{}
	if requests == 0 {
		return out
	}
	for k, v1 := range b {
		v0, ok := a[k]
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(k, ":")
		if name == "pg" {
			name = "postgres"
		}
		out[name] += float64(v1-v0) * 1e6 / clockTicks / float64(requests)
	}
	return out
}

// formatCPU lists the tiers that used CPU, busiest first; the total leaves
// out the load generator.
func formatCPU(c map[string]float64) string {
	names := make([]string, 0, len(c))
	total := 0.0
	for n, v := range c {
		if v >= 1 {
			names = append(names, n)
		}
		if !strings.HasPrefix(n, "bench") { // the generator: the parent and its bench-worker processes
			total += v
		}
	}
	sort.Slice(names, func(i, j int) bool { return c[names[i]] > c[names[j]] })
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %.0f", n, c[n]))
	}
	return fmt.Sprintf("%.0f µs (%s)", total, strings.Join(parts, ", "))
}

// pidsNamed lists the processes whose command name is comm (the local
// Redis server: its CPU is part of every request's cost).
func pidsNamed(comm string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if b, err := os.ReadFile("/proc/" + e.Name() + "/comm"); err == nil && strings.TrimSpace(string(b)) == comm {
			out = append(out, pid)
		}
	}
	return out
}

// machineTicks reads the machine's CPU time from /proc/stat: busy (every
// state but idle and iowait), of which softirq (mostly loopback TCP
// here), and the total over all cores.
func machineTicks() (busy, softirq, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, 0, 0
	}
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i >= 7 { // steal, guest and guest_nice: guest time is already in user
			if i == 7 {
				busy += n
				total += n
			}
			continue
		}
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
		if i == 6 {
			softirq += n
		}
	}
	return busy, softirq, total
}

// machineBusy formats how busy the whole machine was between two
// machineTicks readings, as a share of all its cores.
func machineBusy(b0, s0, t0, b1, s1, t1 int64) string {
	if t1 <= t0 {
		return "?"
	}
	return fmt.Sprintf("machine %.0f%% busy over its %d cores (softirq %.0f%%)",
		100*float64(b1-b0)/float64(t1-t0), runtime.NumCPU(), 100*float64(s1-s0)/float64(t1-t0))
}
