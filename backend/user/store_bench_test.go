package user

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/pgtest"
)

var (
	benchOnce  sync.Once
	benchPool  *pgxpool.Pool
	benchUsers []id.ID
	benchErr   error
)

// benchStore is a database seeded with 100k users and 500k follows, shared
// by the sub-benchmarks of BenchmarkStore. USER_BENCH_DSN points it at an
// existing migrated database instead (seeded when empty, kept afterwards,
// e.g. to EXPLAIN ANALYZE by hand).
func benchStore(b *testing.B) (*Store, []id.ID) {
	b.Helper()
	benchOnce.Do(func() {
		ctx := context.Background()
		dsn := os.Getenv("USER_BENCH_DSN")
		if dsn == "" {
			dsn = pgtest.NewDSN(b)
		}
		benchPool, benchErr = pgxpool.New(ctx, dsn)
		if benchErr != nil {
			return
		}
		var n int
		if benchErr = benchPool.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); benchErr != nil {
			return
		}
		if n == 0 {
			benchUsers, benchErr = SeedSynthetic(ctx, benchPool, 100_000, 500_000, 42)
			return
		}
		rows, err := benchPool.Query(ctx, `SELECT id FROM users ORDER BY id`)
		if err != nil {
			benchErr = err
			return
		}
		benchUsers, benchErr = pgx.CollectRows(rows, pgx.RowTo[id.ID])
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return NewStore(benchPool), benchUsers
}

// benchStoreNearby is the map query; with record it also stores the
// caller's position, as the legacy route does on every query (a user
// moving to another city each time: a real write, the worst case).
func benchStoreNearby(b *testing.B, _ *Store, ids []id.ID, record bool) {
	ctx := context.Background()
	s, pid := singleConnStore(b)
	b.ReportAllocs()
	self0, pg0 := cpuNow(pid)
	i := 0
	for b.Loop() {
		c := SeedCities[i%len(SeedCities)]
		if _, err := s.Nearby(ctx, ids[(i*7919)%len(ids)], NearbyQuery{Lat: c[0], Lng: c[1], Radius: 50000, Limit: 50, Record: record}); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportCPU(b, pid, self0, pg0)
}

func benchStoreNearbyCategory(b *testing.B, s *Store, ids []id.ID) {
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c := SeedCities[i%len(SeedCities)]
		if _, err := s.Nearby(ctx, ids[(i*7919)%len(ids)], NearbyQuery{Lat: c[0], Lng: c[1], Radius: 50000, Category: "music", Limit: 50}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func benchStoreSearch(b *testing.B, s *Store, ids []id.ID) {
	ctx := context.Background()
	queries := []string{"reddy", "asha", "müller", "priya sh", "kowal", "zoë", "nakamura", "ivan"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.Search(ctx, ids[(i*7919)%len(ids)], queries[i%len(queries)], 20); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func benchStoreProfile(b *testing.B, s *Store, ids []id.ID) {
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, _, err := s.ProfileWithConnections(ctx, ids[(i*7919)%len(ids)], ids[(i*104729)%len(ids)], maxConnectionsPreview, maxConnectionIDs); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkStore measures the hot store queries on one seeded database.
func BenchmarkStore(b *testing.B) {
	s, ids := benchStore(b)
	b.Run("Nearby", func(b *testing.B) { benchStoreNearby(b, s, ids, false) })
	b.Run("NearbyRecording", func(b *testing.B) { benchStoreNearby(b, s, ids, true) })
	// The app's pattern: the same users reload their map again and again.
	b.Run("NearbyRecordingRepeat", func(b *testing.B) { benchStoreNearby(b, s, ids[:200], true) })
	b.Run("NearbyCategory", func(b *testing.B) { benchStoreNearbyCategory(b, s, ids) })
	b.Run("Search", func(b *testing.B) { benchStoreSearch(b, s, ids) })
	b.Run("ProfileWithConnections", func(b *testing.B) { benchStoreProfile(b, s, ids) })
}

// TestQueriesUseTheirIndexes checks with EXPLAIN that nearby and search are
// served by users_geo_idx (users_geo_verified_idx for the verified
// filter) and users_name_trgm_idx.
func TestQueriesUseTheirIndexes(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	ids, err := SeedSynthetic(ctx, pool, 20_000, 20_000, 7)
	if err != nil {
		t.Fatal(err)
	}
	viewer := ids[0]
	st := NewStore(pool)
	q := NearbyQuery{Lat: 17.385, Lng: 78.4867, Radius: 50000, Limit: 50}
	qr := q
	qr.Record = true
	for name, tc := range map[string]struct {
		sql  string
		args []any
		idx  string
	}{
		"nearby":           {nearbySQL("", false), st.nearbyArgs(viewer, q), "Index Only Scan using users_geo_idx"},
		"nearby recording": {nearbySQL("", true), st.nearbyArgs(viewer, qr), "Index Only Scan using users_geo_idx"},
		"nearby verified":  {nearbySQL(verifiedFilter, false), st.nearbyArgs(viewer, q), "Index Only Scan using users_geo_verified_idx"},
		"search":           {searchSQL, searchArgs(viewer, "asha reddy", 20), "users_name_trgm_idx"},
	} {
		rows, err := pool.Query(ctx, "EXPLAIN "+tc.sql, tc.args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, line)
		}
		rows.Close()
		joined := strings.Join(plan, "\n")
		if !strings.Contains(joined, tc.idx) {
			t.Fatalf("%s does not use %s:\n%s", name, tc.idx, joined)
		}
		t.Logf("%s plan:\n%s", name, joined)
	}
}
