package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/infliq/infliq/backend/platform/cache/redistest"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/httpx"
	"github.com/infliq/infliq/backend/platform/logx"
	"github.com/infliq/infliq/backend/platform/metrics"
)

// BenchmarkProxyWithRateLimit measures the edge: request id, CORS, the
// Redis rate limit, body limit and the proxy hop to a trivial upstream.
func BenchmarkProxyWithRateLimit(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"userId":"65a1b2c3d4e5f60718293a4b"}`))
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	rdb := redistest.New(b)
	e := config.Gateway{RateMax: 1 << 30, RateWindow: config.Millis(time.Minute), MaxBodyBytes: 1 << 20}
	g := New(Options{
		Upstreams: Upstreams{"auth": u}, Edge: e, Log: logx.Discard(), Metrics: metrics.New(),
		Limiter: NewRedisLimiter(rdb, redistest.Prefix(), e.RateMax, e.RateWindow.D()),
	})
	srv := httptest.NewServer(g)
	defer srv.Close()
	hc := &http.Client{Transport: httpx.NewTransport()}
	b.ReportAllocs()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := hc.Post(srv.URL+"/infliq.auth.v1.AuthService/GetSession", "application/json", strings.NewReader("{}"))
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Fatalf("status %d", res.StatusCode)
			}
		}
	})
}
