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
	ioTimeout    = 2 * time.Second
)

// Open connects to url and checks it answers.
func Open(ctx context.Context, url string) (redis.UniversalClient, error) {
	c, addr, err := newClient(url)
	if err != nil {
		return nil, fmt.Errorf("cache: REDIS_URL: %w", err)
	}
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

func newClient(raw string) (redis.UniversalClient, string, error) {
	if !IsCluster(raw) {
		opt, err := redis.ParseURL(raw)
		if err != nil {
			return nil, "", err
		}
		opt.PoolSize, opt.MinIdleConns = poolSize, minIdleConns
		opt.ReadTimeout, opt.WriteTimeout = ioTimeout, ioTimeout
		return redis.NewClient(opt), opt.Addr, nil
	}
	opt, err := ParseClusterURL(raw)
	if err != nil {
		return nil, "", err
	}
	opt.PoolSize, opt.MinIdleConns = poolSize, minIdleConns
	opt.ReadTimeout, opt.WriteTimeout = ioTimeout, ioTimeout
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
