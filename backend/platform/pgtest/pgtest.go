// Package pgtest gives each test its own freshly migrated PostgreSQL
// database. It uses PG_TEST_DSN (default: the local server on 127.0.0.1:5432)
// and, when that server cannot be reached, starts a private cluster from the
// machine's binaries. A template database holding the migrated schema is
// built once per migration set, so each test pays only a CREATE DATABASE.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/infliq/infliq/backend/migrations"
	"github.com/infliq/infliq/backend/platform/db"
	"github.com/infliq/infliq/backend/platform/logx"
	"github.com/infliq/infliq/devstack"
)

const defaultDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

var (
	once     sync.Once
	adminDSN string
	tmplName string
	setupErr error
)

// New returns a pool on a new, migrated database that is dropped when t ends.
func New(t testing.TB) *pgxpool.Pool {
	t.Helper()
	dsn := NewDSN(t)
	pool, err := db.Open(context.Background(), dsn, 8)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// NewDSN creates a migrated database and returns its DSN (for processes
// under test that open their own pool).
func NewDSN(t testing.TB) string {
	t.Helper()
	once.Do(setup)
	if setupErr != nil {
		t.Fatalf("pgtest: %v", setupErr)
	}
	name := "infliq_test_" + randHex(6)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer admin.Close(ctx)
	var lastErr error
	for i := 0; i < 50; i++ { // the template may be briefly busy with a concurrent copy
		if _, lastErr = admin.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, name, tmplName)); lastErr == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if lastErr != nil {
		t.Fatalf("pgtest: create database: %v", lastErr)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), adminDSN)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name))
	})
	return withDB(adminDSN, name)
}

func setup() {
	ctx := context.Background()
	adminDSN = os.Getenv("PG_TEST_DSN")
	if adminDSN == "" {
		adminDSN = defaultDSN
		if c, err := pgx.Connect(ctx, adminDSN); err == nil {
			c.Close(ctx)
		} else {
			// No server: start a private one for this test binary.
			dir, derr := os.MkdirTemp("", "infliq-pgtest-")
			if derr != nil {
				setupErr = derr
				return
			}
			pg, perr := devstack.StartPostgres(ctx, filepath.Join(dir, "pg"), 0)
			if perr != nil {
				setupErr = fmt.Errorf("no PostgreSQL at %s and none could be started: %w", defaultDSN, perr)
				return
			}
			adminDSN = pg.DSN
		}
	}
	tmplName = "infliq_tmpl_" + migrationsHash()
	admin, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		setupErr = err
		return
	}
	defer admin.Close(ctx)
	// Serialise template creation across concurrently running test binaries.
	if _, err := admin.Exec(ctx, `SELECT pg_advisory_lock(727274)`); err != nil {
		setupErr = err
		return
	}
	defer admin.Exec(ctx, `SELECT pg_advisory_unlock(727274)`) //nolint:errcheck
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, tmplName).Scan(&exists); err != nil {
		setupErr = err
		return
	}
	if exists {
		return
	}
	building := tmplName + "_build"
	_, _ = admin.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, building))
	if _, err := admin.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s`, building)); err != nil {
		setupErr = err
		return
	}
	pool, err := db.Open(ctx, withDB(adminDSN, building), 2)
	if err != nil {
		setupErr = err
		return
	}
	err = db.Migrate(ctx, pool, logx.Discard())
	pool.Close()
	if err != nil {
		setupErr = err
		return
	}
	if _, err := admin.Exec(ctx, fmt.Sprintf(`ALTER DATABASE %s RENAME TO %s`, building, tmplName)); err != nil {
		setupErr = err
		return
	}
}

// migrationsHash names the template after the migration files' content, so a
// changed migration builds a new template.
func migrationsHash() string {
	h := sha256.New()
	_ = fs.WalkDir(migrations.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := migrations.FS.ReadFile(p)
		h.Write([]byte(p))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func withDB(dsn, name string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	u.Path = "/" + name
	return u.String()
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
