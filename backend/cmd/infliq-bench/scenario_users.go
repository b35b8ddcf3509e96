//go:build linux

package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"

	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/user"
)

// usersSeed seeds the social graph once per bench database: 100k users
// (about 90% with a location, clustered around user.SeedCities) and 1M
// follows, through COPY.
var usersSeed struct {
	sync.Mutex
	ids []id.ID
}

func seedUserGraph(ctx context.Context, env *Env) ([]id.ID, error) {
	usersSeed.Lock()
	defer usersSeed.Unlock()
	if usersSeed.ids != nil {
		return usersSeed.ids, nil
	}
	ids, err := user.SeedSynthetic(ctx, env.DB, 100_000, 1_000_000, 2026)
	if err != nil {
		return nil, err
	}
	usersSeed.ids = ids
	return ids, nil
}

// usersScenario builds a scenario whose i-th request is path(i, ids) sent as
// a rotating seeded user.
func usersScenario(name, desc string, path func(i uint64, ids []id.ID) string) Scenario {
	return Scenario{
		Name: name, Description: desc, Connections: 64,
		Prepare: func(ctx context.Context, env *Env) (func(uint64) Request, error) {
			ids, err := seedUserGraph(ctx, env)
			if err != nil {
				return nil, err
			}
			// 256 callers, each with its own token.
			headers := make([]http.Header, 256)
			for i := range headers {
				headers[i] = jsonHeader(env.Token(ids[(i*389)%len(ids)]))
			}
			return func(i uint64) Request {
				return Request{Method: "GET", Path: path(i, ids), Header: headers[i%uint64(len(headers))]}
			}, nil
		},
	}
}

// jitter is a deterministic offset in [-0.05, 0.05] degrees for request i
// (k picks an independent sequence per coordinate).
func jitter(i, k uint64) float64 {
	h := (i + 1) * (0x9e3779b97f4a7c15 + 2*k) // odd multiplier: a bijection on uint64
	h ^= h >> 29
	return float64(h%1001)/10000 - 0.05
}

var usersSearchTerms = []string{"reddy", "asha", "priya sh", "müller", "kowal", "zoë", "nakamura", "ivan", "okafor", "mateo s"}

func init() {
	register(usersScenario("users.nearby",
		"GET /api/users/nearby (50 km, 50 results) around seeded cities, 100k users / 1M follows",
		func(i uint64, _ []id.ID) string {
			c := user.SeedCities[i%uint64(len(user.SeedCities))]
			cat := []string{"global", "verified", "music", ""}[i%4]
			// A deterministic jitter of up to ±0.05° keeps this from being
			// a handful of repeated queries on the exact city centres.
			return fmt.Sprintf("/api/users/nearby?lat=%.4f&lng=%.4f&category=%s", c[0]+jitter(i, 1), c[1]+jitter(i, 2), cat)
		}))
	register(usersScenario("users.search",
		"GET /api/users/search?q=… (escaped ILIKE over a trigram index, 20 results), 100k users",
		func(i uint64, _ []id.ID) string {
			return "/api/users/search?q=" + url.QueryEscape(usersSearchTerms[i%uint64(len(usersSearchTerms))])
		}))
	register(usersScenario("users.get",
		"GET /api/users/:id (profile with follower/following previews), 100k users / 1M follows",
		func(i uint64, ids []id.ID) string {
			return "/api/users/" + ids[(i*7919)%uint64(len(ids))].String()
		}))
}
