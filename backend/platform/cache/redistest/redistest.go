// Package redistest connects tests to the real Redis (REDIS_TEST_URL, default
// redis://127.0.0.1:6379/0). Tests share that server, so each test gets a
// unique key prefix through Prefix and must keep its keys under it.
//
// Cluster starts a private 3-master Redis Cluster on loopback from the
// machine's redis-server, once per test binary; Each runs a test against
// both, so code that must work on a cluster is proven on one.
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
	return open(t, URL()).(*redis.Client)
}

// Cluster returns a client on the test binary's Redis Cluster (three
// masters, started on first use and killed when the binary exits).
func Cluster(t testing.TB) *redis.ClusterClient {
	t.Helper()
	return open(t, ClusterURL(t)).(*redis.ClusterClient)
}

// Each runs fn as the subtests "single" (the test Redis) and "cluster" (the
// binary's Redis Cluster).
func Each(t *testing.T, fn func(t *testing.T, rdb redis.UniversalClient)) {
	t.Helper()
	t.Run("single", func(t *testing.T) { fn(t, New(t)) })
	t.Run("cluster", func(t *testing.T) { fn(t, Cluster(t)) })
}

func open(t testing.TB, url string) redis.UniversalClient {
	t.Helper()
	// A loaded CI machine gets the old, generous deadline.
	c, err := cache.Open(context.Background(), url, cache.Options{Timeout: 2 * time.Second})
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
