// Package importtest runs a real Mongo-wire server (FerretDB with SQLite,
// built from the repository's tools/ferretdb module) for the importer's
// tests and seeds it with documents shaped like the legacy backends'.
package importtest

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds tools/ferretdb once per test process, into the user cache
// keyed by the module's sources and the Go version: later test runs reuse
// it without even a relink.
func binary() (string, error) {
	buildOnce.Do(func() {
		dir, err := moduleDir()
		if err != nil {
			buildErr = err
			return
		}
		h := sha256.New()
		for _, f := range []string{"go.mod", "go.sum", "main.go"} {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				buildErr = err
				return
			}
			h.Write(b)
		}
		h.Write([]byte(runtime.Version()))
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		binPath = filepath.Join(cache, "infliq-ferretdb", hex.EncodeToString(h.Sum(nil))[:16], "ferretdb")
		if _, err := os.Stat(binPath); err == nil {
			return
		}
		if err := os.MkdirAll(filepath.Dir(binPath), 0o755); err != nil {
			buildErr = err
			return
		}
		tmp := fmt.Sprintf("%s.%d", binPath, os.Getpid())
		cmd := exec.Command("go", "build", "-trimpath", "-o", tmp, ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly -buildvcs=false")
		if b, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build tools/ferretdb: %v\n%s", err, b)
			return
		}
		buildErr = os.Rename(tmp, binPath) // atomic: parallel test binaries may race here
	})
	return binPath, buildErr
}

func moduleDir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "tools", "ferretdb", "go.mod")); err == nil {
			return filepath.Join(d, "tools", "ferretdb"), nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("tools/ferretdb not found above " + wd)
		}
	}
}

// Start runs FerretDB on a free loopback port with its SQLite data in a
// temp dir and returns a database named name on it. Everything stops at
// the end of the test.
func Start(t testing.TB, name string) *mongo.Database {
	t.Helper()
	return StartServer(t, t.TempDir()).Client.Database(name)
}

// Server is a running FerretDB process.
type Server struct {
	Client *mongo.Client
	PID    int    // for benchmarks that account its CPU time
	URI    string // for processes under test (infliq import-mongo)
}

// StartServer runs FerretDB with its SQLite data in dir (kept after the
// test: a benchmark can reuse a seeded directory). It stops at the end of
// the test.
func StartServer(t testing.TB, dir string) *Server {
	t.Helper()
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-listen", "127.0.0.1:0", "-dir", dir}
	if p := os.Getenv("FERRETDB_CPUPROFILE"); p != "" { // benchmarks: where FerretDB's CPU goes
		args = append(args, "-cpuprofile", p)
	}
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe() // closing it stops the server
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	uriCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			uriCh <- strings.TrimSpace(sc.Text())
		}
		close(uriCh)
	}()
	var uri string
	select {
	case uri = <-uriCh:
	case <-time.After(60 * time.Second):
	}
	if uri == "" {
		t.Fatalf("ferretdb did not start: %s", stderr.String())
	}
	c, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Ping(ctx, nil); err != nil {
		t.Fatalf("ferretdb ping: %v (%s)", err, stderr.String())
	}
	return &Server{Client: c, PID: cmd.Process.Pid, URI: uri}
}
