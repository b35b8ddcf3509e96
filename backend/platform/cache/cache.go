// Package cache opens the Redis client that holds OTPs, rate limits, the
// realtime bus, presence and idempotency keys. Nothing in Redis is the only
// copy of user data.
package cache

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options tune how fast a dead Redis is noticed.
type Options struct {
	// Timeout bounds dialing, each read and write, and the wait for a pooled
	// connection (REDIS_TIMEOUT); zero means 500 ms.
	Timeout time.Duration
	// Breaker, when set, is installed on the client; nil installs a new one.
	Breaker *Breaker
}

// Open connects to url (redis://…) and checks it answers. Every command is
// bounded by o.Timeout and a breaker fails commands at once while Redis keeps
// failing, so no request waits on a dead Redis.
func Open(ctx context.Context, url string, o Options) (*redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("cache: REDIS_URL: %w", err)
	}
	if o.Timeout <= 0 {
		o.Timeout = 500 * time.Millisecond
	}
	if o.Breaker == nil {
		o.Breaker = NewBreaker()
	}
	opt.PoolSize = 64
	opt.MinIdleConns = 4
	opt.DialTimeout = o.Timeout
	opt.ReadTimeout = o.Timeout
	opt.WriteTimeout = o.Timeout
	opt.PoolTimeout = o.Timeout
	// No retries, one dial attempt: each would add a deadline to a request
	// while Redis is down; the breaker decides when to try again.
	opt.MaxRetries = -1
	opt.DialerRetries = 1
	c := redis.NewClient(opt)
	c.AddHook(o.Breaker)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("cache: ping %s: %w", opt.Addr, err)
	}
	return c, nil
}
