package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/devstack"
)

// redisServer is a redis-server this test owns, on a free loopback port.
type redisServer struct {
	t    *testing.T
	port int
	dir  string
	cmd  *exec.Cmd
}

func startRedis(t *testing.T) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server is not on PATH")
	}
	port, err := devstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	r := &redisServer{t: t, port: port, dir: t.TempDir()}
	r.start()
	t.Cleanup(r.kill)
	return r
}

func (r *redisServer) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *redisServer) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir)
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", r.port)); err == nil {
			c.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.t.Fatal("redis-server did not start")
}

func (r *redisServer) signal(s os.Signal) { _ = r.cmd.Process.Signal(s) }

func (r *redisServer) kill() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// probe is one request of the load and what came of it.
type probe struct {
	op     string
	status int
	took   time.Duration
	at     time.Time
}

// TestDependencyFaultsFailFastAndRecover runs `infliq all` against a Redis
// and a PgBouncer (standing in for PostgreSQL) that the test owns, under a
// steady load of logged-in reads, OTP sends, public RPCs and chat sends. It
// freezes Redis (a peer that stops answering), kills it, restarts it, then
// kills and restarts the database path, and checks the degrade policy:
//   - no request waits on a dead dependency: the p99 of failed requests is
//     at most 1 s, and every failure is a 503;
//   - the edge rate limiter fails open (public RPCs keep answering);
//   - OTP sends fail closed with a 503 and a clear message;
//   - a session checked before the outage keeps working within the
//     revocation cache's bound, a new one fails closed;
//   - with PostgreSQL gone, Redis-only routes (send-otp) stay up;
//   - each dependency is used again within 2 s of its return;
//   - every acknowledged chat message is stored; no goroutine is left behind.
func TestDependencyFaultsFailFastAndRecover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server and pgbouncer; run without -short")
	}
	dsn := pgtest.NewDSN(t)
	bouncer := pgtest.StartPgBouncer(t, dsn)
	rs := startRedis(t)
	s := startStack(t, map[string]string{
		"DATABASE_URL": bouncer.DSN(dsn), "DB_PGBOUNCER": "true", "REDIS_URL": rs.url(),
	})
	tok, _ := s.login(t)
	_, peer := s.login(t)
	// A session no verifier has checked yet, for the fail-closed case: a
	// login checks its new token once (the login payload is read with it),
	// so this one is issued directly, for a session nobody has seen.
	_, spareUser := s.login(t)
	spareID, err := id.Parse(spareUser)
	if err != nil {
		t.Fatal(err)
	}
	spare, _, err := authn.NewIssuer(config.DevJWTSecret, "infliq", "infliq-app", time.Hour).IssueAccess(
		authn.AccessToken{UserID: spareID, SessionID: "faults-spare"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st, body := s.call("POST", "/infliq.chat.v1.ChatService/CreateChat", tok, map[string]any{"participantIds": []string{peer}})
	chatID, _ := body["chat"].(map[string]any)["id"].(string)
	if st != 200 || chatID == "" {
		t.Fatalf("create chat: %d %v", st, body)
	}

	// Goroutines of the idle stack, before any fault: requests that waited on
	// a dead dependency, or reconnect loops, would stay above it.
	s.client.CloseIdleConnections()
	baseline := ownGoroutines()
	var (
		mu     sync.Mutex
		probes []probe
		acked  []string
		seq    int
	)
	ops := []string{"feed", "otp", "public", "chat"}
	do := func(op string) probe {
		start := time.Now()
		var st int
		var body map[string]any
		switch op {
		case "feed":
			st, body = s.call("GET", "/api/feed", tok, nil)
		case "otp":
			st, body = s.call("POST", "/api/auth/send-otp", "", map[string]any{"phone": randomPhone()})
			if st == 503 && body["error"] != "Failed to send OTP" {
				t.Errorf("send-otp 503 without a clear message: %v", body)
			}
		case "public":
			st, _ = s.call("POST", "/infliq.user.v1.UserService/GetLimits", "", map[string]any{})
		case "chat":
			mu.Lock()
			seq++
			cid := fmt.Sprintf("fault-%d", seq)
			mu.Unlock()
			st, body = s.call("POST", "/infliq.chat.v1.ChatService/SendMessage", tok, map[string]any{"chatId": chatID, "text": cid, "clientMessageId": cid})
			if st == 200 {
				mu.Lock()
				acked = append(acked, cid)
				mu.Unlock()
			}
		}
		return probe{op: op, status: st, took: time.Since(start), at: start}
	}
	ctx, stopLoad := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				p := do(ops[(w+i)%len(ops)])
				mu.Lock()
				probes = append(probes, p)
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	// recovered polls op until it succeeds and returns how long that took.
	recovered := func(op string) time.Duration {
		start := time.Now()
		for time.Since(start) < 10*time.Second {
			p := do(op)
			if p.status == 200 {
				return time.Since(start)
			}
			if os.Getenv("FAULTS_DEBUG") != "" {
				t.Logf("recovering %s: %d after %v (took %v)", op, p.status, time.Since(start), p.took)
			}
			time.Sleep(20 * time.Millisecond)
		}
		return time.Since(start)
	}
	time.Sleep(500 * time.Millisecond)

	// Redis stops answering, then dies, then comes back.
	redisDown := time.Now()
	rs.signal(syscall.SIGSTOP)
	time.Sleep(1500 * time.Millisecond)
	// A session never checked before cannot be vouched for: fail closed.
	if st, _ := s.call("GET", "/api/feed", spare, nil); st != 503 {
		t.Errorf("new session while Redis is down: %d, want 503", st)
	}
	rs.kill()
	time.Sleep(1000 * time.Millisecond)
	// Redis may answer as soon as it starts, before start() has seen it:
	// only sends begun before then must have failed.
	redisRestart := time.Now()
	rs.start()
	redisUp := time.Now()
	redisRecovery := recovered("otp")

	time.Sleep(300 * time.Millisecond)
	// The database path dies and comes back.
	dbDown := time.Now()
	bouncer.Stop()
	time.Sleep(1500 * time.Millisecond)
	bouncer.Start()
	dbUp := time.Now()
	dbRecovery := recovered("chat")
	time.Sleep(300 * time.Millisecond)
	stopLoad()
	wg.Wait()

	window := func(from, to time.Time, op string) (ok, failed int, fails []time.Duration) {
		for _, p := range probes {
			if p.op != op || p.at.Before(from) || p.at.After(to) {
				continue
			}
			if p.status == 200 || p.status == 201 {
				ok++
			} else {
				failed++
				fails = append(fails, p.took)
				if p.status != 503 {
					t.Errorf("%s failed with %d, want 503", op, p.status)
				}
			}
		}
		return
	}
	var allFails []time.Duration
	report := func(phase string, from, to time.Time) {
		for _, op := range ops {
			ok, failed, fails := window(from, to, op)
			allFails = append(allFails, fails...)
			t.Logf("%-10s %-6s ok=%d failed=%d", phase, op, ok, failed)
		}
	}
	report("redis-down", redisDown.Add(300*time.Millisecond), redisUp)
	report("db-down", dbDown.Add(300*time.Millisecond), dbUp)
	if ok, failed, _ := window(redisDown.Add(300*time.Millisecond), redisUp, "public"); ok == 0 || failed > 0 {
		t.Errorf("public RPCs while Redis is down: ok=%d failed=%d; the limiter must fail open", ok, failed)
	}
	if ok, _, _ := window(redisDown.Add(300*time.Millisecond), redisRestart, "otp"); ok > 0 {
		t.Errorf("%d OTP sends succeeded without Redis; they must fail closed", ok)
	}
	if ok, failed, _ := window(redisDown.Add(300*time.Millisecond), redisUp, "feed"); ok == 0 || failed > 0 {
		t.Errorf("feed reads of a recently checked session while Redis is down: ok=%d failed=%d", ok, failed)
	}
	if ok, failed, _ := window(dbDown.Add(300*time.Millisecond), dbUp, "otp"); ok == 0 || failed > 0 {
		t.Errorf("send-otp while PostgreSQL is down: ok=%d failed=%d; it needs only Redis", ok, failed)
	}
	if _, failed, _ := window(dbDown.Add(300*time.Millisecond), dbUp, "chat"); failed == 0 {
		t.Error("chat sends did not notice the database was gone")
	}
	slices.Sort(allFails)
	if n := len(allFails); n > 0 {
		p99 := allFails[(n*99)/100]
		t.Logf("failed requests: %d, p50 %v, p99 %v, max %v", n, allFails[n/2], p99, allFails[n-1])
		if p99 > time.Second {
			t.Errorf("p99 of failed requests %v > 1s", p99)
		}
	}
	t.Logf("recovery: redis %v, postgres %v", redisRecovery, dbRecovery)
	if redisRecovery > 2*time.Second || dbRecovery > 2*time.Second {
		t.Errorf("recovery took redis %v / postgres %v, want ≤ 2s", redisRecovery, dbRecovery)
	}

	// Every acknowledged message is stored.
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	var stored []string
	rows, _ := conn.Query(context.Background(), `SELECT client_message_id FROM messages WHERE chat_id = $1`, chatID)
	stored, err = pgx.CollectRows(rows, pgx.RowTo[string])
	conn.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	lost := 0
	for _, cid := range acked {
		if !slices.Contains(stored, cid) {
			lost++
		}
	}
	t.Logf("chat sends acknowledged %d, stored %d, lost %d", len(acked), len(stored), lost)
	if lost > 0 || len(acked) == 0 {
		t.Errorf("acknowledged messages lost: %d of %d", lost, len(acked))
	}

	s.client.CloseIdleConnections()
	var n int
	for i := 0; i < 100; i++ {
		if n = ownGoroutines(); n <= baseline+5 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("goroutines: %d idle before the faults, %d after recovery", baseline, n)
	if n > baseline+5 {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines: %d after recovery, %d before the faults\n%s", n, baseline, buf[:runtime.Stack(buf, true)])
	}
}

// ownGoroutines counts goroutines without River's (the push outbox's job
// queue): its leader-only maintenance services and their tickers start
// whenever this process wins River's leader election, a moment the test
// does not control; River owns and stops them, and they are not requests
// or reconnect loops of ours left behind.
func ownGoroutines() int {
	buf := make([]byte, 8<<20)
	n := 0
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.TrimSpace(g) != "" && !strings.Contains(g, "github.com/riverqueue/river") {
			n++
		}
	}
	return n
}
