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
	if out, err := s.command(ctx, bin, "migrate", "up").CombinedOutput(); err != nil {
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
	for _, name := range procs {
		cmd := s.command(ctx, bin, name)
		logf, err := os.Create(filepath.Join(dir, name+".log"))
		if err != nil {
			return nil, err
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		s.procs = append(s.procs, &tierProc{name: name, cmd: cmd, port: ports[name]})
	}
	for _, p := range s.procs {
		if err := waitHealthy(ctx, p.port, 60*time.Second); err != nil {
			s.stop(ctx, false)
			log, _ := os.ReadFile(filepath.Join(dir, p.name+".log"))
			return nil, fmt.Errorf("%s tier did not become healthy: %v\n%s", p.name, err, log)
		}
	}
	return s, nil
}

func (s *stack) command(ctx context.Context, bin string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = os.Environ() // a GOGC set by the caller overrides infliq's default, to compare
	for k, v := range s.vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
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

// restart stops the process that runs tier (gracefully: SIGTERM, SIGKILL
// after 10 s) and starts it again with the same binary and environment.
func (s *stack) restart(ctx context.Context, tier string) error {
	for _, p := range s.procs {
		if !slices.Contains(strings.Split(p.name, ","), tier) {
			continue
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-done
		}
		cmd := s.command(ctx, p.cmd.Path, p.name)
		cmd.Stdout, cmd.Stderr = p.cmd.Stdout, p.cmd.Stderr
		if err := cmd.Start(); err != nil {
			return err
		}
		p.cmd = cmd
		return waitHealthy(ctx, p.port, 60*time.Second)
	}
	return fmt.Errorf("no process runs %s", tier)
}

// stop ends every tier and drops the bench database unless keep.
func (s *stack) stop(ctx context.Context, keep bool) {
	for _, p := range s.procs {
		if p.cmd.Process != nil {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, p := range s.procs {
		done := make(chan struct{})
		go func() { _ = p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
		}
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
