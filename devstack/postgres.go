// Package devstack provides the embedded defaults of a one-command local run:
// a private PostgreSQL from the machine's binaries, miniredis in-process and
// an in-process S3 (gofakes3) on loopback. None of it is used in production;
// strict mode refuses it.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	embeddedpostgres "github.com/fergusstrange/embedded-postgres"
	"github.com/jackc/pgx/v5"
)

// Postgres is a private PostgreSQL cluster.
type Postgres struct {
	DSN  string
	Port int
	stop func() error
}

// Stop shuts the cluster down.
func (p *Postgres) Stop() error {
	if p == nil || p.stop == nil {
		return nil
	}
	return p.stop()
}

// PGHelp says how to get PostgreSQL binaries when none are found.
const PGHelp = `no PostgreSQL binaries found and the embedded-postgres download failed.
Install them once, then retry:
  Debian/Ubuntu: sudo apt-get install -y postgresql
  macOS:         brew install postgresql@16
or point PG_BIN_DIR at a folder holding initdb and postgres,
or set DATABASE_URL to an existing server.`

// FindPGBinDir returns a directory holding initdb and postgres, or "".
func FindPGBinDir() string {
	var cands []string
	if d := os.Getenv("PG_BIN_DIR"); d != "" {
		cands = append(cands, d)
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		cands = append(cands, strings.TrimSpace(string(out)))
	}
	for _, pattern := range []string{"/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/opt/homebrew/opt/postgresql@*/bin", "/usr/local/opt/postgresql@*/bin", "/usr/local/pgsql/bin"} {
		m, _ := filepath.Glob(pattern)
		sort.Sort(sort.Reverse(sort.StringSlice(m))) // newest version first
		cands = append(cands, m...)
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		cands = append(cands, filepath.Dir(p))
	}
	for _, d := range cands {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d
		}
	}
	return ""
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// StartPostgres starts (or restarts) a private cluster whose data lives in
// dataDir, listening on 127.0.0.1:port (0 picks a free port). It uses the
// machine's binaries; as root it runs them as the "postgres" user, because
// PostgreSQL refuses to run as root. Without binaries it falls back to
// embedded-postgres, which downloads them once.
func StartPostgres(ctx context.Context, dataDir string, port int) (*Postgres, error) {
	if port == 0 {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		port = p
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, err
	}
	bin := FindPGBinDir()
	if bin == "" {
		return startEmbedded(abs, port)
	}
	return startLocal(ctx, bin, abs, port)
}

func startLocal(ctx context.Context, bin, dir string, port int) (*Postgres, error) {
	pgdata := filepath.Join(dir, "data")
	sock := filepath.Join(dir, "run")
	if err := os.MkdirAll(sock, 0o755); err != nil {
		return nil, err
	}
	cred, err := runAs()
	if err != nil {
		return nil, err
	}
	if cred != nil {
		// The data and socket folders must belong to the user running postgres,
		// and every parent must be traversable by it.
		for _, d := range []string{dir, sock} {
			_ = os.Chown(d, int(cred.Uid), int(cred.Gid))
		}
		for p := dir; p != "/" && p != "."; p = filepath.Dir(p) {
			if st, err := os.Stat(p); err == nil && st.Mode().Perm()&0o001 == 0 {
				_ = os.Chmod(p, st.Mode().Perm()|0o001)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(pgdata, "PG_VERSION")); err != nil {
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", pgdata, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C")
		cmd.SysProcAttr = sysAttr(cred)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("devstack: initdb: %v: %s", err, out)
		}
	}
	_ = os.Remove(filepath.Join(pgdata, "postmaster.pid")) // stale after a crash; we own this folder
	logf, err := os.OpenFile(filepath.Join(dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", pgdata, "-p", strconv.Itoa(port), "-k", sock,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=300", "-c", "shared_buffers=128MB")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysAttr(cred)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("devstack: postgres: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logf.Close() }()
	dsn := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		// The port opens before recovery ends ("the database system is
		// starting up"): wait for a query to succeed.
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		c, err := pgx.Connect(cctx, dsn)
		if err == nil {
			err = c.Ping(cctx)
			c.Close(cctx)
		}
		cancel()
		if err == nil {
			break
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("devstack: postgres exited at start (%v); see %s", err, filepath.Join(dir, "postgres.log"))
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			return nil, errors.New("devstack: postgres did not start within 60s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &Postgres{DSN: dsn, Port: port, stop: func() error {
		_ = cmd.Process.Signal(syscall.SIGINT) // fast shutdown
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
		return nil
	}}, nil
}

func startEmbedded(dir string, port int) (*Postgres, error) {
	pg := embeddedpostgres.NewDatabase(embeddedpostgres.DefaultConfig().
		Version(embeddedpostgres.V16).
		Port(uint32(port)).
		Database("postgres").
		Username("postgres").Password("postgres").
		RuntimePath(filepath.Join(dir, "embedded-runtime")).
		DataPath(filepath.Join(dir, "embedded-data")).
		BinariesPath(filepath.Join(dir, "embedded-bin")).
		CachePath(filepath.Join(dir, "embedded-cache")))
	if err := pg.Start(); err != nil {
		return nil, fmt.Errorf("devstack: %v\n%s", err, PGHelp)
	}
	return &Postgres{
		DSN:  fmt.Sprintf("postgres://postgres:postgres@127.0.0.1:%d/postgres?sslmode=disable", port),
		Port: port, stop: pg.Stop,
	}, nil
}

// runAs returns the credential to run PostgreSQL under, or nil for the current user.
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, errors.New("devstack: running as root needs a 'postgres' user to run PostgreSQL (apt-get install postgresql creates it)")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}
