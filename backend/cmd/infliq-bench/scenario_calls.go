//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/infliq/infliq/backend/platform/id"
)

// Call scenarios:
//   - calls.token: POST /api/calls/token through the gateway, each request
//     for the room of an active call of the requesting user (so every hit
//     does the participant check and signs a Twilio token).
//   - calls.incoming: POST /api/calls/initiate at a fixed rate (open loop)
//     through the gateway while every receiver holds a websocket to the
//     realtime tier; initiate → incoming-call-<receiver> latency.
var callsBench struct {
	pairs    int
	rate     int
	duration time.Duration
}

func init() {
	flag.IntVar(&callsBench.pairs, "calls-pairs", 1000, "calls.incoming: caller/receiver pairs (receivers connected)")
	flag.IntVar(&callsBench.rate, "calls-rate", 200, "calls.incoming: calls initiated per second")
	flag.DurationVar(&callsBench.duration, "calls-duration", 10*time.Second, "calls.incoming: length of the measured phase")
	register(Scenario{
		Name:        "calls.token",
		Description: "POST /api/calls/token (participant check + Twilio Video token) through the gateway",
		Connections: 64,
		Prepare: func(ctx context.Context, env *Env) (func(uint64) Request, error) {
			const n = 1000
			users, err := seedSocketUsers(ctx, env, 2*n)
			if err != nil {
				return nil, err
			}
			reqs := make([]Request, n)
			for i := 0; i < n; i++ {
				cid := id.New().String()
				if _, err := env.DB.Exec(ctx, `INSERT INTO calls (id, caller_id, receiver_id, status, room_name, started_at) VALUES ($1, $2, $3, 'active', $4, now())`,
					cid, users[2*i].String(), users[2*i+1].String(), "room-"+cid); err != nil {
					return nil, err
				}
				body, _ := json.Marshal(map[string]string{"roomName": cid})
				reqs[i] = Request{Method: "POST", Path: "/api/calls/token", Header: jsonHeader(env.Token(users[2*i+i%2])), Body: body}
			}
			return func(i uint64) Request { return reqs[i%n] }, nil
		},
	})
	register(Scenario{
		Name:        "calls.incoming",
		Description: "initiate → incoming-call delivered to the receiver's socket, open loop (flags -calls-*)",
		Connections: 1,
		Prepare: func(ctx context.Context, env *Env) (func(uint64) Request, error) {
			if err := incomingBench(ctx, env); err != nil {
				return nil, err
			}
			return func(uint64) Request { return Request{Method: "GET", Path: "/health"} }, nil
		},
	})
}

func incomingBench(ctx context.Context, env *Env) error {
	n := callsBench.pairs
	users, err := seedSocketUsers(ctx, env, 2*n)
	if err != nil {
		return err
	}
	receivers := make([]id.ID, n)
	for i := range receivers {
		receivers[i] = users[2*i+1]
	}
	conns, err := dialAll(ctx, env.RealtimeURLs, env, receivers)
	if err != nil {
		return err
	}
	defer closeAll(conns)
	// sent[i] is when pair i's latest initiate left (UnixNano); each pair
	// has one call at a time (pairs ≥ rate × a few seconds), so the
	// receiver's next incoming-call belongs to it.
	sent := make([]atomic.Int64, n)
	var (
		mu        sync.Mutex
		latencies []time.Duration
		wg        sync.WaitGroup
		httpErrs  atomic.Int64
	)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := "incoming-call-" + receivers[i].String()
			for {
				p, err := c.Read()
				if err != nil {
					return
				}
				if p.Event != want {
					continue
				}
				d := time.Since(time.Unix(0, sent[i].Load()))
				mu.Lock()
				latencies = append(latencies, d)
				mu.Unlock()
			}
		}()
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 30 * time.Second}
	headers := make([]http.Header, n)
	bodies := make([][]byte, n)
	for i := range headers {
		headers[i] = jsonHeader(env.Token(users[2*i]))
		bodies[i], _ = json.Marshal(map[string]string{"receiverId": receivers[i].String(), "type": "video"})
	}
	initiate := func(i int) {
		req, _ := http.NewRequestWithContext(ctx, "POST", env.BaseURL+"/api/calls/initiate", bytes.NewReader(bodies[i]))
		req.Header = headers[i].Clone()
		sent[i].Store(time.Now().UnixNano())
		res, err := hc.Do(req)
		if err != nil {
			httpErrs.Add(1)
			return
		}
		if res.StatusCode != 200 {
			httpErrs.Add(1)
		}
		_ = res.Body.Close()
	}
	// Warm-up (not measured): a few calls open the pooled connections.
	for i := 0; i < min(n, 50); i++ {
		initiate(i)
	}
	time.Sleep(500 * time.Millisecond)
	mu.Lock()
	latencies = latencies[:0]
	mu.Unlock()
	httpErrs.Store(0)

	total := int(float64(callsBench.rate) * callsBench.duration.Seconds())
	interval := time.Second / time.Duration(callsBench.rate)
	var inflight sync.WaitGroup
	start := time.Now()
	for k := 0; k < total && ctx.Err() == nil; k++ {
		if d := time.Until(start.Add(time.Duration(k) * interval)); d > 0 {
			time.Sleep(d)
		}
		inflight.Add(1)
		go func(i int) { defer inflight.Done(); initiate(i) }((50 + k) % n)
	}
	inflight.Wait()
	sendDur := time.Since(start)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		mu.Lock()
		got := len(latencies)
		mu.Unlock()
		if got >= total {
			break
		}
	}
	closeAll(conns)
	wg.Wait()
	slices.Sort(latencies)
	pct := func(q float64) time.Duration {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[min(len(latencies)-1, int(q*float64(len(latencies))))].Round(10 * time.Microsecond)
	}
	fmt.Printf("calls.incoming: %d calls initiated in %s (%.0f calls/s offered), %d HTTP errors, %d incoming-call received; initiate→incoming-call p50 %s p90 %s p99 %s max %s\n",
		total, sendDur.Round(time.Millisecond), float64(total)/sendDur.Seconds(), httpErrs.Load(), len(latencies), pct(0.5), pct(0.9), pct(0.99), pct(1))
	if len(latencies) != total || httpErrs.Load() != 0 {
		return fmt.Errorf("calls.incoming: %d initiated, %d delivered, %d HTTP errors", total, len(latencies), httpErrs.Load())
	}
	return nil
}
