//go:build linux

package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/infliq/infliq/devstack"
)

// tierProc is one running tier process.
type tierProc struct {
	name string
	cmd  *exec.Cmd
	port int
	// env overrides the stack's vars for this process (a replica's own
	// service URLs first in each list, so it listens on its own ports).
	env []string
	log string
}

// stack is the running system under test.
type stack struct {
	procs   []*tierProc
	vars    map[string]string
	dbName  string
	pgURL   string
	s3      *httptest.Server
	dir     string
	tierEnv []string // -env: K=V for the infliq processes, after the rest
	// gatewayPort is where scenarios send their requests.
	gatewayPort int
	// realtimeURLs are the base URLs of the realtime replicas.
	realtimeURLs []string
}

var tierOrder = []string{"auth", "user", "post", "feed", "chat", "call", "media", "notify", "realtime", "gateway"}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// startStack builds infliq, creates the bench database and starts each tier.
func startStack(ctx context.Context, o options) (*stack, error) {
	dir, err := os.MkdirTemp("", "infliq-bench-")
	if err != nil {
		return nil, err
	}
	s := &stack{dir: dir, pgURL: o.pgURL, tierEnv: o.tierEnv}
	bin := o.bin
	if bin == "" {
		bin = filepath.Join(dir, "infliq")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./backend/cmd/infliq")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return nil, fmt.Errorf("build infliq: %w", err)
		}
	}
	s.dbName = "infliq_bench_" + randHex(4)
	admin, err := pgx.Connect(ctx, o.pgURL)
	if err != nil {
		return nil, fmt.Errorf("bench PostgreSQL: %w", err)
	}
	_, err = admin.Exec(ctx, "CREATE DATABASE "+s.dbName)
	admin.Close(ctx)
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(o.pgURL)
	u.Path = "/" + s.dbName
	s3be := s3mem.New()
	if err := s3be.CreateBucket("bench"); err != nil { // the media tier's health checks the bucket
		return nil, err
	}
	s.s3 = httptest.NewServer(gofakes3.New(s3be).Server())
	s.vars = map[string]string{
		"APP_ENV":                    "development",
		"LOG_LEVEL":                  "warn",
		"LOG_FORMAT":                 "json",
		"DATABASE_URL":               u.String(),
		"DB_MAX_CONNS":               "10", // 8 tiers with a pool × 10 stay under PostgreSQL's default max_connections (100)
		"MIGRATE_ON_START":           "true",
		"REDIS_URL":                  o.redisURL,
		"JWT_SECRET":                 "bench-secret-" + randHex(16),
		"INTERNAL_API_TOKEN":         "bench-internal-" + randHex(8),
		"RATE_LIMIT_MAX":             "100000000", // the limiter runs on every request, but never refuses
		"OTP_MAX_PER_WINDOW":         "1000000",
		"OTP_MAX_PER_IP_PER_WINDOW":  "100000000",
		"USER_UPLOAD_MAX_IN_WINDOW":  "100000000",
		"STORY_CREATE_MAX_IN_WINDOW": "100000000",
		"S3_BUCKET":                  "bench",
		"S3_ENDPOINT":                s.s3.URL,
		"S3_FORCE_PATH_STYLE":        "true",
		"AWS_REGION":                 "us-east-1",
		"AWS_ACCESS_KEY_ID":          "bench",
		"AWS_SECRET_ACCESS_KEY":      "bench-secret",
		"LISTEN_HOST":                "127.0.0.1",
	}
	ports := map[string]int{}
	for _, name := range tierOrder {
		p, err := devstack.FreePort()
		if err != nil {
			return nil, err
		}
		ports[name] = p
		if name != "gateway" {
			s.vars[strings.ToUpper(name)+"_SERVICE_URL"] = fmt.Sprintf("http://127.0.0.1:%d", p)
		}
	}
	if o.cpuProfile != "" {
		abs, err := filepath.Abs(o.cpuProfile)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return nil, err
		}
		s.vars["INFLIQ_CPU_PROFILE_DIR"] = abs
	}
	s.vars["PORT"] = strconv.Itoa(ports["gateway"])
	s.vars["PUBLIC_BASE_URL"] = fmt.Sprintf("http://127.0.0.1:%d", ports["gateway"])
	// Migrate once up front so tiers don't race on first start.
	if out, err := s.command(ctx, bin, nil, "migrate", "up").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("migrate: %v: %s", err, out)
	}
	procs := slices.DeleteFunc(processes(o.topology), func(p string) bool { return slices.Contains(o.skipTiers, p) })
	for _, name := range procs {
		if strings.Contains(name, ",") || name == "all" {
			// Co-located tiers share one pool: give it the configured default size.
			delete(s.vars, "DB_MAX_CONNS")
			first, _, _ := strings.Cut(name, ",")
			ports[name] = ports[first]
			if name == "all" || slices.Contains(strings.Split(name, ","), "gateway") {
				ports[name] = ports["gateway"]
			}
		}
	}
	s.gatewayPort = ports["gateway"]
	reps, err := replicaEnvs(procs, ports, max(o.rtReplicas, 1), s.vars)
	if err != nil {
		return nil, err
	}
	for _, name := range procs {
		for r, env := range reps[name] {
			p := &tierProc{name: name, port: ports[name], env: env, log: filepath.Join(dir, name+".log")}
			if r > 0 {
				p.port = replicaPort(env, name)
				p.log = filepath.Join(dir, fmt.Sprintf("%s.%d.log", name, r))
				if prof := s.vars["INFLIQ_CPU_PROFILE_DIR"]; prof != "" { // one profile file name per process name
					prof = filepath.Join(prof, fmt.Sprintf("replica-%d", r+1))
					if err := os.MkdirAll(prof, 0o755); err != nil {
						return nil, err
					}
					p.env = append(slices.Clip(env), "INFLIQ_CPU_PROFILE_DIR="+prof)
				}
			}
			if err := s.start(ctx, bin, p); err != nil {
				return nil, err
			}
			s.procs = append(s.procs, p)
		}
	}
	s.realtimeURLs = strings.Split(s.vars["REALTIME_SERVICE_URL"], ",")
	for _, p := range s.procs {
		if err := waitHealthy(ctx, p.port, 60*time.Second); err != nil {
			s.stop(ctx, false)
			log, _ := os.ReadFile(p.log)
			return nil, fmt.Errorf("%s tier did not become healthy: %v\n%s", p.name, err, log)
		}
	}
	return s, nil
}

// replicaEnvs gives each process its replicas' environment overrides (one
// nil entry: no replica). With replicas > 1 the process running the
// realtime tier starts that many times: each tier it runs gets one free
// port per replica, vars list them all comma-separated (other tiers
// balance over them), and each replica's own list starts with its URL (the
// port it listens on). Replicas split DB_MAX_CONNS so that together they
// hold one process's pool (PostgreSQL allows 100 connections).
func replicaEnvs(procs []string, ports map[string]int, replicas int, vars map[string]string) (map[string][][]string, error) {
	out := map[string][][]string{}
	for _, name := range procs {
		out[name] = [][]string{nil}
	}
	if replicas == 1 {
		return out, nil
	}
	var rep string
	for _, name := range procs {
		if slices.Contains(strings.Split(name, ","), "realtime") {
			rep = name
		}
	}
	if rep == "" {
		return nil, fmt.Errorf("-rt-replicas: no process runs the realtime tier alone or with a few others (topology all cannot be replicated)")
	}
	tiers := strings.Split(rep, ",")
	if slices.Contains(tiers, "gateway") {
		return nil, fmt.Errorf("-rt-replicas: the realtime process %q also runs the gateway (one PORT): use a topology without it", rep)
	}
	urls := map[string][]string{}
	for _, t := range tiers {
		for r := range replicas {
			p := ports[t]
			if r > 0 {
				var err error
				if p, err = devstack.FreePort(); err != nil {
					return nil, err
				}
			}
			urls[t] = append(urls[t], fmt.Sprintf("http://127.0.0.1:%d", p))
		}
		vars[strings.ToUpper(t)+"_SERVICE_URL"] = strings.Join(urls[t], ",")
	}
	pool := 16 // the config's default
	if v, err := strconv.Atoi(vars["DB_MAX_CONNS"]); err == nil {
		pool = v
	}
	out[rep] = make([][]string, replicas)
	for r := range replicas {
		// The replicas share the machine's cores as containers with a CPU
		// limit of cores/replicas would (Go sizes GOMAXPROCS from the cgroup
		// limit): at 50k sockets, 3 replicas with 2 Ps each on 2 cores had
		// a p99 of 31 ms, with 1 P each 21 ms and 14% less CPU per message.
		// -env GOMAXPROCS=N overrides it.
		env := []string{"DB_MAX_CONNS=" + strconv.Itoa(max(4, pool/replicas)),
			"GOMAXPROCS=" + strconv.Itoa(max(1, runtime.NumCPU()/replicas))}
		for _, t := range tiers {
			own := append([]string{urls[t][r]}, slices.Delete(slices.Clone(urls[t]), r, r+1)...)
			env = append(env, strings.ToUpper(t)+"_SERVICE_URL="+strings.Join(own, ","))
		}
		out[rep][r] = env
	}
	return out, nil
}

// replicaPort is the port a replica's health is checked on: that of its
// own URL of the first tier it runs.
func replicaPort(env []string, name string) int {
	first, _, _ := strings.Cut(name, ",")
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, strings.ToUpper(first)+"_SERVICE_URL="); ok {
			u, _ := url.Parse(strings.Split(v, ",")[0])
			p, _ := strconv.Atoi(u.Port())
			return p
		}
	}
	return 0
}

// start runs p (its subcommand is its name) with its log file.
func (s *stack) start(ctx context.Context, bin string, p *tierProc) error {
	cmd := s.command(ctx, bin, p.env, p.name)
	logf, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	err = cmd.Start()
	logf.Close() // the child holds its own copy
	if err != nil {
		return err
	}
	p.cmd = cmd
	return nil
}

// command runs bin with the stack's vars, then extra (a replica's own),
// then -env: the last value of a key wins.
func (s *stack) command(ctx context.Context, bin string, extra []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = os.Environ() // a GOGC set by the caller overrides infliq's default, to compare
	for k, v := range s.vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, extra...)
	cmd.Env = append(cmd.Env, s.tierEnv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

func waitHealthy(ctx context.Context, port int, max time.Duration) error {
	deadline := time.Now().Add(max)
	var last error
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("http://127.0.0.1:%d/health", port), nil)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
			err = fmt.Errorf("status %d", res.StatusCode)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return last
}

// rssKB reads a process's resident set size.
func rssKB(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return 0
}

func (s *stack) gateway() string {
	return "http://127.0.0.1:" + strconv.Itoa(s.gatewayPort)
}

// processes lists the infliq subcommands a topology starts: "split" runs
// every tier as its own process, "all" runs `infliq all`, and a list such
// as "realtime,chat" co-locates those tiers in one process and runs the
// others on their own. The process holding the gateway starts last.
func processes(topology string) []string {
	switch topology {
	case "split":
		return tierOrder
	case "all":
		return []string{"all"}
	}
	group := strings.Split(topology, ",")
	var out []string
	for _, t := range tierOrder {
		if !slices.Contains(group, t) {
			out = append(out, t)
		}
	}
	if slices.Contains(group, "gateway") {
		return append(out, topology)
	}
	return append([]string{topology}, out...)
}

// restart stops every process that runs tier (all replicas at once,
// gracefully: SIGTERM, SIGKILL after 10 s) and starts them again with the
// same binary and environment, returning once all are healthy.
func (s *stack) restart(ctx context.Context, tier string) error {
	var ps []*tierProc
	for _, p := range s.procs {
		if slices.Contains(strings.Split(p.name, ","), tier) {
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		return fmt.Errorf("no process runs %s", tier)
	}
	for _, p := range ps {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	errs := make(chan error, len(ps))
	for _, p := range ps {
		go func() {
			waitOrKill(p.cmd, 10*time.Second)
			if err := s.start(ctx, p.cmd.Path, p); err != nil {
				errs <- err
				return
			}
			errs <- waitHealthy(ctx, p.port, 60*time.Second)
		}()
	}
	var first error
	for range ps {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// stop ends every tier and drops the bench database unless keep.
func (s *stack) stop(ctx context.Context, keep bool) {
	for _, p := range s.procs {
		if p.cmd.Process != nil {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, p := range s.procs {
		waitOrKill(p.cmd, 5*time.Second)
	}
	if s.s3 != nil {
		s.s3.Close()
	}
	if !keep && s.dbName != "" {
		if admin, err := pgx.Connect(ctx, s.pgURL); err == nil {
			_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+s.dbName+" WITH (FORCE)")
			admin.Close(ctx)
		}
	}
	_ = os.RemoveAll(s.dir)
}

// waitOrKill waits for cmd to exit, killing it after d.
func waitOrKill(cmd *exec.Cmd, d time.Duration) {
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		_ = cmd.Process.Kill()
		<-done
	}
}
