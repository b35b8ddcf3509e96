//go:build linux

package main

import (
	"bytes"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestWorkFileRoundTrip(t *testing.T) {
	items := []workItem{{"http://127.0.0.1:4001", "tok.a.b"}, {"http://127.0.0.1:4002", "tok.c.d"}}
	var b bytes.Buffer
	if err := writeWork(&b, items); err != nil {
		t.Fatal(err)
	}
	got, err := parseWork(&b)
	if err != nil || !slices.Equal(got, items) {
		t.Fatalf("parseWork = %v, %v; want %v", got, err, items)
	}
	for _, bad := range []string{"http://x\n", "http://x tok extra\n", "ftp-ish tok\n"} {
		if _, err := parseWork(strings.NewReader(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestWorkerReport(t *testing.T) {
	r, err := parseReport([]byte(`{"connected":14998,"errors":2,"first_error":"client 7: EOF","dur_ns":3000000000,"late_ns":5000000}` + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Connected != 14998 || r.Errors != 2 || r.FirstError != "client 7: EOF" || r.Dur != 3*time.Second || r.Late != 5*time.Millisecond {
		t.Fatalf("%+v", r)
	}
	for _, bad := range []string{"", "connected 3", `{"connected":-1}`, `{"conected":3}`} {
		if _, err := parseReport([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestPlanSockets(t *testing.T) {
	const fds = 20000
	// 50k over 2 replicas cannot fit; the error names how many would.
	if _, err := planSockets(2, 50000, 1000, true, 0, fds); err == nil || !strings.Contains(err.Error(), "-rt-replicas 3") {
		t.Fatalf("50k over 2 replicas: %v", err)
	}
	// 50k over 3: four workers of 12,500 each.
	if n, err := planSockets(3, 50000, 1000, true, 0, fds); err != nil || n != 4 {
		t.Fatalf("50k over 3 replicas: %d, %v", n, err)
	}
	// Up to 15,000 on one replica stays in this process, as before.
	if n, err := planSockets(1, 15000, 1000, true, 0, fds); err != nil || n != 0 {
		t.Fatalf("15k: %d, %v", n, err)
	}
	if n, err := planSockets(2, 3000, 10, false, 2, fds); err != nil || n != 2 {
		t.Fatalf("forced 2 workers: %d, %v", n, err)
	}
	if _, err := planSockets(3, 50000, 10, false, 2, fds); err == nil {
		t.Fatal("25,000 sockets in one worker accepted")
	}
}

func TestReplicaShare(t *testing.T) {
	for _, c := range []struct{ n, r int }{{50000, 3}, {7, 3}, {2, 3}, {10, 1}} {
		sum := 0
		for i := range c.r {
			got, want := replicaShare(c.n, c.r, i), 0
			for j := range c.n {
				if j%c.r == i {
					want++
				}
			}
			if got != want {
				t.Errorf("replicaShare(%d, %d, %d) = %d, want %d", c.n, c.r, i, got, want)
			}
			sum += got
		}
		if sum != c.n {
			t.Errorf("%d over %d: shares sum to %d", c.n, c.r, sum)
		}
	}
}

func TestReplicaEnvs(t *testing.T) {
	procs := processes("realtime,chat")
	ports := map[string]int{"realtime": 4007, "chat": 4005, "realtime,chat": 4007}
	vars := map[string]string{"REALTIME_SERVICE_URL": "http://127.0.0.1:4007", "CHAT_SERVICE_URL": "http://127.0.0.1:4005"}
	reps, err := replicaEnvs(procs, ports, 3, vars)
	if err != nil {
		t.Fatal(err)
	}
	if len(reps["realtime,chat"]) != 3 || len(reps["gateway"]) != 1 || reps["gateway"][0] != nil {
		t.Fatalf("%v", reps)
	}
	all := strings.Split(vars["REALTIME_SERVICE_URL"], ",")
	if len(all) != 3 || all[0] != "http://127.0.0.1:4007" || len(strings.Split(vars["CHAT_SERVICE_URL"], ",")) != 3 {
		t.Fatalf("vars %v", vars)
	}
	seen := map[int]bool{}
	for r, env := range reps["realtime,chat"] {
		p := replicaPort(env, "realtime,chat")
		if want := all[r]; !strings.HasSuffix(want, ":"+itoa(p)) {
			t.Errorf("replica %d checks port %d, its URL is %s", r, p, want)
		}
		seen[p] = true
		if !slices.Contains(env, "DB_MAX_CONNS=5") || !slices.Contains(env, "GOMAXPROCS="+itoa(max(1, runtime.NumCPU()/3))) {
			t.Errorf("replica %d: %v", r, env)
		}
	}
	if len(seen) != 3 {
		t.Fatalf("replica ports %v", seen)
	}
	if _, err := replicaEnvs(processes("all"), ports, 2, vars); err == nil {
		t.Fatal("topology all replicated")
	}
	if one, _ := replicaEnvs(procs, ports, 1, vars); len(one["realtime,chat"]) != 1 {
		t.Fatalf("one replica: %v", one)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestFormatCPULeavesOutGenerator(t *testing.T) {
	got := formatCPU(cpuPerRequest(
		cpuSample{"bench": 0, "bench-worker:11": 0, "bench-worker:12": 0, "realtime,chat:21": 0, "realtime,chat:22": 0},
		cpuSample{"bench": 100, "bench-worker:11": 100, "bench-worker:12": 100, "realtime,chat:21": 100, "realtime,chat:22": 300},
		1000))
	// 10 ticks per 1,000 requests = 100 µs per tick step: replicas and workers sum by name.
	if !strings.HasPrefix(got, "4000 µs (") || !strings.Contains(got, "realtime,chat 4000") || !strings.Contains(got, "bench-worker 2000") {
		t.Fatalf("%s", got)
	}
}

// TestWorkerArgs: a worker is the bench binary on its work file, named
// "bench-worker" last (messageCPU finds it by that); -rt-gen-nice runs it
// through nice(1), which execs it, so the pid and the name stay.
func TestWorkerArgs(t *testing.T) {
	defer func(n int) { rt.genNice = n }(rt.genNice)
	rt.genNice = 0
	args := workerArgs("/bin/bench", "work-0", 64, 1250, 14)
	if args[0] != "/bin/bench" || args[1] != "-rt-worker" || args[2] != "work-0" || args[len(args)-1] != "bench-worker" {
		t.Fatalf("args %q", args)
	}
	if !slices.Contains(args, "1250") || !slices.Contains(args, "14") {
		t.Fatalf("rate or source base missing: %q", args)
	}
	rt.genNice = 19
	niced := workerArgs("/bin/bench", "work-0", 64, 1250, 14)
	if !slices.Equal(niced[:3], []string{"nice", "-n", "19"}) || !slices.Equal(niced[3:], args) {
		t.Fatalf("niced %q", niced)
	}
}
