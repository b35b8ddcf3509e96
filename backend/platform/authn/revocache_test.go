package authn

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/infliq/infliq/backend/platform/id"
)

type countingRevocations struct {
	calls   atomic.Int32
	revoked atomic.Bool
}

func (c *countingRevocations) Revoked(context.Context, Principal) (bool, error) {
	c.calls.Add(1)
	return c.revoked.Load(), nil
}

func TestCachedRevocations(t *testing.T) {
	inner := &countingRevocations{}
	c := CachedRevocations(inner, 50*time.Millisecond)
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
