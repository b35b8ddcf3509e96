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
//
// Degrade policy: when Redis cannot answer, a "not revoked" answer up to
// stale old still stands (Redis is down, so no new revocation can have been
// written meanwhile except in the last ttl before it died); past that bound
// the check fails closed and the request gets 503.
func CachedRevocations(inner Revocations, ttl, stale time.Duration) Revocations {
	if stale < ttl {
		stale = ttl
	}
	return &revocationCache{inner: inner, ttl: ttl, stale: stale, seen: map[revKey]time.Time{}}
}

type revKey struct {
	user, session string
	issued        int64
}

type revocationCache struct {
	inner      Revocations
	ttl, stale time.Duration
	mu         sync.Mutex
	seen       map[revKey]time.Time // when "not revoked" was last answered
	sweep      time.Time
}

// RevokedMany implements ManyRevocations: cached answers stand, the rest
// go to the inner Revocations in one call when it answers for many. When
// that call fails, every principal without a "not revoked" answer younger
// than stale gets the error.
func (c *revocationCache) RevokedMany(ctx context.Context, ps []Principal) ([]bool, error) {
	out := make([]bool, len(ps))
	now := time.Now()
	var miss []Principal
	var missAt []int
	var staleOK []bool
	c.mu.Lock()
	for i, p := range ps {
		at, ok := c.seen[revKey{p.UserID.String(), p.SessionID, p.IssuedAt.Unix()}]
		if ok && now.Sub(at) < c.ttl {
			continue
		}
		miss, missAt, staleOK = append(miss, p), append(missAt, i), append(staleOK, ok && now.Sub(at) < c.stale)
	}
	c.mu.Unlock()
	if len(miss) == 0 {
		return out, nil
	}
	mr, ok := c.inner.(ManyRevocations)
	if !ok {
		for j, p := range miss {
			r, err := c.Revoked(ctx, p)
			if err != nil {
				return nil, err
			}
			out[missAt[j]] = r
		}
		return out, nil
	}
	revoked, err := mr.RevokedMany(ctx, miss)
	if err != nil {
		for _, ok := range staleOK {
			if !ok {
				return nil, err
			}
		}
		return out, nil // every one has a recent enough "not revoked"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for j, p := range miss {
		k := revKey{p.UserID.String(), p.SessionID, p.IssuedAt.Unix()}
		if revoked[j] {
			delete(c.seen, k)
			out[missAt[j]] = true
		} else {
			c.seen[k] = now
		}
	}
	return out, nil
}

func (c *revocationCache) Revoked(ctx context.Context, p Principal) (bool, error) {
	k := revKey{p.UserID.String(), p.SessionID, p.IssuedAt.Unix()}
	now := time.Now()
	c.mu.Lock()
	at, ok := c.seen[k]
	c.mu.Unlock()
	if ok && now.Sub(at) < c.ttl {
		return false, nil
	}
	revoked, err := c.inner.Revoked(ctx, p)
	if err != nil {
		if ok && now.Sub(at) < c.stale {
			return false, nil
		}
		return false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if revoked {
		delete(c.seen, k)
		return true, nil
	}
	c.seen[k] = now
	if now.After(c.sweep) { // drop expired entries so the map stays bounded by active sessions
		for key, at := range c.seen {
			if now.Sub(at) >= c.stale {
				delete(c.seen, key)
			}
		}
		c.sweep = now.Add(c.stale)
	}
	return false, nil
}
