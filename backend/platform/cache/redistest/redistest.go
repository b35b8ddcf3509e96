// Package redistest connects tests to the real Redis (REDIS_TEST_URL, default
// redis://127.0.0.1:6379/0). Tests share that server, so each test gets a
// unique key prefix through Prefix and must keep its keys under it.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/infliq/infliq/backend/platform/cache"
)

// URL is the Redis server tests use.
func URL() string {
	if u := os.Getenv("REDIS_TEST_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// New returns a client on the real test Redis; the test fails when it is down.
func New(t testing.TB) *redis.Client {
	t.Helper()
	// A loaded CI machine gets the old, generous deadline.
	c, err := cache.Open(context.Background(), URL(), cache.Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("redistest: %v (start one with: redis-server --daemonize yes)", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Prefix returns a key prefix unique to this test run.
func Prefix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "test:" + hex.EncodeToString(b) + ":"
}
