package authn

import (
	"context"
	"sync"
	"time"
)

// CachedRevocations remembers "not revoked" answers for ttl, so a busy
// process asks Redis about each session at most once per ttl instead of on
// every request (a legacy request is verified at the gateway and again at
// the tier). A revocation therefore takes up to ttl to reach every verifier;
// revoked answers are never cached.
func CachedRevocations(inner Revocations, ttl time.Duration) Revocations {
	return &revocationCache{inner: inner, ttl: ttl, seen: map[revKey]time.Time{}}
}

type revKey struct {
	user, session string
	issued        int64
}

type revocationCache struct {
	inner Revocations
	ttl   time.Duration
	mu    sync.Mutex
	seen  map[revKey]time.Time
	sweep time.Time
}

func (c *revocationCache) Revoked(ctx context.Context, p Principal) (bool, error) {
	k := revKey{p.UserID.String(), p.SessionID, p.IssuedAt.Unix()}
	now := time.Now()
	c.mu.Lock()
	if until, ok := c.seen[k]; ok && now.Before(until) {
		c.mu.Unlock()
		return false, nil
	}
	c.mu.Unlock()
	revoked, err := c.inner.Revoked(ctx, p)
	if err != nil || revoked {
		return revoked, err
	}
	c.mu.Lock()
	c.seen[k] = now.Add(c.ttl)
	if now.After(c.sweep) { // drop expired entries so the map stays bounded by active sessions
		for key, until := range c.seen {
			if now.After(until) {
				delete(c.seen, key)
			}
		}
		c.sweep = now.Add(10 * c.ttl)
	}
	c.mu.Unlock()
	return false, nil
}
