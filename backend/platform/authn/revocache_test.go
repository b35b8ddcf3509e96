package authn

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/infliq/infliq/backend/platform/id"
)

type countingRevocations struct {
	calls   atomic.Int32
	revoked atomic.Bool
	down    atomic.Bool
}

func (c *countingRevocations) Revoked(context.Context, Principal) (bool, error) {
	c.calls.Add(1)
	if c.down.Load() {
		return false, errors.New("redis down")
	}
	return c.revoked.Load(), nil
}

// TestCachedRevocationsFailClosedAfterBound: with Redis down, a session seen
// as not revoked within the stale bound keeps working; one never seen, or
// seen longer ago than the bound, fails closed.
func TestCachedRevocationsFailClosedAfterBound(t *testing.T) {
	inner := &countingRevocations{}
	c := CachedRevocations(inner, 10*time.Millisecond, 200*time.Millisecond)
	seen := Principal{UserID: id.New(), SessionID: "s1", IssuedAt: time.Now()}
	if r, err := c.Revoked(context.Background(), seen); r || err != nil {
		t.Fatal(r, err)
	}
	inner.down.Store(true)
	time.Sleep(20 * time.Millisecond) // past ttl: Redis is asked and fails
	if r, err := c.Revoked(context.Background(), seen); r || err != nil {
		t.Fatalf("within the stale bound: %v %v", r, err)
	}
	unseen := Principal{UserID: id.New(), SessionID: "s2", IssuedAt: time.Now()}
	if _, err := c.Revoked(context.Background(), unseen); err == nil {
		t.Fatal("a session never checked must fail closed while Redis is down")
	}
	time.Sleep(210 * time.Millisecond)
	if _, err := c.Revoked(context.Background(), seen); err == nil {
		t.Fatal("past the stale bound the check must fail closed")
	}
	// A revocation seen after recovery is not masked by the stale entry.
	inner.down.Store(false)
	inner.revoked.Store(true)
	if r, err := c.Revoked(context.Background(), seen); !r || err != nil {
		t.Fatalf("revoked after recovery: %v %v", r, err)
	}
	inner.down.Store(true)
	if _, err := c.Revoked(context.Background(), seen); err == nil {
		t.Fatal("a revoked session must not be served from the stale entry")
	}
}

func TestCachedRevocations(t *testing.T) {
	inner := &countingRevocations{}
	c := CachedRevocations(inner, 50*time.Millisecond, 50*time.Millisecond)
	p := Principal{UserID: id.New(), SessionID: "s1", IssuedAt: time.Now()}
	for i := 0; i < 10; i++ {
		if r, err := c.Revoked(context.Background(), p); r || err != nil {
			t.Fatal(r, err)
		}
	}
	if inner.calls.Load() != 1 {
		t.Fatalf("inner asked %d times, want 1", inner.calls.Load())
	}
	// After a revocation the cached "no" lasts at most ttl; "yes" is never cached.
	inner.revoked.Store(true)
	time.Sleep(60 * time.Millisecond)
	for i := 0; i < 3; i++ {
		if r, _ := c.Revoked(context.Background(), p); !r {
			t.Fatal("revocation not seen after ttl")
		}
	}
	if inner.calls.Load() != 4 {
		t.Fatalf("revoked answers must not be cached: %d calls", inner.calls.Load())
	}
	// Another session of the same user is asked separately.
	inner.revoked.Store(false)
	other := p
	other.SessionID = "s2"
	if r, _ := c.Revoked(context.Background(), other); r {
		t.Fatal("other session")
	}
}
