//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/compat/socketio/sioclient"
)

// The realtime scenario speaks Socket.IO over websockets straight to the
// realtime tier (the gateway only proxies bytes), in two bounded phases:
//  1. memory: N concurrent authenticated sockets; the realtime process's RSS
//     growth per connection (read from its /metrics).
//  2. messages: pairs of sockets in two-person chats, each message sent with
//     send-message at a fixed total rate for a fixed time; send→receive
//     latency measured on the other member's new-message, every message
//     checked for arrival and persistence.
var rt struct {
	clients     int
	chats       int
	rate        int
	duration    time.Duration
	sourceAddrs int
	dialWorkers int
	hold        bool
	settle      time.Duration
	reconnect   bool
	restart     bool
	connectRate int
	genProcs    int
	genNice     int
	worker      string // the work file of a generator worker process
	sourceBase  int    // the first source address is 127.0.0.<sourceBase>
}

func init() {
	flag.IntVar(&rt.clients, "rt-clients", 10000, "realtime scenario: concurrent websocket clients in the memory phase")
	flag.IntVar(&rt.chats, "rt-chats", 1000, "realtime scenario: two-person chats in the message phase")
	flag.IntVar(&rt.rate, "rt-rate", 2000, "realtime scenario: messages per second in the message phase")
	flag.DurationVar(&rt.duration, "rt-duration", 10*time.Second, "realtime scenario: length of the message phase")
	flag.IntVar(&rt.sourceAddrs, "rt-source-addrs", 4, "realtime scenario: spread client sockets over this many loopback source addresses (127.0.0.2, .3, …), each with its own ephemeral ports")
	flag.IntVar(&rt.dialWorkers, "rt-dial-workers", 32, "realtime scenario: concurrent connects (the connect storm)")
	flag.DurationVar(&rt.settle, "rt-settle", 3*time.Second, "realtime scenario: idle time before the memory reading (more than 2m includes the runtime's periodic GC, which shrinks idle goroutine stacks)")
	flag.BoolVar(&rt.reconnect, "rt-reconnect", false, "realtime scenario: after the memory reading, drop every idle socket at once and reconnect them all (a reconnect storm), timing until all are back")
	flag.IntVar(&rt.connectRate, "rt-connect-rate", 0, "realtime scenario: connect storm: open the -rt-clients sockets at this many new sockets per second (open loop, each dial on its own goroutine) instead of with -rt-dial-workers; reports the achieved rate, errors and CPU per connect; with -rt-reconnect the reconnect storm runs at this rate too")
	flag.BoolVar(&rt.restart, "rt-restart", false, "realtime scenario: after the memory reading, restart the realtime process (SIGTERM, then start it again) and reconnect every idle socket once it is healthy, timing from the restart until all are back")
	flag.BoolVar(&rt.hold, "rt-hold", false, "realtime scenario: keep the memory phase's idle sockets connected through the message phase")
	flag.IntVar(&rt.genNice, "rt-gen-nice", 0, "realtime scenario: run the generator worker processes (the idle sockets) at this nice value, so the clients simulated on the server's own cores yield CPU to it; the chatting sockets and the latency clock stay in this process at its priority")
	flag.IntVar(&rt.genProcs, "rt-gen-procs", 0, fmt.Sprintf("realtime scenario: hold the memory phase's idle sockets in this many generator worker processes (the bench binary re-run; at most %d sockets each, the fd limit); 0 = as many as needed when -rt-clients exceeds %d, else none (all in this process)", maxWorkerSockets, maxWorkerSockets))
	flag.StringVar(&rt.worker, "rt-worker", "", "internal: run as a generator worker of the realtime scenario, dialing the sockets listed in this file (commands on stdin, one JSON report per phase on stdout)")
	flag.IntVar(&rt.sourceBase, "rt-source-base", 2, "internal: the first loopback source address of -rt-source-addrs is 127.0.0.<this>")
	// Each socket is a file descriptor on both sides; children inherit this.
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
	register(Scenario{
		Name:        "realtime.sockets",
		Description: "socket.io: RSS per websocket client, then send→receive latency over two-person chats (flags -rt-*)",
		Connections: 1,
		Prepare: func(ctx context.Context, env *Env) (func(uint64) Request, error) {
			if err := realtimeBench(ctx, env); err != nil {
				return nil, err
			}
			// The harness's HTTP phase then only touches /health.
			return func(uint64) Request { return Request{Method: "GET", Path: "/health"} }, nil
		},
	})
}

// memMetrics are the realtime tier's memory gauges from its /metrics.
var memMetrics = []string{"process_resident_memory_bytes", "go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes", "go_goroutines"}

// realtimeMem reads memMetrics of each realtime replica and their sum.
func realtimeMem(bases []string) (sum map[string]float64, per []map[string]float64, err error) {
	sum = map[string]float64{}
	for _, b := range bases {
		m, err := replicaMem(b)
		if err != nil {
			return nil, nil, err
		}
		for k, v := range m {
			sum[k] += v
		}
		per = append(per, m)
	}
	return sum, per, nil
}

// replicaMem reads memMetrics of one realtime process.
func replicaMem(base string) (map[string]float64, error) {
	res, err := http.Get(base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		for _, m := range memMetrics {
			if v, ok := strings.CutPrefix(sc.Text(), m+" "); ok {
				out[m], _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
			}
		}
	}
	if out["process_resident_memory_bytes"] == 0 {
		return nil, fmt.Errorf("no process_resident_memory_bytes in %s/metrics", base)
	}
	return out, nil
}

// metricSum sums the samples of a tier's /metrics whose line starts with
// prefix and contains substr, over every replica of a comma-separated list
// (0 when the tier is unreachable: the figures it feeds are diagnostics).
func metricSum(bases, prefix, substr string) float64 {
	var sum float64
	for _, b := range strings.Split(bases, ",") {
		sum += replicaMetricSum(b, prefix, substr)
	}
	return sum
}

func replicaMetricSum(base, prefix, substr string) float64 {
	res, err := http.Get(base + "/metrics")
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	var sum float64
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, prefix) || !containsAll(l, substr) {
			continue
		}
		if i := strings.LastIndexByte(l, ' '); i > 0 {
			v, _ := strconv.ParseFloat(l[i+1:], 64)
			sum += v
		}
	}
	return sum
}

// containsAll reports whether l holds every "&"-separated part of substr.
func containsAll(l, substr string) bool {
	for part := range strings.SplitSeq(substr, "&") {
		if !strings.Contains(l, part) {
			return false
		}
	}
	return true
}

// phaseStats are counters read around the message phase: GC cycles of the
// two Go tiers on the path and the batched send calls realtime made.
type phaseStats struct {
	realtimeGC, chatGC, sendCalls, writes, packets float64
	sendFast                                       [2]float64 // SendMessagesAs calls done within 10 and 25 ms
	// Sends seen by realtime per stage ("queued", "total"): count, within
	// 10 ms, within 25 ms.
	stage map[string][3]float64
}

// over formats how many of a histogram's observations between two readings
// took longer than 10 and 25 ms.
func over(a, b [3]float64) string {
	n := b[0] - a[0]
	return fmt.Sprintf("%.0f of %.0f over 10 ms, %.0f over 25 ms", n-(b[1]-a[1]), n, n-(b[2]-a[2]))
}

func readPhaseStats(env *Env) phaseStats {
	rt, chat := strings.Join(env.RealtimeURLs, ","), env.Vars["CHAT_SERVICE_URL"]
	stage := map[string][3]float64{}
	for _, st := range []string{"queued", "call", "total"} {
		l := `stage="` + st + `"`
		stage[st] = [3]float64{
			metricSum(rt, "infliq_realtime_send_seconds_count", l),
			metricSum(rt, "infliq_realtime_send_seconds_bucket", `le="0.01"&`+l),
			metricSum(rt, "infliq_realtime_send_seconds_bucket", `le="0.025"&`+l),
		}
	}
	return phaseStats{
		stage:      stage,
		realtimeGC: metricSum(rt, "go_gc_duration_seconds_count", ""),
		chatGC:     metricSum(chat, "go_gc_duration_seconds_count", ""),
		sendCalls:  metricSum(chat, "infliq_rpc_duration_seconds_count", "SendMessagesAs"),
		sendFast: [2]float64{
			metricSum(chat, "infliq_rpc_duration_seconds_bucket", `SendMessagesAs&le="0.01"`),
			metricSum(chat, "infliq_rpc_duration_seconds_bucket", `SendMessagesAs&le="0.025"`),
		},
		writes:  metricSum(rt, "infliq_realtime_socket_writes_total", ""),
		packets: metricSum(rt, "infliq_realtime_socket_packets_total", ""),
	}
}

// seedSocketUsers inserts n users and returns their ids.
func seedSocketUsers(ctx context.Context, env *Env, n int) ([]id.ID, error) {
	ids := make([]id.ID, n)
	strs := make([]string, n)
	for i := range ids {
		ids[i] = id.New()
		strs[i] = ids[i].String()
	}
	_, err := env.DB.Exec(ctx, `INSERT INTO users (id, name) SELECT u, 'bench' FROM unnest($1::text[]) AS u`, strs)
	return ids, err
}

// dialers bind client sockets to 127.0.0.2, 127.0.0.3, …: one source
// address has about 28k ephemeral ports towards one server port.
var dialers = sync.OnceValue(func() []*websocket.Dialer {
	n := max(rt.sourceAddrs, 1)
	out := make([]*websocket.Dialer, n)
	for i := range out {
		nd := &net.Dialer{Timeout: 10 * time.Second}
		if rt.sourceAddrs > 0 {
			nd.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(rt.sourceBase+i))}
		}
		d := *sioclient.Dialer
		d.NetDialContext = nd.DialContext
		out[i] = &d
	}
	return out
})

// dialAll connects one socket per user with bounded concurrency, spread
// round-robin over the realtime replicas.
func dialAll(ctx context.Context, bases []string, env *Env, users []id.ID) ([]*sioclient.Conn, error) {
	return dialTargets(ctx, len(users), func(i int) (string, string) { return bases[i%len(bases)], env.Token(users[i]) })
}

// dialTargets connects n sockets, the i-th to target(i) (base URL, token),
// with -rt-dial-workers concurrent dials, stopping at the first error.
func dialTargets(ctx context.Context, n int, target func(i int) (base, token string)) ([]*sioclient.Conn, error) {
	ds := dialers()
	conns := make([]*sioclient.Conn, n)
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < max(rt.dialWorkers, 1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n || firstErr.Load() != nil {
					return
				}
				base, token := target(i)
				c, err := sioclient.DialWith(ds[i%len(ds)], base, "/socket.io/", token)
				if err != nil {
					firstErr.CompareAndSwap(nil, fmt.Errorf("client %d: %w", i, err))
					return
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		closeAll(conns)
		return nil, err
	}
	return conns, ctx.Err()
}

// stormResult is what an open-loop connect storm achieved.
type stormResult struct {
	conns   []*sioclient.Conn // nil where the dial failed
	dur     time.Duration     // until the last dial ended
	errs    int
	err     error // the first error
	lateMax time.Duration
}

// dialRate connects one socket per user, spread round-robin over the
// realtime replicas, starting dials at rate per second on a goroutine each
// (an open loop: a slow server makes dials pile up, not start later), and
// counts errors instead of stopping.
func dialRate(ctx context.Context, bases []string, env *Env, users []id.ID, rate int) stormResult {
	return dialTargetsRate(ctx, len(users), rate, func(i int) (string, string) { return bases[i%len(bases)], env.Token(users[i]) })
}

func dialTargetsRate(ctx context.Context, n, rate int, target func(i int) (base, token string)) stormResult {
	ds := dialers()
	r := stormResult{conns: make([]*sioclient.Conn, n)}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		at := start.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		} else if -d > r.lateMax {
			r.lateMax = -d // the generator itself fell behind
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			base, token := target(i)
			c, err := sioclient.DialWith(ds[i%len(ds)], base, "/socket.io/", token)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				r.errs++
				if r.err == nil {
					r.err = fmt.Errorf("client %d: %w", i, err)
				}
				return
			}
			r.conns[i] = c
		}()
	}
	wg.Wait()
	r.dur = time.Since(start)
	return r
}

// connectStorm runs dialRate and prints the achieved rate, the errors and
// the CPU per connect of every process.
func connectStorm(ctx context.Context, bases []string, env *Env, users []id.ID, what string) ([]*sioclient.Conn, error) {
	cpu0 := messageCPU(ctx, env)
	r := dialRate(ctx, bases, env, users, rt.connectRate)
	printStorm(what, len(users), r, cpuPerRequest(cpu0, messageCPU(ctx, env), uint64(len(users))))
	return r.conns, nil
}

// printStorm prints what a connect storm of n sockets achieved.
func printStorm(what string, n int, r stormResult, cpu map[string]float64) {
	ok := n - r.errs
	fmt.Printf("realtime.sockets %s: %d sockets offered at %d/s, %d connected in %s (%.0f/s achieved), %d errors, generator at most %s behind schedule\n",
		what, n, rt.connectRate, ok, r.dur.Round(time.Millisecond), float64(ok)/r.dur.Seconds(), r.errs, r.lateMax.Round(time.Millisecond))
	fmt.Printf("realtime.sockets %s CPU per connect: %s (load average %s)\n", what, formatCPU(cpu), loadAvg())
	if r.err != nil {
		fmt.Printf("realtime.sockets %s: first error: %v\n", what, r.err)
	}
}

// drainAll reads every socket (answering pings) on a goroutine each.
func drainAll(conns []*sioclient.Conn, wg *sync.WaitGroup) {
	for _, c := range conns {
		if c == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if _, err := c.Read(); err != nil {
					return
				}
			}
		}()
	}
}

func closeAll(conns []*sioclient.Conn) {
	for _, c := range conns {
		if c != nil {
			_ = c.Close()
		}
	}
}

func realtimeBench(ctx context.Context, env *Env) error {
	bases := env.RealtimeURLs
	// Phase 1: memory per connection.
	users, err := seedSocketUsers(ctx, env, max(rt.clients, 2*rt.chats))
	if err != nil {
		return err
	}
	if rt.clients == 0 { // -rt-clients 0: message phase only
		return messagePhase(ctx, env, bases, users[:2*rt.chats])
	}
	procs, err := planSockets(len(bases), rt.clients, rt.chats, rt.hold, rt.genProcs, fdLimit())
	if err != nil {
		return err
	}
	var idle idleSockets = &localSockets{env: env, bases: bases, users: users[:rt.clients]}
	if procs > 0 {
		ws, err := startWorkers(ctx, env, bases, users[:rt.clients], procs)
		if err != nil {
			return err
		}
		fmt.Printf("realtime.sockets: %d idle sockets held by %d generator worker processes, spread over %d realtime replicas\n", rt.clients, procs, len(bases))
		idle = ws
	}
	before, perBefore, err := realtimeMem(bases)
	if err != nil {
		idle.close()
		return err
	}
	start := time.Now()
	if _, err := idle.dial(ctx, "connect storm"); err != nil {
		idle.close()
		return err
	}
	connectDur := time.Since(start)
	time.Sleep(rt.settle) // let the server settle (GC, buffers)
	after, perAfter, err := realtimeMem(bases)
	if err != nil {
		idle.close()
		return err
	}
	printMemory(connectDur, before, after, perBefore, perAfter)
	if rt.restart {
		start := time.Now()
		if err := env.restart(ctx, "realtime"); err != nil {
			idle.close()
			return fmt.Errorf("restart: %w", err)
		}
		up := time.Since(start)
		idle.drop() // the server closed them: release the client ends
		errs, err := idle.dial(ctx, "reconnect storm after restart")
		if err != nil {
			idle.close()
			return fmt.Errorf("reconnect after restart: %w", err)
		}
		d := time.Since(start)
		what := "realtime"
		if len(bases) > 1 {
			what = fmt.Sprintf("all %d realtime replicas", len(bases))
		}
		fmt.Printf("realtime.sockets restart: %s stopped and healthy again in %s; %d of %d sockets reconnected %s later; settled %s after the restart began (%d errors)\n",
			what, up.Round(time.Millisecond), rt.clients-errs, rt.clients, (d - up).Round(time.Millisecond), d.Round(time.Millisecond), errs)
	} else if rt.reconnect {
		idle.drop()
		start := time.Now()
		if _, err := idle.dial(ctx, "reconnect storm"); err != nil {
			idle.close()
			return fmt.Errorf("reconnect storm: %w", err)
		}
		d := time.Since(start)
		if rt.connectRate == 0 { // the closed loop stops at the first error; the open loop printed its own
			fmt.Printf("realtime.sockets reconnect storm: %d sockets dropped at once and all reconnected in %s (%.0f/s, %d concurrent dials), no errors\n",
				rt.clients, d.Round(time.Millisecond), float64(rt.clients)/d.Seconds(), rt.dialWorkers)
		}
	}
	if rt.hold {
		fmt.Printf("realtime.sockets: the %d idle sockets stay connected through the message phase\n", rt.clients)
		defer idle.close()
	} else {
		idle.close()
	}

	// Phase 2: message latency over two-person chats.
	return messagePhase(ctx, env, bases, users[:2*rt.chats])
}

// printMemory prints the memory reading: the realtime tier's sum and, with
// several replicas, each replica's share.
func printMemory(connectDur time.Duration, before, after map[string]float64, perBefore, perAfter []map[string]float64) {
	rss0, rss1 := before["process_resident_memory_bytes"], after["process_resident_memory_bytes"]
	per := func(m string) float64 { return (after[m] - before[m]) / 1024 / float64(rt.clients) }
	fmt.Printf("realtime.sockets memory: %d websocket clients connected in %s (%.0f/s); realtime RSS %.1f MB → %.1f MB: +%.1f MB, %.1f KB per connection (heap in use %.1f KB, stacks %.1f KB, goroutines %.1f per connection)\n",
		rt.clients, connectDur.Round(time.Millisecond), float64(rt.clients)/connectDur.Seconds(),
		rss0/1e6, rss1/1e6, (rss1-rss0)/1e6, (rss1-rss0)/1024/float64(rt.clients),
		per("go_memstats_heap_inuse_bytes"), per("go_memstats_stack_inuse_bytes"), (after["go_goroutines"]-before["go_goroutines"])/float64(rt.clients))
	if len(perAfter) < 2 {
		return
	}
	parts := make([]string, len(perAfter))
	for r, a := range perAfter {
		b := perBefore[r]
		n := float64(replicaShare(rt.clients, len(perAfter), r))
		d := func(m string) float64 { return a[m] - b[m] }
		parts[r] = fmt.Sprintf("#%d %.0f sockets, RSS %.1f → %.1f MB, %.1f KB per connection (heap %.1f KB, stacks %.1f KB, %.0f goroutines)",
			r+1, n, b["process_resident_memory_bytes"]/1e6, a["process_resident_memory_bytes"]/1e6, d("process_resident_memory_bytes")/1024/n,
			d("go_memstats_heap_inuse_bytes")/1024/n, d("go_memstats_stack_inuse_bytes")/1024/n, a["go_goroutines"])
	}
	fmt.Printf("realtime.sockets memory per replica: %s\n", strings.Join(parts, "; "))
}

// replicaShare is how many of n sockets dealt round-robin over replicas
// the r-th gets.
func replicaShare(n, replicas, r int) int {
	return n/replicas + min(1, max(0, n%replicas-r))
}

type benchPair struct {
	chatID   string
	sender   *sioclient.Conn
	receiver *sioclient.Conn
}

func messagePhase(ctx context.Context, env *Env, bases []string, users []id.ID) error {
	pairs := make([]benchPair, rt.chats)
	for i := range pairs {
		chatID := id.New().String()
		a, b := users[2*i], users[2*i+1]
		if _, err := env.DB.Exec(ctx, `INSERT INTO chats (id, type, direct_key) VALUES ($1, 'chat', $2)`, chatID, a.String()+":"+b.String()); err != nil {
			return err
		}
		if _, err := env.DB.Exec(ctx, `INSERT INTO chat_members (chat_id, user_id) VALUES ($1, $2), ($1, $3)`, chatID, a.String(), b.String()); err != nil {
			return err
		}
		pairs[i].chatID = chatID
	}
	conns, err := dialAll(ctx, bases, env, users) // a pair's two sockets on different replicas when there are several
	if err != nil {
		return err
	}
	defer closeAll(conns)
	for i := range pairs {
		pairs[i].sender, pairs[i].receiver = conns[2*i], conns[2*i+1]
		for _, c := range []*sioclient.Conn{pairs[i].sender, pairs[i].receiver} {
			if err := c.Emit(0, "join-chat", pairs[i].chatID); err != nil {
				return err
			}
			if p, err := c.Read(); err != nil || !strings.Contains(string(p.Args[0]), `"ok":true`) {
				return fmt.Errorf("join-chat: %v %v", p.Args, err)
			}
		}
	}
	var (
		mu        sync.Mutex
		latencies []time.Duration
		ackLats   []time.Duration // send→ack: the sender's replica, chat and the commit
		acked     atomic.Int64
		ackErrs   atomic.Int64
		wg        sync.WaitGroup
	)
	total := int(float64(rt.rate) * rt.duration.Seconds())
	sentAt := make([]atomic.Int64, total+1) // by ack id
	// Senders drain their acks and their own echoes; receivers time arrivals.
	for i := range pairs {
		wg.Add(2)
		go func(c *sioclient.Conn) {
			defer wg.Done()
			for {
				p, err := c.Read()
				if err != nil {
					return
				}
				if p.Event == "" && len(p.Args) > 0 {
					if strings.Contains(string(p.Args[0]), `"ok":true`) {
						acked.Add(1)
						if p.AckID > 0 && p.AckID < len(sentAt) {
							if t := sentAt[p.AckID].Load(); t != 0 {
								d := time.Since(time.Unix(0, t))
								mu.Lock()
								ackLats = append(ackLats, d)
								mu.Unlock()
							}
						}
					} else {
						ackErrs.Add(1)
					}
				}
			}
		}(pairs[i].sender)
		go func(c *sioclient.Conn) {
			defer wg.Done()
			for {
				p, err := c.Read()
				if err != nil {
					return
				}
				if p.Event != "new-message" || len(p.Args) == 0 {
					continue
				}
				var nm struct {
					ClientMessageID string `json:"clientMessageId"`
				}
				_ = json.Unmarshal(p.Args[0], &nm)
				_, ts, _ := strings.Cut(nm.ClientMessageID, ":")
				ns, err := strconv.ParseInt(ts, 10, 64)
				if err != nil {
					continue
				}
				d := time.Since(time.Unix(0, ns))
				mu.Lock()
				latencies = append(latencies, d)
				mu.Unlock()
			}
		}(pairs[i].receiver)
	}
	// Warm-up (not measured): one message per chat opens the pooled
	// connections between tiers and to the database.
	for i, p := range pairs {
		if err := p.sender.Emit(0, "send-message", map[string]string{"chatId": p.chatID, "text": "warm-up", "clientMessageId": fmt.Sprintf("w%d", i)}); err != nil {
			return err
		}
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && int(acked.Load()+ackErrs.Load()) < len(pairs); {
		time.Sleep(20 * time.Millisecond)
	}
	acked.Store(0)
	ackErrs.Store(0)
	cpu0 := messageCPU(ctx, env)
	mb0, ms0, mt0 := machineTicks()
	stats0 := readPhaseStats(env)
	// Open loop: one send every 1/rate, round-robin over the chats.
	interval := time.Second / time.Duration(rt.rate)
	start := time.Now()
	for n := 0; n < total && ctx.Err() == nil; n++ {
		if d := time.Until(start.Add(time.Duration(n) * interval)); d > 0 {
			time.Sleep(d)
		}
		p := pairs[n%len(pairs)]
		now := time.Now().UnixNano()
		sentAt[n+1].Store(now)
		cmid := fmt.Sprintf("b%d:%d", n, now)
		if err := p.sender.Emit(n+1, "send-message", map[string]string{"chatId": p.chatID, "text": "bench message", "clientMessageId": cmid}); err != nil {
			return err
		}
	}
	sendDur := time.Since(start)
	// Wait (bounded) for the stragglers.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		got := len(latencies)
		mu.Unlock()
		if got >= total && int(acked.Load()+ackErrs.Load()) >= total {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cpu := cpuPerRequest(cpu0, messageCPU(ctx, env), uint64(total))
	mb1, ms1, mt1 := machineTicks()
	stats1 := readPhaseStats(env)
	closeAll(conns)
	wg.Wait()
	var stored int
	if err := env.DB.QueryRow(ctx, `SELECT count(*) FROM messages WHERE text = 'bench message'`).Scan(&stored); err != nil {
		return err
	}
	slices.Sort(latencies)
	slices.Sort(ackLats)
	pctOf := func(ds []time.Duration, q float64) time.Duration {
		if len(ds) == 0 {
			return 0
		}
		return ds[min(len(ds)-1, int(q*float64(len(ds))))]
	}
	pct := func(q float64) time.Duration { return pctOf(latencies, q) }
	r := func(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }
	fmt.Printf("realtime.sockets messages: %d sent over %d chats in %s (%.0f msg/s offered), %d acked ok, %d ack errors, %d received, %d persisted; send→receive p50 %s p90 %s p99 %s max %s\n",
		total, len(pairs), sendDur.Round(time.Millisecond), float64(total)/sendDur.Seconds(), acked.Load(), ackErrs.Load(), len(latencies), stored,
		r(pct(0.50)), r(pct(0.90)), r(pct(0.99)), r(pct(1)))
	fmt.Printf("realtime.sockets messages: send→ack (sender's replica, chat, commit) p50 %s p90 %s p99 %s max %s\n",
		r(pctOf(ackLats, 0.50)), r(pctOf(ackLats, 0.90)), r(pctOf(ackLats, 0.99)), r(pctOf(ackLats, 1)))
	fmt.Printf("realtime.sockets messages CPU per message: %s (load average %s; %s)\n", formatCPU(cpu), loadAvg(), machineBusy(mb0, ms0, mt0, mb1, ms1, mt1))
	if calls := stats1.sendCalls - stats0.sendCalls; calls > 0 {
		fmt.Printf("realtime.sockets messages: %.0f SendMessagesAs calls (%.1f sends per call; %.0f over 10 ms, %.0f over 25 ms); GC cycles: realtime %.0f, chat %.0f\n",
			calls, float64(total)/calls, calls-(stats1.sendFast[0]-stats0.sendFast[0]), calls-(stats1.sendFast[1]-stats0.sendFast[1]),
			stats1.realtimeGC-stats0.realtimeGC, stats1.chatGC-stats0.chatGC)
	}
	if stats1.stage["total"][0] > stats0.stage["total"][0] {
		fmt.Printf("realtime.sockets messages: sends in realtime, handler to ack: %s; queued for a SendMessagesAs call: %s; calls as realtime sees them: %s\n",
			over(stats0.stage["total"], stats1.stage["total"]), over(stats0.stage["queued"], stats1.stage["queued"]), over(stats0.stage["call"], stats1.stage["call"]))
	}
	if w := stats1.writes - stats0.writes; w > 0 {
		p := stats1.packets - stats0.packets
		fmt.Printf("realtime.sockets messages: %.0f websocket writes for %.0f packets (%.2f writes per message, %.2f packets per write)\n",
			w, p, w/float64(total), p/w)
	}
	if len(latencies) != total || stored != total {
		return fmt.Errorf("lost messages: sent %d, received %d, persisted %d", total, len(latencies), stored)
	}
	_ = os.Stdout.Sync()
	return nil
}

// messageCPU samples the CPU time of the load generator, of each tier
// process this harness started (children named by their tier argument), of
// Redis and of the bench database's PostgreSQL backends: the message phase
// reports CPU per message across every process on the path.
func messageCPU(ctx context.Context, env *Env) cpuSample {
	out := cpuSample{"bench": cpuTicks(os.Getpid())}
	for _, pid := range pidsNamed("redis-server") {
		out["redis:"+strconv.Itoa(pid)] = cpuTicks(pid)
	}
	self := strconv.Itoa(os.Getpid())
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		st, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(st[strings.LastIndexByte(string(st), ')')+1:]))
		if len(f) < 2 || f[1] != self {
			continue
		}
		cmd, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		args := strings.Split(strings.TrimRight(string(cmd), "\x00"), "\x00")
		if len(args) > 1 {
			pid, _ := strconv.Atoi(e.Name())
			out[args[len(args)-1]+":"+e.Name()] = cpuTicks(pid)
		}
	}
	samplePG(ctx, env.DB, out)
	return out
}

// loadAvg is the one-minute load average (the machine is shared).
func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}
