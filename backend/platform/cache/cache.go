// Package cache opens the Redis client that holds OTPs, rate limits, the
// realtime bus, presence and idempotency keys. Nothing in Redis is the only
// copy of user data.
//
// REDIS_URL names one server (redis://, rediss://) or a Redis Cluster
// (redis-cluster://h1:p1,h2:p2,h3:p3, rediss-cluster:// with TLS; a few
// seed nodes are enough, the client learns the rest). Either way callers get
// a redis.UniversalClient. Every key a Lua script or MULTI touches shares
// one hash tag ({…}), so each runs on one cluster slot.
package cache

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Pool settings shared by both forms (per node on a cluster).
const (
	poolSize     = 64
	minIdleConns = 4
)

// Options tune how fast a dead Redis is noticed.
type Options struct {
	// Timeout bounds dialing, each read and write, and the wait for a pooled
	// connection (REDIS_TIMEOUT); zero means 500 ms.
	Timeout time.Duration
	// Breaker, when set, is installed on the client; nil installs a new one.
	Breaker *Breaker
}

// Open connects to url and checks it answers. Every command is bounded by
// o.Timeout and a breaker fails commands at once while Redis keeps failing,
// so no request waits on a dead Redis.
func Open(ctx context.Context, url string, o Options) (redis.UniversalClient, error) {
	if o.Timeout <= 0 {
		o.Timeout = 500 * time.Millisecond
	}
	if o.Breaker == nil {
		o.Breaker = NewBreaker()
	}
	c, addr, err := newClient(url, o.Timeout)
	if err != nil {
		return nil, fmt.Errorf("cache: REDIS_URL: %w", err)
	}
	c.AddHook(o.Breaker)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("cache: ping %s: %w", addr, err)
	}
	if cc, ok := c.(*redis.ClusterClient); ok {
		// Ping reached one node; every master must answer before we serve.
		if err := cc.ForEachMaster(pctx, func(ctx context.Context, n *redis.Client) error {
			return n.Ping(ctx).Err()
		}); err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("cache: cluster %s: %w", addr, err)
		}
	}
	return c, nil
}

// IsCluster reports whether url is the cluster form.
func IsCluster(url string) bool {
	return strings.HasPrefix(url, "redis-cluster://") || strings.HasPrefix(url, "rediss-cluster://")
}

func newClient(raw string, timeout time.Duration) (redis.UniversalClient, string, error) {
	if !IsCluster(raw) {
		opt, err := redis.ParseURL(raw)
		if err != nil {
			return nil, "", err
		}
		opt.PoolSize, opt.MinIdleConns = poolSize, minIdleConns
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.PoolTimeout = timeout, timeout, timeout, timeout
		// No retries, one dial attempt: each would add a deadline to a request
		// while Redis is down; the breaker decides when to try again.
		opt.MaxRetries, opt.DialerRetries = -1, 1
		return redis.NewClient(opt), opt.Addr, nil
	}
	opt, err := ParseClusterURL(raw)
	if err != nil {
		return nil, "", err
	}
	opt.PoolSize, opt.MinIdleConns = poolSize, minIdleConns
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.PoolTimeout = timeout, timeout, timeout, timeout
	// A cluster client follows MOVED/ASK redirects itself; no retries of
	// failed commands, as for one node.
	opt.MaxRetries, opt.DialerRetries = -1, 1
	return redis.NewClusterClient(opt), strings.Join(opt.Addrs, ","), nil
}

// ParseClusterURL reads redis-cluster://[user:pass@]h1:p1,h2:p2[/?opts]
// (options as go-redis's cluster URLs take them) into cluster options.
func ParseClusterURL(raw string) (*redis.ClusterOptions, error) {
	scheme, rest, _ := strings.Cut(raw, "://")
	scheme = strings.TrimSuffix(scheme, "-cluster")
	// The host list is not one URL host, so take it apart by hand: the
	// userinfo ends at the last '@' before the path.
	hostEnd := strings.IndexAny(rest, "/?")
	if hostEnd < 0 {
		hostEnd = len(rest)
	}
	hosts, tail := rest[:hostEnd], rest[hostEnd:]
	userinfo := ""
	if i := strings.LastIndex(hosts, "@"); i >= 0 {
		userinfo, hosts = hosts[:i+1], hosts[i+1:]
	}
	var addrs []string
	for _, h := range strings.Split(hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			addrs = append(addrs, h)
		}
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("cluster URL names no host")
	}
	u, err := url.Parse(scheme + "://" + userinfo + addrs[0] + tail)
	if err != nil {
		return nil, err
	}
	if u.Path != "" && u.Path != "/" && u.Path != "/0" {
		return nil, fmt.Errorf("a cluster has only database 0")
	}
	u.Path = ""
	q := u.Query()
	for _, a := range addrs[1:] {
		q.Add("addr", a)
	}
	u.RawQuery = q.Encode()
	return redis.ParseClusterURL(u.String())
}
