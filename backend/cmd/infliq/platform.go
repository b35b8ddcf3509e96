package main

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/infliq/infliq/backend/auth/revoke"
	"github.com/infliq/infliq/backend/feed"
	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/cache"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/db"
	"github.com/infliq/infliq/backend/platform/httpx"
	"github.com/infliq/infliq/backend/platform/logx"
	"github.com/infliq/infliq/backend/platform/mediaurl"
	"github.com/infliq/infliq/backend/platform/metrics"
	"github.com/infliq/infliq/backend/platform/telemetry"
	"github.com/infliq/infliq/backend/platform/tier"
)

// platform is what the tiers of one process share.
type platform struct {
	// ctx ends at shutdown; background jobs of the tiers stop with it.
	ctx  context.Context
	cfg  *config.Config
	log  *slog.Logger
	pool *pgxpool.Pool
	rdb  redis.UniversalClient
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
	// internal is the METRICS_ADDR handler, set when the gateway is built.
	internal http.Handler
	// tracing is nil unless OTEL_EXPORTER_OTLP_ENDPOINT is set.
	tracing       *telemetry.Tracing
	traceShutdown func(context.Context) error
	// closers run at close, newest first, before the pools close (e.g.
	// the push workers drain).
	closers []func(context.Context) error
}

// onClose runs f at close, before the database and Redis pools close.
func (p *platform) onClose(f func(context.Context) error) { p.closers = append(p.closers, f) }

// setupTracing is telemetry.Setup; tests swap in an in-memory exporter.
var setupTracing = telemetry.Setup

// newBus is the realtime bus, tracing its events when tracing is on.
func (p *platform) newBus() *bus.Redis {
	b := bus.New(p.rdb, busPrefix, p.cfg.Realtime.EventLogLen)
	b.Trace = p.tracing
	return b
}

// transport carries one tier's calls to another: in process when both run
// here, else pooled HTTP/1.1.
func (p *platform) transport() http.RoundTripper {
	return p.local.Transport(p.balance(httpx.NewTransport()))
}

// balance spreads calls to a tier listed with several replicas over them.
func (p *platform) balance(next http.RoundTripper) http.RoundTripper {
	return httpx.NewBalancer(next, slices.Collect(maps.Values(serviceURLs(p.cfg)))...)
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
func open(ctx context.Context, cfg *config.Config, log *slog.Logger, withDB bool, service string) (*platform, error) {
	p := &platform{ctx: ctx, cfg: cfg, log: log, metrics: metrics.New()}
	var err error
	if p.tracing, p.traceShutdown, err = setupTracing(ctx, cfg.Telemetry, service); err != nil {
		return nil, err
	}
	p.verifier = authn.NewVerifier(cfg.JWT.Secret, cfg.JWT.Issuer, cfg.JWT.Audience, cfg.JWT.LegacyAccepted)
	if withDB {
		if cfg.DatabaseURL == "" {
			return nil, errors.New("DATABASE_URL is not set (in development `infliq all` starts an embedded PostgreSQL)")
		}
		pool, err := db.OpenWith(ctx, cfg.DatabaseURL, db.Options{MaxConns: cfg.DBMaxConns, PgBouncer: cfg.DBPgBouncer})
		if err != nil {
			return nil, err
		}
		p.pool = pool
		if !cfg.DBPgBouncer {
			if b, err := db.CheckBudget(ctx, pool); err == nil && !b.Fits(cfg.DBMaxConns) {
				log.Warn("connection budget exceeded: tiers × replicas × DB_MAX_CONNS must fit max_connections",
					"db_max_conns", cfg.DBMaxConns, "usable", b.Usable, "in_use", b.InUse)
			}
		}
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
	br := cache.NewBreaker()
	br.OnChange = func(open bool) {
		if open {
			log.Error("redis unreachable: failing Redis calls at once until it answers again")
		} else {
			log.Info("redis reachable again")
		}
	}
	rdb, err := cache.Open(ctx, cfg.RedisURL, cache.Options{Timeout: cfg.RedisTimeout.D(), Breaker: br})
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
	// While Redis is down a session checked in the last revocationStale
	// keeps working; past that the check fails closed (README, degrade policy).
	p.verifier.Revocations = authn.CachedRevocations(p.revocations, time.Second, revocationStale)
	return p, nil
}

// revocationStale bounds how long a "not revoked" answer stands while Redis
// cannot be asked.
const revocationStale = 10 * time.Second

func (p *platform) close() {
	for i := len(p.closers) - 1; i >= 0; i-- {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := p.closers[i](ctx); err != nil {
			p.log.Warn("shutdown step failed", "err", err)
		}
		cancel()
	}
	p.closers = nil
	if p.traceShutdown != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = p.traceShutdown(ctx) // flushes the spans still batched
		cancel()
	}
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
		// Tier ports are private, but a trickling body must not hold one either.
		BodyReadTimeout: p.cfg.Gateway.BodyReadTimeout.D(),
		Tracing:         p.tracing,
	}
	switch name {
	case "user", "post", "feed", "chat", "call", "realtime", "admin":
		// Their responses carry stored media values; media and auth return
		// URLs that are final (presigned) or none. The admin console's
		// previews go through the media proxy like the app's media.
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
