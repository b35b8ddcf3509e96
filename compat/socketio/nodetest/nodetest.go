// Package nodetest runs Node scripts that drive the real socket.io-client
// from npm (installed by `npm ci` in clients/ts) against Go servers in tests.
package nodetest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// RepoRoot finds the module root from the test's working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("nodetest: go.mod not found")
		}
		dir = parent
	}
}

// Run executes `node script args...` with SIO_CLIENT pointing at the
// socket.io-client package and fails the test unless it exits 0.
func Run(t testing.TB, script string, args ...string) string {
	t.Helper()
	client := filepath.Join(RepoRoot(t), "clients", "ts", "node_modules", "socket.io-client")
	if _, err := os.Stat(client); err != nil {
		t.Fatalf("socket.io-client is not installed: run `npm ci` in clients/ts (%v)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), "SIO_CLIENT="+client)
	out, err := cmd.CombinedOutput()
	t.Logf("node %s:\n%s", filepath.Base(script), out)
	if err != nil {
		t.Fatalf("node %s: %v", filepath.Base(script), err)
	}
	return string(out)
}
