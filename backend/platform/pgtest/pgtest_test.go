package pgtest

import (
	"context"
	"testing"
)

func TestMigratedDatabase(t *testing.T) {
	pool := New(t)
	ctx := context.Background()
	var ts string
	// The foundation migration's domain and function exist.
	if err := pool.QueryRow(ctx, `SELECT to_char(object_id_time('65a1b2c3d4e5f60718293a4b'::object_id) AT TIME ZONE 'UTC', 'YYYY')`).Scan(&ts); err != nil {
		t.Fatal(err)
	}
	if ts != "2024" {
		t.Fatalf("object_id_time year = %s", ts)
	}
	if _, err := pool.Exec(ctx, `SELECT 'not-an-id'::object_id`); err == nil {
		t.Fatal("object_id domain accepted a bad value")
	}
	other := New(t)
	if _, err := pool.Exec(ctx, `CREATE TABLE only_here (x int)`); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec(ctx, `SELECT * FROM only_here`); err == nil {
		t.Fatal("tests share a database")
	}
}
