package pgtest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/infliq/infliq/devstack"
)

// PgBouncer is a PgBouncer in transaction pooling mode on loopback in front
// of the test server, started from the machine's binary (Debian package
// pgbouncer; scripts/test.sh installs it). Tests stop and start it to take
// "the database" away from the tiers without touching the shared server.
type PgBouncer struct {
	t    testing.TB
	Port int
	dir  string
	cfg  string
	bin  string
	cmd  *exec.Cmd
}

// StartPgBouncer starts one in front of the server dsn names. Without the
// binary the test is skipped with the install command (CI installs it, and
// fails instead when CI is set).
func StartPgBouncer(t testing.TB, dsn string) *PgBouncer {
	t.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/pgbouncer"); serr == nil {
			bin = "/usr/sbin/pgbouncer"
		} else if os.Getenv("CI") != "" {
			t.Fatal("pgbouncer is not installed (apt-get install -y pgbouncer)")
		} else {
			t.Skip("pgbouncer is not installed: apt-get install -y pgbouncer (scripts/test.sh does)")
		}
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	port, err := devstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir: its parent is private to root, and the bouncer runs as postgres.
	dir, err := os.MkdirTemp("", "infliq-pgbouncer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	b := &PgBouncer{t: t, Port: port, dir: dir, cfg: filepath.Join(dir, "pgbouncer.ini")}
	pgUser := u.User.Username()
	if pgUser == "" {
		pgUser = "postgres"
	}
	// Small server pools make consecutive statements of one client land on
	// different server connections, which is what breaks session state.
	ini := fmt.Sprintf(`[databases]
* = host=%s port=%s user=%s
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = 3
max_client_conn = 500
server_reset_query =
ignore_startup_parameters = extra_float_digits
logfile = %s
pidfile = %s
`, u.Hostname(), u.Port(), pgUser, port, filepath.Join(dir, "pgbouncer.log"), filepath.Join(dir, "pgbouncer.pid"))
	if err := os.WriteFile(b.cfg, []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}
	b.bin = bin
	b.Start()
	t.Cleanup(b.Stop)
	return b
}

// DSN is dsn with its host and port replaced by the bouncer's.
func (b *PgBouncer) DSN(dsn string) string {
	u, _ := url.Parse(dsn)
	u.Host = net.JoinHostPort("127.0.0.1", strconv.Itoa(b.Port))
	return u.String()
}

// Start runs the bouncer and waits until it accepts connections.
func (b *PgBouncer) Start() {
	b.t.Helper()
	_ = os.Remove(filepath.Join(b.dir, "pgbouncer.pid")) // left by a killed run
	cmd := exec.Command(b.bin, b.cfg)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if os.Geteuid() == 0 { // PgBouncer refuses to run as root
		pu, err := user.Lookup("postgres")
		if err != nil {
			b.t.Fatalf("pgbouncer as root needs a postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(pu.Uid)
		gid, _ := strconv.Atoi(pu.Gid)
		_ = os.Chown(b.dir, uid, gid)
		_ = os.Chown(b.cfg, uid, gid)
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	if err := cmd.Start(); err != nil {
		b.t.Fatalf("pgbouncer: %v", err)
	}
	b.cmd = cmd
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(b.Port))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(b.dir, "pgbouncer.log"))
	b.t.Fatalf("pgbouncer did not listen on %s: %s", addr, log)
}

// Stop kills the bouncer (SIGKILL: its clients see their connections die).
func (b *PgBouncer) Stop() {
	if b.cmd == nil {
		return
	}
	_ = b.cmd.Process.Kill()
	_ = b.cmd.Wait()
	b.cmd = nil
}
