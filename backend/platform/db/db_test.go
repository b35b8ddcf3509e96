package db_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/infliq/infliq/backend/platform/db"
	"github.com/infliq/infliq/backend/platform/logx"
	"github.com/infliq/infliq/backend/platform/pgtest"
)

// TestMigrateUpOnEmptyDatabase applies every migration to a database that has
// nothing in it, twice (the second run is a no-op), concurrently from two
// "tiers" to exercise the advisory lock.
func TestMigrateUpOnEmptyDatabase(t *testing.T) {
	ctx := context.Background()
	admin := pgtest.New(t) // any database on the test server, to create an empty one
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := fmt.Sprintf("infliq_empty_%x", b)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	u, _ := url.Parse(admin.Config().ConnString())
	u.Path = "/" + name
	pool, err := db.Open(ctx, u.String(), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	errs := make(chan error, 2)
	for i := 0; i < 2; i++ {
		go func() { errs <- db.Migrate(ctx, pool, logx.Discard()) }()
	}
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	st, err := db.Status(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) == 0 {
		t.Fatal("no migrations found")
	}
	for _, s := range st {
		if s.State != goose.StateApplied {
			t.Errorf("%s: %s", s.Source.Path, s.State)
		}
	}
	if err := db.Migrate(ctx, pool, logx.Discard()); err != nil {
		t.Fatalf("second run: %v", err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("users table after migrate: %d %v", n, err)
	}
	_, err = pool.Exec(ctx, `INSERT INTO users (id) VALUES ('x')`)
	if err == nil {
		t.Fatal("object_id domain not enforced")
	}
	if !db.IsNoRows(pool.QueryRow(ctx, `SELECT 1 FROM users`).Scan(new(int))) {
		t.Fatal("IsNoRows")
	}
}
