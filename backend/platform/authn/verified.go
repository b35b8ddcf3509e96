package authn

import (
	"sync"
	"time"
)

// verifiedCacheSize bounds the verified-token cache: a few MB at most
// (tokens are ~250 bytes), enough for every session active on a replica
// within a token's lifetime.
const verifiedCacheSize = 16384

// verifiedCache remembers tokens whose signature and claims were checked.
// A token is immutable, so the same string verifies to the same Principal
// until it expires; caching skips the base64/JSON decode and the HMAC on
// every later request (each legacy request is verified at the gateway and
// again at the tier). Keys are the whole token, so a hit can only be a
// token that was fully verified. Revocation is not cached here.
type verifiedCache struct {
	mu sync.RWMutex
	m  map[string]Principal
}

func (c *verifiedCache) get(raw string, now time.Time) (Principal, bool) {
	c.mu.RLock()
	p, ok := c.m[raw]
	c.mu.RUnlock()
	if !ok || (!p.ExpiresAt.IsZero() && !now.Before(p.ExpiresAt.Add(clockSkew))) {
		return Principal{}, false
	}
	return p, true
}

func (c *verifiedCache) put(raw string, p Principal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]Principal)
	}
	if len(c.m) >= verifiedCacheSize {
		// Evict a quarter at random (map order is random): no bookkeeping
		// on the hot read path, and expired entries go with the rest.
		n := verifiedCacheSize / 4
		for k := range c.m {
			delete(c.m, k)
			if n--; n == 0 {
				break
			}
		}
	}
	c.m[raw] = p
}
