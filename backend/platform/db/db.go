// Package db opens the PostgreSQL pool and applies the embedded migrations.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/infliq/infliq/backend/migrations"
)

// Open connects a pool and checks it answers.
func Open(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	return OpenWith(ctx, url, Options{MaxConns: maxConns})
}

// Options shape the pool.
type Options struct {
	MaxConns int32
	// PgBouncer (DB_PGBOUNCER) means url reaches PostgreSQL through PgBouncer
	// in transaction mode, where consecutive statements of one connection
	// may run on different server connections: pgx must not rely on named
	// prepared statements (its default). The describe-cache mode sends each
	// statement as an unnamed Parse/Bind/Execute, caching only the result
	// description. Session state (SET, session advisory locks, LISTEN) is
	// not used by the tiers; transaction-scoped forms are.
	PgBouncer bool
}

// OpenWith connects a pool shaped by o and checks it answers.
func OpenWith(ctx context.Context, url string, o Options) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("db: DATABASE_URL: %w", err)
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	if o.PgBouncer {
		cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
	}
	cfg.MaxConnIdleTime = 5 * time.Minute
	cfg.HealthCheckPeriod = 30 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("db: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("db: ping: %w", err)
	}
	return pool, nil
}

// Migrate applies every pending migration. A PostgreSQL advisory lock makes
// concurrent starts (several tiers, several replicas) safe.
func Migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	sqlDB := stdlib.OpenDBFromPool(pool)
	defer sqlDB.Close()
	p, err := provider(sqlDB, BehindPgBouncer(pool))
	if err != nil {
		return err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("db: migrate: %w", err)
	}
	for _, r := range results {
		log.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "duration_ms", r.Duration.Milliseconds())
	}
	return nil
}

// Status lists every migration and whether it is applied.
func Status(ctx context.Context, pool *pgxpool.Pool) ([]*goose.MigrationStatus, error) {
	sqlDB := stdlib.OpenDBFromPool(pool)
	defer sqlDB.Close()
	p, err := provider(sqlDB, BehindPgBouncer(pool))
	if err != nil {
		return nil, err
	}
	return p.Status(ctx)
}

func provider(sqlDB *sql.DB, pgBouncer bool) (*goose.Provider, error) {
	opts := []goose.ProviderOption{goose.WithAllowOutofOrder(true)}
	if pgBouncer {
		// A session advisory lock would be taken on one server connection
		// and released on another: lock through a row instead.
		locker, err := lock.NewPostgresTableLocker(lock.WithTableLockTimeout(time.Second, 300))
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithLocker(locker))
	} else {
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	return goose.NewProvider(goose.DialectPostgres, sqlDB, migrations.FS, opts...)
}

// BehindPgBouncer reports whether pool was opened with Options.PgBouncer.
func BehindPgBouncer(pool *pgxpool.Pool) bool {
	return pool.Config().ConnConfig.DefaultQueryExecMode != pgx.QueryExecModeCacheStatement
}

// Budget is what a pool may take from PostgreSQL's connection limit.
type Budget struct {
	// Usable is max_connections minus the superuser reserve.
	Usable int
	// InUse counts client connections open now (every tier and replica).
	InUse int
}

// Fits reports whether a pool of maxConns more connections fits.
func (b Budget) Fits(maxConns int32) bool { return b.InUse+int(maxConns) <= b.Usable }

// CheckBudget reads the server's connection budget. The deployment must keep
// tiers × replicas × DB_MAX_CONNS under Usable (README, "Running at scale");
// a process warns at start when its own pool would not fit next to the
// connections already open. Behind PgBouncer the server's limit says nothing
// about the pooler's, so callers skip the check there.
func CheckBudget(ctx context.Context, pool *pgxpool.Pool) (Budget, error) {
	var b Budget
	err := pool.QueryRow(ctx, `SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int,
		(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int`).Scan(&b.Usable, &b.InUse)
	return b, err
}

// IsUniqueViolation reports a unique-constraint conflict (SQLSTATE 23505).
func IsUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// IsForeignKeyViolation reports a missing referenced row (SQLSTATE 23503).
func IsForeignKeyViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}

// IsNoRows reports an empty single-row result.
func IsNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// Querier is what stores need from a pool or a transaction.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// InTx runs fn in a transaction, committing on nil and rolling back otherwise.
func InTx(ctx context.Context, pool *pgxpool.Pool, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, pool, fn)
}
