//go:build linux

package scaletest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/cache/redistest"
	"github.com/infliq/infliq/backend/platform/db"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/devstack"
)

// replicaCounts is the topology under test: tiers with two replicas, the
// rest with one.
var replicaCounts = map[string]int{
	"auth": 1, "user": 1, "post": 1, "feed": 1, "media": 1,
	"chat": 2, "call": 2, "realtime": 2, "gateway": 2,
}

// startOrder starts the gateways last (they only proxy).
var startOrder = []string{"auth", "user", "post", "feed", "media", "chat", "call", "realtime", "gateway"}

// proc is one running infliq process.
type proc struct {
	tier string
	i    int
	port int
	env  []string
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

func (p *proc) url() string { return "http://127.0.0.1:" + strconv.Itoa(p.port) }

// stack is the multi-process system: separate infliq processes on loopback
// against one fresh PostgreSQL database and one Redis Cluster.
type stack struct {
	t      *testing.T
	bin    string
	dir    string
	vars   map[string]string
	procs  map[string][]*proc
	pool   *pgxpool.Pool
	issuer *authn.Issuer
}

// buildInfliq builds the binary once into dir.
func buildInfliq(t *testing.T, dir string) string {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	bin := filepath.Join(dir, "infliq")
	cmd := exec.Command("go", "build", "-o", bin, "./backend/cmd/infliq")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build infliq: %v\n%s", err, out)
	}
	return bin
}

func newStack(t *testing.T, extra map[string]string) *stack {
	dir := t.TempDir()
	dsn := pgtest.NewDSN(t)
	st := &stack{t: t, bin: buildInfliq(t, dir), dir: dir, procs: map[string][]*proc{}}
	secret := "scale-secret-" + id.New().String()
	st.vars = map[string]string{
		"APP_ENV": "development", "LOG_LEVEL": "warn", "LOG_FORMAT": "json",
		"DATABASE_URL": dsn, "DB_MAX_CONNS": "4",
		"REDIS_URL":           redistest.ClusterURL(t),
		"JWT_SECRET":          secret,
		"INTERNAL_API_TOKEN":  "scale-internal-" + id.New().String(),
		"LISTEN_HOST":         "127.0.0.1",
		"TRUSTED_PROXY_CIDRS": "127.0.0.1/32",
		"RATE_LIMIT_MAX":      "100000000",
		"SHUTDOWN_GRACE":      "5s",
	}
	// The media tier needs a bucket: an in-process S3 on loopback.
	s3be := s3mem.New()
	if err := s3be.CreateBucket("scale"); err != nil {
		t.Fatal(err)
	}
	s3 := httptest.NewServer(gofakes3.New(s3be).Server())
	t.Cleanup(s3.Close)
	for k, v := range map[string]string{"S3_BUCKET": "scale", "S3_ENDPOINT": s3.URL, "S3_FORCE_PATH_STYLE": "true",
		"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "scale", "AWS_SECRET_ACCESS_KEY": "scale-secret"} {
		st.vars[k] = v
	}
	for k, v := range extra {
		st.vars[k] = v
	}
	st.issuer = authn.NewIssuer(secret, "infliq", "infliq-app", time.Hour)
	pool, err := db.Open(context.Background(), dsn, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	st.pool = pool
	for _, tier := range startOrder {
		for i := range replicaCounts[tier] {
			port, err := devstack.FreePort()
			if err != nil {
				t.Fatal(err)
			}
			st.procs[tier] = append(st.procs[tier], &proc{tier: tier, i: i, port: port,
				log: filepath.Join(dir, fmt.Sprintf("%s-%d.log", tier, i))})
		}
	}
	for _, tier := range startOrder {
		for _, p := range st.procs[tier] {
			st.start(p)
		}
	}
	for _, tier := range startOrder {
		for _, p := range st.procs[tier] {
			st.waitHealthy(p)
		}
	}
	t.Cleanup(st.stop)
	return st
}

// env is p's environment: every tier's replica list, with p's own URL first
// in its own tier's list (a replica listens on the first URL's port).
func (st *stack) env(p *proc) []string {
	env := os.Environ()
	for k, v := range st.vars {
		env = append(env, k+"="+v)
	}
	for tier, ps := range st.procs {
		if tier == "gateway" {
			continue
		}
		var urls []string
		for _, q := range ps {
			if q == p {
				urls = append([]string{q.url()}, urls...)
			} else {
				urls = append(urls, q.url())
			}
		}
		env = append(env, strings.ToUpper(tier)+"_SERVICE_URL="+strings.Join(urls, ","))
	}
	if p.tier == "gateway" {
		env = append(env, "GATEWAY_PORT="+strconv.Itoa(p.port))
	}
	return env
}

func (st *stack) start(p *proc) {
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		st.t.Fatal(err)
	}
	p.cmd = exec.Command(st.bin, p.tier)
	p.cmd.Env = st.env(p)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		st.t.Fatal(err)
	}
	p.done = make(chan struct{})
	go func() { _ = p.cmd.Wait(); f.Close(); close(p.done) }()
}

func (st *stack) waitHealthy(p *proc) {
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		res, err := http.Get(p.url() + "/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		select {
		case <-p.done:
			log, _ := os.ReadFile(p.log)
			st.t.Fatalf("%s-%d exited at start:\n%s", p.tier, p.i, log)
		case <-time.After(100 * time.Millisecond):
		}
	}
	st.t.Fatalf("%s-%d not healthy", p.tier, p.i)
}

// kill sends sig to p and waits for it to exit.
func (st *stack) kill(p *proc, sig syscall.Signal) {
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (st *stack) stop() {
	for _, ps := range st.procs {
		for _, p := range ps {
			if p.cmd != nil && p.cmd.Process != nil {
				_ = p.cmd.Process.Kill()
			}
		}
	}
	for _, ps := range st.procs {
		for _, p := range ps {
			if p.done != nil {
				<-p.done
			}
		}
	}
	if st.t.Failed() {
		for _, ps := range st.procs {
			for _, p := range ps {
				if b, _ := os.ReadFile(p.log); len(b) > 0 {
					st.t.Logf("--- %s-%d log (tail):\n%s", p.tier, p.i, tail(b, 3000))
				}
			}
		}
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

func (st *stack) gateways() []string {
	return []string{st.procs["gateway"][0].url(), st.procs["gateway"][1].url()}
}

// users seeds n users with profiles and returns their ids.
func (st *stack) users(n int) []id.ID {
	ids := make([]id.ID, n)
	strs := make([]string, n)
	for i := range ids {
		ids[i] = id.New()
		strs[i] = ids[i].String()
	}
	if _, err := st.pool.Exec(context.Background(), `INSERT INTO users (id, name) SELECT u, 'scale' FROM unnest($1::text[]) AS u`, strs); err != nil {
		st.t.Fatal(err)
	}
	return ids
}

// directChat creates a two-person chat of a and b.
func (st *stack) directChat(a, b id.ID) string {
	chatID := id.New().String()
	ctx := context.Background()
	if _, err := st.pool.Exec(ctx, `INSERT INTO chats (id, type, direct_key) VALUES ($1, 'chat', $2)`, chatID, a.String()+":"+b.String()); err != nil {
		st.t.Fatal(err)
	}
	if _, err := st.pool.Exec(ctx, `INSERT INTO chat_members (chat_id, user_id) VALUES ($1, $2), ($1, $3)`, chatID, a.String(), b.String()); err != nil {
		st.t.Fatal(err)
	}
	return chatID
}

func (st *stack) token(uid id.ID) string {
	tok, _, err := st.issuer.IssueAccess(authn.AccessToken{UserID: uid}, time.Now())
	if err != nil {
		st.t.Fatal(err)
	}
	return tok
}

// post sends a JSON request and decodes the JSON answer.
func post(method, url, token, xff string, body any) (int, map[string]any, error) {
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out, nil
}
