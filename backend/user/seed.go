package user

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/infliq/infliq/backend/platform/id"
)

// SeedCities are the centres synthetic users cluster around (lat, lng).
var SeedCities = [][2]float64{
	{17.385, 78.4867}, {28.6139, 77.209}, {19.076, 72.8777}, {12.9716, 77.5946}, {13.0827, 80.2707},
	{22.5726, 88.3639}, {40.7128, -74.006}, {51.5074, -0.1278}, {-33.8688, 151.2093}, {35.6762, 139.6503},
	{-23.5505, -46.6333}, {6.5244, 3.3792}, {55.7558, 37.6173}, {1.3521, 103.8198}, {25.2048, 55.2708},
	{-1.2921, 36.8219}, {37.7749, -122.4194}, {48.8566, 2.3522}, {-64.8, -179.5}, {64.1, 179.6},
}

var (
	seedFirst = []string{"Asha", "Ravi", "Priya", "Arjun", "Meera", "Vikram", "Ananya", "Rahul", "Sneha", "Kiran",
		"Zoë", "Liam", "Olivia", "Noah", "Emma", "Mateo", "Sofia", "Yuki", "Chen", "Fatima",
		"Omar", "Amara", "Lucas", "Isabela", "Ivan", "Nadia", "Kwame", "Aisha", "Diego", "Hana"}
	seedLast = []string{"Reddy", "Sharma", "Patel", "Iyer", "Khan", "Singh", "Das", "Menon", "Rao", "Gupta",
		"Smith", "Garcia", "Müller", "Tanaka", "Wang", "Okafor", "Silva", "Ivanova", "Haddad", "Mensah",
		"Nakamura", "Kowalski", "Rossi", "Dubois", "Ahmed", "Kim", "Nguyen", "Larsen", "Costa", "Moreau"}
	seedCategories = []string{"sports", "music", "food", "travel", "art", "tech", "verified"}
)

// SeedSynthetic writes n users clustered around SeedCities (about one in ten
// without a location; the others' positions are fresh) and follows edges (skewed towards early users) with
// consistent counts, through COPY. It is for benchmarks and load tests and
// returns the user ids in creation order.
func SeedSynthetic(ctx context.Context, pool *pgxpool.Pool, n, follows int, seed uint64) ([]id.ID, error) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	ids := make([]id.ID, n)
	base := time.Now().Add(-time.Duration(n) * time.Second)
	for i := range ids {
		ids[i] = id.NewAt(base.Add(time.Duration(i) * time.Second))
	}
	type edge struct{ a, b int32 }
	seen := make(map[edge]struct{}, follows)
	fers := make([]int32, n)
	fing := make([]int32, n)
	edges := make([][]any, 0, follows)
	for len(edges) < follows && n > 1 {
		a := int32(rng.IntN(n))
		// Squaring a uniform skews followees towards low indexes (popular users).
		u := rng.Float64()
		b := int32(u * u * float64(n))
		if a == b {
			continue
		}
		e := edge{a, b}
		if _, dup := seen[e]; dup {
			continue
		}
		seen[e] = struct{}{}
		fing[a]++
		fers[b]++
		edges = append(edges, []any{ids[a].String(), ids[b].String(), base.Add(time.Duration(len(edges)) * time.Millisecond)})
	}
	rows := make([][]any, n)
	now := time.Now()
	for i := range rows {
		var lat, lng, at any
		if rng.IntN(10) != 0 {
			at = now
			c := SeedCities[rng.IntN(len(SeedCities))]
			la := math.Max(-89.9, math.Min(89.9, c[0]+rng.NormFloat64()))
			lo := c[1] + rng.NormFloat64()
			lo = math.Mod(lo+540, 360) - 180
			lat, lng = la, lo
		}
		var cats []string
		if rng.IntN(3) == 0 {
			cats = append(cats, seedCategories[rng.IntN(len(seedCategories))])
		} else {
			cats = []string{}
		}
		name := fmt.Sprintf("%s %s", seedFirst[rng.IntN(len(seedFirst))], seedLast[rng.IntN(len(seedLast))])
		rows[i] = []any{ids[i].String(), name, fmt.Sprintf("bio %d", i), lat, lng, at, cats, rng.IntN(20) == 0,
			fers[i], fing[i], base.Add(time.Duration(i) * time.Second)}
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"users"},
		[]string{"id", "name", "bio", "latitude", "longitude", "location_updated_at", "categories", "is_verified", "followers_count", "following_count", "created_at"},
		pgx.CopyFromRows(rows)); err != nil {
		return nil, fmt.Errorf("seed users: %w", err)
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"follows"}, []string{"follower_id", "followee_id", "created_at"},
		pgx.CopyFromRows(edges)); err != nil {
		return nil, fmt.Errorf("seed follows: %w", err)
	}
	// VACUUM sets the visibility map (index-only nearby scans) and flushes
	// the trigram index's pending list, as autovacuum would in production.
	for _, t := range []string{"users", "follows"} {
		if _, err := pool.Exec(ctx, `VACUUM ANALYZE `+t); err != nil {
			return nil, err
		}
	}
	return ids, nil
}
