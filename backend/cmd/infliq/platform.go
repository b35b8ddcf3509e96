package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/infliq/infliq/backend/auth/revoke"
	"github.com/infliq/infliq/backend/feed"
	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/cache"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/db"
	"github.com/infliq/infliq/backend/platform/httpx"
	"github.com/infliq/infliq/backend/platform/logx"
	"github.com/infliq/infliq/backend/platform/mediaurl"
	"github.com/infliq/infliq/backend/platform/metrics"
	"github.com/infliq/infliq/backend/platform/tier"
)

// platform is what the tiers of one process share.
type platform struct {
	// ctx ends at shutdown; background jobs of the tiers stop with it.
	ctx  context.Context
	cfg  *config.Config
	log  *slog.Logger
	pool *pgxpool.Pool
	rdb  *redis.Client
	// pipelined coalesces the per-request Redis commands of concurrent
	// requests (rate limit, revocation checks) into one round trip.
	pipelined *redis.AutoPipeliner
	metrics   *metrics.Registry
	verifier  *authn.Verifier
	// revocations refuse access tokens of ended sessions and deleted
	// accounts in every tier's verifier; the auth tier writes them.
	revocations *revoke.Store
	// writeMarks give authors read-your-writes over the feed snapshots.
	writeMarks *cache.WriteMarks
	// local serves calls between the tiers of this process in process
	// (`infliq all`); nil when one tier runs.
	local *httpx.Local
}

// transport carries one tier's calls to another: in process when both run
// here, else pooled HTTP/1.1.
func (p *platform) transport() http.RoundTripper {
	return p.local.Transport(httpx.NewTransport())
}

func loadConfig() (*config.Config, *slog.Logger, error) {
	cfg, err := config.Load()
	if err != nil {
		return nil, nil, err
	}
	log := logx.New(os.Stderr, logx.Options{Level: cfg.LogLevel, Format: cfg.LogFormat})
	return cfg, log, nil
}

// open connects the stores cfg points at and migrates when asked to.
// The gateway alone runs without PostgreSQL (withDB false): it needs only Redis.
func open(ctx context.Context, cfg *config.Config, log *slog.Logger, withDB bool) (*platform, error) {
	p := &platform{ctx: ctx, cfg: cfg, log: log, metrics: metrics.New()}
	p.verifier = authn.NewVerifier(cfg.JWT.Secret, cfg.JWT.Issuer, cfg.JWT.Audience, cfg.JWT.LegacyAccepted)
	if withDB {
		if cfg.DatabaseURL == "" {
			return nil, errors.New("DATABASE_URL is not set (in development `infliq all` starts an embedded PostgreSQL)")
		}
		pool, err := db.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
		if err != nil {
			return nil, err
		}
		p.pool = pool
		if cfg.MigrateOnStart {
			if err := db.Migrate(ctx, pool, log); err != nil {
				p.close()
				return nil, err
			}
		}
	}
	if cfg.RedisURL == "" {
		p.close()
		return nil, errors.New("REDIS_URL is not set (in development `infliq all` runs an in-process Redis)")
	}
	rdb, err := cache.Open(ctx, cfg.RedisURL)
	if err != nil {
		p.close()
		return nil, err
	}
	p.rdb = rdb
	if p.pipelined, err = rdb.AutoPipeline(); err != nil {
		p.close()
		return nil, err
	}
	p.revocations = revoke.New(p.pipelined, authRedisPrefix, cfg.JWT.ExpiresIn.D())
	p.writeMarks = cache.NewWriteMarks(p.pipelined, "rw:", writeMarkTTL)
	// A revocation reaches every verifier of this process within a second.
	p.verifier.Revocations = authn.CachedRevocations(p.revocations, time.Second)
	return p, nil
}

func (p *platform) close() {
	if p.pipelined != nil {
		_ = p.pipelined.Close()
	}
	if p.rdb != nil {
		_ = p.rdb.Close()
	}
	if p.pool != nil {
		p.pool.Close()
	}
}

// deps returns the tier dependencies, logging as "<name>-service".
func (p *platform) deps(name string) tier.Deps {
	svc := name + "-service"
	if name == "gateway" {
		svc = "api-gateway"
	}
	d := tier.Deps{
		Log:           p.log.With("service", svc),
		Metrics:       p.metrics,
		Verifier:      p.verifier,
		InternalToken: p.cfg.InternalToken,
		MaxBodyBytes:  p.cfg.Gateway.MaxBodyBytes,
	}
	switch name {
	case "user", "post", "feed", "chat", "call", "realtime":
		// Their responses carry stored media values; media and auth return
		// URLs that are final (presigned) or none.
		d.MediaURLs = mediaurl.New(p.cfg.S3)
	}
	switch name {
	case "user", "post", "feed":
		// Their writes change what the feed's snapshots show (authors,
		// posts, counters); the feed tier reads the marks.
		d.WriteMarks = p.writeMarks
	}
	return d
}

// writeMarkTTL outlives the longest a feed snapshot can be served after a
// write commits: its TTL, plus a refresh (one query) with margin.
const writeMarkTTL = feed.DefaultHotFeedTTL + 2*time.Second
