//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/url"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/cache"
	"github.com/infliq/infliq/backend/platform/db"
)

type outcome struct {
	name       string
	conns      int
	m          vegeta.Metrics
	rss        map[string]int64   // peak KB during the run
	cpu        map[string]float64 // µs of CPU per request, by process
	rate       int
	note       string // the generator's, e.g. an open loop that fell behind
	verifyErr  error
	prepareErr error
}

func run(ctx context.Context, o options) error {
	if o.client != "infliq" && o.client != "vegeta" {
		return fmt.Errorf("-client %q: want infliq or vegeta", o.client)
	}
	scen := selected(o.scenarios)
	if len(scen) == 0 {
		return fmt.Errorf("no scenario matches %q (try -list)", o.scenarios)
	}
	for _, sc := range scen {
		if sc.Name == "realtime.sockets" && rt.clients > 0 {
			// Refuse a socket plan over the fd limit before the stack starts.
			if _, err := planSockets(max(o.rtReplicas, 1), rt.clients, rt.chats, rt.hold, rt.genProcs, fdLimit()); err != nil {
				return err
			}
		}
	}
	rdb, err := cache.Open(ctx, o.redisURL, cache.Options{})
	if err != nil {
		return err
	}
	defer rdb.Close()
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "building and starting the stack…")
	s, err := startStack(ctx, o)
	if err != nil {
		return err
	}
	defer s.stop(context.Background(), o.keep)
	pool, err := db.Open(ctx, s.vars["DATABASE_URL"], 8)
	if err != nil {
		return err
	}
	defer pool.Close()
	env := &Env{
		BaseURL: s.gateway(), DB: pool, Redis: rdb, Vars: s.vars, RealtimeURLs: s.realtimeURLs,
		issuer:  authn.NewIssuer(s.vars["JWT_SECRET"], "infliq", "infliq-app", time.Hour),
		restart: func(ctx context.Context, tier string) error { return s.restart(ctx, tier) },
	}
	idle := map[string]int64{}
	for _, p := range s.procs {
		idle[p.name] += rssKB(p.cmd.Process.Pid) // replicas sum
	}
	var results []outcome
	for _, sc := range scen {
		if ctx.Err() != nil {
			break
		}
		results = append(results, runScenario(ctx, o, s, env, pool, sc))
	}
	report(results, idle, s)
	for _, r := range results {
		if r.prepareErr != nil || r.verifyErr != nil || r.m.Success < 1 {
			return fmt.Errorf("some scenarios had errors")
		}
	}
	return nil
}

func runScenario(ctx context.Context, o options, s *stack, env *Env, pool *pgxpool.Pool, sc Scenario) outcome {
	out := outcome{name: sc.Name, rss: map[string]int64{}}
	conns := sc.Connections
	if conns == 0 {
		conns = 64
	}
	if o.connections > 0 {
		conns = o.connections
	}
	out.conns = conns
	fmt.Fprintf(os.Stderr, "scenario %s: preparing…\n", sc.Name)
	next, err := sc.Prepare(ctx, env)
	if err != nil {
		out.prepareErr = err
		return out
	}
	gen := newGenerator(o, env, sc.Name, conns, next)
	gen(ctx, time.Second, 0) // warm up connections and caches briefly, then measure
	stopRSS := make(chan struct{})
	var rssWG sync.WaitGroup
	rssWG.Add(1)
	go func() {
		defer rssWG.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			now := map[string]int64{} // replicas sum
			for _, p := range s.procs {
				now[p.name] += rssKB(p.cmd.Process.Pid)
			}
			for n, v := range now {
				out.rss[n] = max(out.rss[n], v)
			}
			select {
			case <-stopRSS:
				return
			case <-t.C:
			}
		}
	}()
	// Closed loop by default: conns workers send back to back, which finds
	// the maximum throughput. With -rate, an open loop sends at a fixed
	// arrival rate whatever the latency (more workers when needed), which is
	// how "N req/s at p99 ≤ X" is measured: a closed loop of 64 can never
	// reach it, since its mean latency is 64/throughput.
	if o.rate > 0 {
		out.rate = o.rate
		fmt.Fprintf(os.Stderr, "scenario %s: %d req/s (open loop, %s) for %s…\n", sc.Name, o.rate, o.client, o.duration)
	} else {
		fmt.Fprintf(os.Stderr, "scenario %s: %d connections (%s) for %s…\n", sc.Name, conns, o.client, o.duration)
	}
	cpu0 := sampleCPU(ctx, s, pool)
	m, note := gen(ctx, o.duration, o.rate)
	out.cpu = cpuPerRequest(cpu0, sampleCPU(ctx, s, pool), m.Requests)
	close(stopRSS)
	rssWG.Wait()
	out.m, out.note = m, note
	if sc.Verify != nil {
		out.verifyErr = sc.Verify(ctx, env)
	}
	return out
}

func report(results []outcome, idle map[string]int64, s *stack) {
	var buf bytes.Buffer
	w := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SCENARIO\tCONNS/RATE\tREQUESTS\tREQ/S\tP50\tP99\tMAX\tERRORS\tGATEWAY RSS\tBUSIEST TIER RSS")
	for _, r := range results {
		if r.prepareErr != nil {
			fmt.Fprintf(w, "%s\t-\t-\t-\t-\t-\t-\tprepare: %v\t-\t-\n", r.name, r.prepareErr)
			continue
		}
		errs := int(math.Round(float64(r.m.Requests) * (1 - r.m.Success)))
		busiest, peak := "", int64(0)
		for name, v := range r.rss {
			if name != "gateway" && v > peak {
				busiest, peak = name, v
			}
		}
		conns := strconv.Itoa(r.conns)
		if r.rate > 0 {
			conns = fmt.Sprintf("%d/s", r.rate)
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%.0f\t%s\t%s\t%s\t%d\t%.1f MB\t%s %.1f MB\n", r.name, conns, r.m.Requests, r.m.Throughput,
			ms(r.m.Latencies.P50), ms(r.m.Latencies.P99), ms(r.m.Latencies.Max), errs,
			float64(r.rss["gateway"])/1024, busiest, float64(peak)/1024)
	}
	_ = w.Flush()
	fmt.Print(buf.String())
	for _, r := range results {
		if r.cpu != nil {
			fmt.Printf("%s CPU per request: %s\n", r.name, formatCPU(r.cpu))
		}
	}
	for _, r := range results {
		if r.note != "" {
			fmt.Printf("%s %s\n", r.name, r.note)
		}
		if len(r.m.Errors) > 0 {
			fmt.Printf("%s errors: %v (status codes %v)\n", r.name, first(r.m.Errors, 5), r.m.StatusCodes)
		}
		if r.verifyErr != nil {
			fmt.Printf("%s verification FAILED: %v\n", r.name, r.verifyErr)
		}
	}
	names := make([]string, 0, len(idle))
	for n := range idle {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Print("idle RSS: ")
	for _, n := range names {
		fmt.Printf("%s %.1f MB  ", n, float64(idle[n])/1024)
	}
	fmt.Println()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

func first(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// generator runs the load for d (a closed loop when rate is 0) and returns
// its metrics and a note for the report ("" when there is nothing to say).
type generator func(ctx context.Context, d time.Duration, rate int) (vegeta.Metrics, string)

// newGenerator returns the -client load generator for a scenario. Both
// number requests from one counter across warm-up and measurement, bounded
// by -max-requests.
func newGenerator(o options, env *Env, name string, conns int, next func(uint64) Request) generator {
	if o.client == "vegeta" {
		return vegetaGenerator(o, env, name, conns, next)
	}
	u, _ := url.Parse(env.BaseURL) // the stack's own loopback URL
	seq := new(atomic.Uint64)
	return func(ctx context.Context, d time.Duration, rate int) (vegeta.Metrics, string) {
		r := runLoad(ctx, loadSpec{
			addr: u.Host, host: u.Host, conns: conns, rate: rate, duration: d, timeout: 30 * time.Second,
			seq: seq, maxRequests: o.maxRequests, next: next,
		})
		return r.metrics(), r.scheduleNote()
	}
}

func vegetaGenerator(o options, env *Env, name string, conns int, next func(uint64) Request) generator {
	var counter uint64
	var mu sync.Mutex
	targeter := func(t *vegeta.Target) error {
		mu.Lock()
		i := counter
		counter++
		mu.Unlock()
		if i >= o.maxRequests {
			return vegeta.ErrNoTargets
		}
		r := next(i)
		t.Method, t.URL, t.Header, t.Body = r.Method, env.BaseURL+r.Path, r.Header, r.Body
		return nil
	}
	return func(ctx context.Context, d time.Duration, rate int) (vegeta.Metrics, string) {
		vr, maxWorkers := vegeta.Rate{Freq: 0}, uint64(conns)
		if rate > 0 {
			vr, maxWorkers = vegeta.Rate{Freq: rate, Per: time.Second}, maxOpenLoopWorkers
		}
		atk := vegeta.NewAttacker(vegeta.Workers(uint64(conns)), vegeta.MaxWorkers(maxWorkers), vegeta.Connections(conns),
			vegeta.KeepAlive(true), vegeta.Timeout(30*time.Second))
		var m vegeta.Metrics
		for res := range atk.Attack(targeter, vr, d, name) {
			m.Add(res)
			if ctx.Err() != nil {
				atk.Stop()
			}
		}
		m.Close()
		return m, ""
	}
}
