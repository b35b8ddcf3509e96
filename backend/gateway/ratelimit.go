package gateway

import (
	"context"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Limit is one decision of the rate limiter.
type Limit struct {
	Allowed    bool
	Limit      int
	Remaining  int
	Reset      time.Duration
	RetryAfter time.Duration
}

// Limiter decides whether a key may make one more request.
type Limiter interface {
	Allow(ctx context.Context, key string) (Limit, error)
}

// RedisLimiter is a GCRA limiter in Redis (go-redis/redis_rate), so every
// gateway replica shares one budget per client address.
type RedisLimiter struct {
	l      *redis_rate.Limiter
	limit  redis_rate.Limit
	prefix string
}

// NewRedisLimiter allows max requests per window per key. rdb is best an
// autopipeliner (one round trip for the decisions of concurrent requests).
func NewRedisLimiter(rdb redis.Cmdable, prefix string, max int, window time.Duration) *RedisLimiter {
	return &RedisLimiter{
		l:      redis_rate.NewLimiter(rdb),
		limit:  redis_rate.Limit{Rate: max, Burst: max, Period: window},
		prefix: prefix,
	}
}

// Allow takes one unit from key's budget.
func (r *RedisLimiter) Allow(ctx context.Context, key string) (Limit, error) {
	res, err := r.l.Allow(ctx, r.prefix+key, r.limit)
	if err != nil {
		return Limit{}, err
	}
	return Limit{
		Allowed: res.Allowed > 0, Limit: r.limit.Burst, Remaining: res.Remaining,
		Reset: res.ResetAfter, RetryAfter: res.RetryAfter,
	}, nil
}
