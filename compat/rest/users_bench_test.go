package rest_test

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/infliq/infliq/backend/platform/tier/tiertest"
	"github.com/infliq/infliq/backend/user"
)

// BenchmarkLegacyGetUser is GET /api/users/:id through the gateway, the
// legacy router and a user tier (all in this process) on 5k seeded users.
func BenchmarkLegacyGetUser(b *testing.B) {
	benchLegacy(b, func(i int, ids []string) string { return "/api/users/" + ids[(i*7919)%len(ids)] })
}

// BenchmarkLegacyNearby is GET /api/users/nearby the same way.
func BenchmarkLegacyNearby(b *testing.B) {
	benchLegacy(b, func(i int, _ []string) string {
		return "/api/users/nearby?lat=17.385&lng=78.4867&category=global"
	})
}

func benchLegacy(b *testing.B, path func(i int, ids []string) string) {
	e := newEdge(b)
	seeded, err := user.SeedSynthetic(context.Background(), e.pool, 5_000, 50_000, 3)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, len(seeded))
	for i, v := range seeded {
		ids[i] = v.String()
	}
	tok := tiertest.Token(b, seeded[0])
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		req, _ := http.NewRequest("GET", e.url+path(i, ids), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := e.hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Fatalf("status %d", res.StatusCode)
		}
		i++
	}
}
