package push

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/infliq/infliq/backend/platform/db"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/logx"
)

// The crash test re-runs this test binary as a child process (TestMain
// sees crashEnv) that commits a push and is then killed with SIGKILL.
const crashEnv = "PUSH_CRASH_CHILD"

// blockingPolicy announces the first Online call and never returns: the
// flush transaction is open, its rows locked, when the process dies.
type blockingPolicy struct{ testPolicy }

func (p *blockingPolicy) Online(ctx context.Context, uid id.ID) (bool, error) {
	fmt.Println("in-flush")
	select {}
}

func crashChild(mode string) {
	ctx := context.Background()
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(3)
	}
	pool, err := db.Open(ctx, os.Getenv("PUSH_CRASH_DSN"), 8)
	if err != nil {
		fail(err)
	}
	uid, err := id.Parse(os.Getenv("PUSH_CRASH_USER"))
	if err != nil {
		fail(err)
	}
	cfg := testConfig(os.Getenv("PUSH_CRASH_URL"))
	var pol Policy = newPolicy()
	if mode == "flush" {
		pol = &blockingPolicy{}
	}
	svc, err := New(pool, cfg, pol, logx.Discard())
	if err != nil {
		fail(err)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		return svc.EnqueueTx(ctx, tx, Message{UserID: uid, Kind: "message", Title: "Asha", Body: "before the crash",
			CollapseKey: "chat:crash", DedupeKey: "evt-crash"})
	})
	if err != nil {
		fail(err)
	}
	fmt.Println("committed")
	if mode != "enqueue" {
		if err := svc.Start(ctx); err != nil {
			fail(err)
		}
	}
	select {} // wait for SIGKILL
}

// A process that committed a push and died before sending it (right after
// the commit, in the middle of the flush transaction, or in the middle of
// the Expo request, before Expo answered) leaves it in the outbox or in a
// send job; the next workers deliver it exactly once.
func TestCrashBetweenCommitAndSend(t *testing.T) {
	for _, mode := range []string{"enqueue", "flush", "send"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, nil)
			ids, toks := e.users(1)
			var holding <-chan struct{}
			if mode == "send" {
				holding = e.fake.Hold()
			}
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), crashEnv+"="+mode, "PUSH_CRASH_DSN="+e.dsn,
				"PUSH_CRASH_URL="+e.cfg.ExpoPushURL, "PUSH_CRASH_USER="+ids[0].String())
			cmd.Stderr = os.Stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"enqueue": "committed", "flush": "in-flush", "send": "committed"}[mode]
			t.Cleanup(func() { _ = cmd.Process.Kill() })
			found := make(chan struct{})
			go func() {
				sc := bufio.NewScanner(out)
				for sc.Scan() {
					if strings.TrimSpace(sc.Text()) == want {
						close(found)
						break
					}
				}
				_, _ = io.Copy(io.Discard, out)
			}()
			select {
			case <-found:
			case <-time.After(60 * time.Second):
				t.Fatalf("child never reported %q", want)
			}
			if mode == "send" {
				select {
				case <-holding: // the child is waiting for Expo's answer
				case <-time.After(60 * time.Second):
					_ = cmd.Process.Kill()
					t.Fatal("the child never sent")
				}
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			if mode == "send" {
				// The fake sees the connection drop and answers no one.
				e.eventually("the cut request", func() bool {
					r := e.fake.Requests()
					return len(r) == 1 && r[0].Status == 499
				})
				e.fake.Release()
			}
			if n := e.fake.DeliveredCount(); n != 0 {
				t.Fatalf("the child delivered %d pushes before it died", n)
			}
			if mode == "send" {
				if n := e.count(`SELECT count(*) FROM river_job WHERE kind = 'push_send' AND state = 'running'`); n != 1 {
					t.Fatalf("%d send jobs left running by the dead process, want 1", n)
				}
				// River retries a job whose worker died once it has run
				// longer than the job timeout plus RescueAfter; a short
				// HTTP timeout keeps that wait short here.
				e.cfg.HTTPTimeout = time.Second
				e.svc = e.service()
			} else if n := e.count(`SELECT count(*) FROM push_outbox`); n != 1 {
				t.Fatalf("outbox holds %d rows after the crash, want 1", n)
			}
			// Restart: new workers on the same database.
			e.start()
			e.eventually("the push after restart", func() bool { return e.fake.DeliveredCount() >= 1 })
			e.settle()
			time.Sleep(3 * e.cfg.FlushInterval) // a few more flush ticks find nothing more
			e.settle()
			got := byToken(e.fake.Delivered())
			if len(got[toks[0]]) != 1 || e.fake.DeliveredCount() != 1 || got[toks[0]][0].Body != "before the crash" {
				t.Fatalf("deliveries after restart: %+v", e.fake.Delivered())
			}
			// The same event enqueued again (a redelivered bus event) stays deduplicated.
			e.enqueue(Message{UserID: ids[0], Kind: "message", Title: "Asha", Body: "before the crash", CollapseKey: "chat:crash", DedupeKey: "evt-crash"})
			if n := e.count(`SELECT count(*) FROM push_outbox`); n != 0 {
				t.Fatal("a redelivered event was enqueued again")
			}
		})
	}
}
