//go:build linux

package main

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/id"
)

// Request is one HTTP request a scenario sends through the gateway.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// Env is the running stack a scenario drives.
type Env struct {
	// BaseURL is the gateway.
	BaseURL string
	// DB is a pool on the bench database (for seeding and verification).
	DB *pgxpool.Pool
	// Redis is the bench Redis database.
	Redis redis.UniversalClient
	// Vars are the environment variables every tier got (a replicated
	// tier's *_SERVICE_URL lists its replicas, comma-separated).
	Vars map[string]string
	// RealtimeURLs are the base URLs of the realtime replicas (-rt-replicas).
	RealtimeURLs []string
	issuer       *authn.Issuer
	// restart stops every process running tier, all replicas at once
	// (SIGTERM, as a deploy does), and starts them again on their ports,
	// returning once all are healthy.
	restart func(ctx context.Context, tier string) error
}

// Token mints an access token for uid, signed like the auth tier signs.
func (e *Env) Token(uid id.ID) string {
	tok, _, err := e.issuer.IssueAccess(authn.AccessToken{UserID: uid}, time.Now())
	if err != nil {
		panic(err)
	}
	return tok
}

// Scenario is one load pattern.
type Scenario struct {
	Name        string
	Description string
	// Connections is the number of concurrent workers (default 64).
	Connections int
	// Prepare seeds what the scenario needs and returns the request of the
	// i-th hit. It must be safe for concurrent use.
	Prepare func(ctx context.Context, env *Env) (func(i uint64) Request, error)
	// Verify optionally checks exact results after the run.
	Verify func(ctx context.Context, env *Env) error
}

var registry []Scenario

func register(s Scenario) { registry = append(registry, s) }

// selected returns the scenarios matching the comma-separated spec.
func selected(spec string) []Scenario {
	var out []Scenario
	for _, s := range registry {
		if spec == "all" || spec == "" {
			out = append(out, s)
			continue
		}
		for _, want := range strings.Split(spec, ",") {
			if want = strings.TrimSpace(want); want != "" && strings.HasPrefix(s.Name, want) {
				out = append(out, s)
				break
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// jsonHeader is the header of an authenticated JSON call.
func jsonHeader(token string) http.Header {
	h := http.Header{"Content-Type": {"application/json"}}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return h
}
