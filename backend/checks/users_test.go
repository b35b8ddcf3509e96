package checks

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/infliq/infliq/backend/gateway"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/httpx"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/logx"
	"github.com/infliq/infliq/backend/platform/metrics"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
	"github.com/infliq/infliq/backend/user"
	"github.com/infliq/infliq/compat/rest"
)

// TestUserChecksPassAgainstTheGateway runs the user checks against a real
// gateway and user tier, so the checks and the routes cannot drift apart.
func TestUserChecksPassAgainstTheGateway(t *testing.T) {
	pool := pgtest.New(t)
	userURL, _, _ := tiertest.Serve(t, user.NewTier(tiertest.Deps(), pool).Handler())
	u, _ := url.Parse(userURL)
	gw := gateway.New(gateway.Options{
		Upstreams: gateway.Upstreams{"user": u}, Log: logx.Discard(), Metrics: metrics.New(),
		Edge: config.Gateway{MaxBodyBytes: 1 << 20},
		Legacy: rest.New(rest.Deps{Log: logx.Discard(), Verifier: tiertest.Verifier(),
			Clients: rest.NewClients(&http.Client{Transport: httpx.NewTransport()}, rest.URLs{User: userURL})}),
	})
	base, _, _ := tiertest.Serve(t, gw)
	uid := id.New()
	if _, err := pool.Exec(context.Background(), `INSERT INTO users (id, name) VALUES ($1, 'Asha')`, uid); err != nil {
		t.Fatal(err)
	}
	// A follow, so the follow-state check sees a non-empty list.
	other := id.New()
	for _, q := range []string{`INSERT INTO users (id, name) SELECT $1, 'Bo' WHERE $2::text IS NOT NULL`,
		`INSERT INTO follows (follower_id, followee_id) VALUES ($2, $1)`} {
		if _, err := pool.Exec(context.Background(), q, other, uid); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	r := &runner{out: &out}
	userAnonymousChecks(context.Background(), r, newClient(base, 5*time.Second, ""))
	userProtectedChecks(context.Background(), r, newClient(base, 5*time.Second, tiertest.Token(t, uid)))
	userAppStateChecks(context.Background(), r, newClient(base, 5*time.Second, tiertest.Token(t, uid)))
	if r.summary() != 0 || strings.Contains(out.String(), "FAIL") || r.passed < 9 {
		t.Fatal(out.String())
	}
	t.Log(out.String())
}
