package authn

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/infliq/infliq/backend/platform/id"
)

// manyRevocations revokes the sessions in its set and counts its calls.
type manyRevocations struct {
	mu      sync.Mutex
	revoked map[string]bool
	calls   atomic.Int32 // RevokedMany calls
	single  atomic.Int32 // Revoked calls
	down    atomic.Bool
}

func (m *manyRevocations) Revoked(_ context.Context, p Principal) (bool, error) {
	m.single.Add(1)
	if m.down.Load() {
		return false, errors.New("redis down")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.revoked[p.SessionID], nil
}

func (m *manyRevocations) RevokedMany(_ context.Context, ps []Principal) ([]bool, error) {
	m.calls.Add(1)
	if m.down.Load() {
		return nil, errors.New("redis down")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]bool, len(ps))
	for i, p := range ps {
		out[i] = m.revoked[p.SessionID]
	}
	return out, nil
}

// TestRecheckManyCachedRevocations: the revocations of many principals are
// asked once for the lot through the cache, and a second pass asks again
// only for what the cache cannot answer (revoked sessions are never cached).
func TestRecheckManyCachedRevocations(t *testing.T) {
	ctx := context.Background()
	is := NewIssuer(secret, "infliq", "infliq-app", time.Hour)
	v := NewVerifier(secret, "infliq", "infliq-app", false)
	inner := &manyRevocations{revoked: map[string]bool{"s1": true, "s3": true}}
	v.Revocations = CachedRevocations(inner, time.Minute, time.Minute)
	var ps []Principal
	for i := range 5 {
		tok, _, err := is.IssueAccess(AccessToken{UserID: id.New(), Phone: "+919999999999", SessionID: "s" + string(rune('0'+i))}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		p, err := v.verifyToken(tok)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	errs := v.RecheckMany(ctx, ps)
	for i, err := range errs {
		if revoked := i == 1 || i == 3; revoked != errors.Is(err, ErrRevoked) || (!revoked && err != nil) {
			t.Fatalf("errs %v", errs)
		}
	}
	if n := inner.calls.Load(); n != 1 || inner.single.Load() != 0 {
		t.Fatalf("%d RevokedMany calls and %d single ones, want 1 and 0", n, inner.single.Load())
	}
	// Cached "not revoked" answers stand without asking; revoked ones are
	// asked again (never cached).
	errs = v.RecheckMany(ctx, ps)
	if n := inner.calls.Load(); n != 2 || inner.single.Load() != 0 {
		t.Fatalf("calls %d, single %d", n, inner.single.Load())
	}
	if errs[0] != nil || !errors.Is(errs[1], ErrRevoked) {
		t.Fatalf("second round: %v", errs)
	}
}

// TestCachedRevokedManyDown: with Redis down, principals with a recent
// "not revoked" answer stand; any other one fails the whole call closed.
func TestCachedRevokedManyDown(t *testing.T) {
	ctx := context.Background()
	inner := &manyRevocations{revoked: map[string]bool{}}
	c := CachedRevocations(inner, time.Millisecond, time.Minute).(ManyRevocations)
	seen := []Principal{{UserID: id.New(), SessionID: "a"}, {UserID: id.New(), SessionID: "b"}}
	if r, err := c.RevokedMany(ctx, seen); err != nil || r[0] || r[1] {
		t.Fatal(r, err)
	}
	time.Sleep(5 * time.Millisecond) // past ttl
	inner.down.Store(true)
	if r, err := c.RevokedMany(ctx, seen); err != nil || r[0] || r[1] {
		t.Fatalf("within the stale bound: %v %v", r, err)
	}
	if _, err := c.RevokedMany(ctx, append(seen, Principal{UserID: id.New(), SessionID: "new"})); err == nil {
		t.Fatal("a principal never checked must fail closed while Redis is down")
	}
}

// TestCachedRevokedManyParallel: dozens of concurrent batches over shared
// principals, with revocations landing meanwhile, never report a revoked
// session as live once the revocation is visible, and race-free.
func TestCachedRevokedManyParallel(t *testing.T) {
	ctx := context.Background()
	inner := &manyRevocations{revoked: map[string]bool{}}
	c := CachedRevocations(inner, 0, time.Minute).(ManyRevocations)
	ps := make([]Principal, 64)
	for i := range ps {
		ps[i] = Principal{UserID: id.New(), SessionID: id.New().String()}
	}
	var wg sync.WaitGroup
	for g := range 48 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 20 {
				if g == 0 && round == 10 {
					inner.mu.Lock()
					inner.revoked[ps[7].SessionID] = true
					inner.mu.Unlock()
				}
				r, err := c.RevokedMany(ctx, ps)
				if err != nil || len(r) != len(ps) {
					t.Error(r, err)
					return
				}
				for i, x := range r {
					if x && i != 7 {
						t.Errorf("principal %d reported revoked", i)
					}
				}
			}
		}()
	}
	wg.Wait()
	if r, _ := c.RevokedMany(ctx, ps); !r[7] {
		t.Fatal("revoked session reported live after the revocation")
	}
}

// TestRecheckMany: principals verified earlier are re-checked without their
// tokens: an expired one is invalid, revoked ones are revoked (one round
// trip for the lot), the rest stand.
func TestRecheckMany(t *testing.T) {
	ctx := context.Background()
	v := NewVerifier(secret, "infliq", "infliq-app", false)
	inner := &manyRevocations{revoked: map[string]bool{"gone": true}}
	v.Revocations = inner
	now := time.Now()
	v.now = func() time.Time { return now }
	ps := []Principal{
		{UserID: id.New(), SessionID: "live", ExpiresAt: now.Add(time.Minute)},
		{UserID: id.New(), SessionID: "gone", ExpiresAt: now.Add(time.Minute)},
		{UserID: id.New(), SessionID: "old", ExpiresAt: now.Add(-clockSkew - time.Second)},
		{UserID: id.New(), Legacy: true}, // legacy tokens may carry no exp
	}
	errs := v.RecheckMany(ctx, ps)
	if errs[0] != nil || !errors.Is(errs[1], ErrRevoked) || !errors.Is(errs[2], ErrInvalid) || errs[3] != nil {
		t.Fatalf("errs %v", errs)
	}
	if n := inner.calls.Load(); n != 1 {
		t.Fatalf("%d RevokedMany calls, want 1", n)
	}
	// Within the clock skew an expiry still stands, as in VerifyAccess.
	now = ps[0].ExpiresAt.Add(clockSkew / 2)
	if errs := v.RecheckMany(ctx, ps[:1]); errs[0] != nil {
		t.Fatalf("within the skew: %v", errs[0])
	}
	// Redis down: the error reaches the caller (which keeps the socket).
	inner.down.Store(true)
	if errs := v.RecheckMany(ctx, ps[:1]); errs[0] == nil || errors.Is(errs[0], ErrRevoked) || errors.Is(errs[0], ErrInvalid) {
		t.Fatalf("redis down: %v", errs[0])
	}
}
