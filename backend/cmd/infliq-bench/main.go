//go:build linux

// Command infliq-bench is the load harness behind `just bench`. It builds
// the infliq binary, starts every tier as its own process on free loopback
// ports (or all of them in one, -topology all) against a fresh PostgreSQL
// database and the real Redis, then drives each registered scenario through
// the gateway with a bounded count and duration (its own lean HTTP/1.1
// client; -client vegeta to compare), and prints throughput, p50/p99
// latency, errors and the RSS of each tier.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"
)

func main() {
	var o options
	flag.StringVar(&o.scenarios, "scenarios", "all", "comma-separated scenario names or prefixes (all = every scenario)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "how long each scenario runs")
	flag.Uint64Var(&o.maxRequests, "max-requests", 2_000_000, "upper bound of requests per scenario")
	flag.IntVar(&o.connections, "connections", 0, "override every scenario's connection count")
	flag.StringVar(&o.client, "client", "infliq", "load generator: infliq (the harness's lean HTTP/1.1 client) or vegeta (for comparison)")
	flag.StringVar(&o.pgURL, "pg", envOr("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"), "PostgreSQL server (a fresh database is created on it)")
	flag.StringVar(&o.redisURL, "redis", envOr("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9"), "Redis (this database is flushed)")
	flag.BoolVar(&o.list, "list", false, "list scenarios and exit")
	flag.BoolVar(&o.keep, "keep", false, "keep the bench database afterwards")
	flag.IntVar(&o.rate, "rate", 0, "open loop: send this many requests per second instead of a closed loop of connections")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write each tier's CPU profile to DIR/<tier>.pprof (go tool pprof); realtime replicas after the first to DIR/replica-N/")
	flag.StringVar(&o.topology, "topology", "split", "split = every tier its own process; all = `infliq all`; a tier list such as realtime,chat = those tiers in one process (calling each other in process), the rest on their own")
	flag.Func("skip-tiers", "comma-separated tiers not to start (an older -bin that predates them, e.g. notify)", func(v string) error {
		o.skipTiers = append(o.skipTiers, strings.Split(v, ",")...)
		return nil
	})
	flag.StringVar(&o.bin, "bin", "", "run this infliq binary instead of building one from the working tree (e.g. main's, for before/after pairs)")
	flag.Func("env", "K=V: set for the infliq processes only (repeatable), e.g. -env GOMAXPROCS=1", func(v string) error {
		if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
			return fmt.Errorf("want K=V, got %q", v)
		}
		o.tierEnv = append(o.tierEnv, v)
		return nil
	})
	flag.IntVar(&o.rtReplicas, "rt-replicas", 1, "start the process running the realtime tier (with -topology realtime,chat the co-located one) this many times, each on its own ports; other tiers balance over them and the realtime scenario spreads its sockets round-robin (more sockets than one process's file descriptors allow)")
	flag.Parse()
	if rt.worker != "" { // a child of the realtime scenario: no stack
		os.Exit(rtWorkerMain(rt.worker))
	}
	if !validTopology(o.topology) {
		fmt.Fprintln(os.Stderr, "infliq-bench: -topology is split, all, or a comma-separated list of distinct tiers")
		os.Exit(2)
	}

	if o.list {
		names := make([]string, 0, len(registry))
		for _, s := range registry {
			names = append(names, fmt.Sprintf("%-28s %s", s.Name, s.Description))
		}
		sort.Strings(names)
		fmt.Println(strings.Join(names, "\n"))
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "infliq-bench:", err)
		os.Exit(1)
	}
}

type options struct {
	scenarios   string
	duration    time.Duration
	maxRequests uint64
	connections int
	client      string
	pgURL       string
	redisURL    string
	list        bool
	keep        bool
	cpuProfile  string
	rate        int
	topology    string
	tierEnv     []string
	bin         string
	skipTiers   []string
	rtReplicas  int
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func validTopology(t string) bool {
	if t == "split" || t == "all" {
		return true
	}
	seen := map[string]bool{}
	for _, n := range strings.Split(t, ",") {
		if !slices.Contains(tierOrder, n) || seen[n] {
			return false
		}
		seen[n] = true
	}
	return len(seen) > 1
}
