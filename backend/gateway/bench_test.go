package gateway

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
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

// BenchmarkRedisLimiter is one rate-limit decision per request from 64
// concurrent requests over 10,000 client addresses, sent one command per
// round trip or coalesced by go-redis autopipelining (what the gateway
// uses): the Redis round trip was ~15% of the gateway's CPU per request.
func BenchmarkRedisLimiter(b *testing.B) {
	rdb := redistest.New(b)
	ap, err := rdb.AutoPipeline()
	if err != nil {
		b.Fatal(err)
	}
	defer ap.Close()
	for _, c := range []struct {
		name string
		l    *RedisLimiter
	}{
		{"direct", NewRedisLimiter(rdb, redistest.Prefix(), 1<<30, time.Minute)},
		{"autopipelined", NewRedisLimiter(ap, redistest.Prefix(), 1<<30, time.Minute)},
	} {
		b.Run(c.name, func(b *testing.B) {
			var n atomic.Uint64
			b.ReportAllocs()
			b.SetParallelism(32)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					key := "10.0." + strconv.Itoa(int(n.Add(1)%10_000))
					if res, err := c.l.Allow(context.Background(), key); err != nil || !res.Allowed {
						b.Fatal(res, err)
					}
				}
			})
		})
	}
}

// BenchmarkEdgeHardening is the CPU each request spends in the security
// headers and the body deadline (two SetReadDeadline calls on the real
// connection), against the same loopback server and handler without them,
// in one run. cpu-µs/op is the whole process's CPU (client included) per request.
func BenchmarkEdgeHardening(b *testing.B) {
	g := New(Options{Edge: config.Gateway{RateMax: 1, MaxBodyBytes: 1 << 20, BodyReadTimeout: config.Duration(20 * time.Second)},
		Log: logx.Discard(), Metrics: metrics.New(), HSTS: true})
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"userId":"65a1b2c3d4e5f60718293a4b"}`))
	})
	for _, c := range []struct {
		name string
		h    http.Handler
	}{
		{"baseline", next},
		{"headers", g.securityHeaders(next)},
		{"body-deadline", g.limitBodyTime(next)},
		{"both", g.securityHeaders(g.limitBodyTime(next))},
	} {
		b.Run(c.name, func(b *testing.B) {
			srv := httptest.NewServer(c.h)
			defer srv.Close()
			hc := &http.Client{Transport: httpx.NewTransport()}
			b.ReportAllocs()
			b.SetParallelism(4)
			start := cpuTime()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest("POST", srv.URL+"/infliq.auth.v1.AuthService/GetSession", strings.NewReader("{}"))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", "Bearer x")
					res, err := hc.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
			})
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N)/1e3, "cpu-µs/op")
		})
	}
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSecurityHeadersInProcess is the header middleware alone, without
// the network (the writer is reset for each request).
func BenchmarkSecurityHeadersInProcess(b *testing.B) {
	g := New(Options{Edge: config.Gateway{RateMax: 1, MaxBodyBytes: 1 << 20}, Log: logx.Discard(), Metrics: metrics.New(), HSTS: true})
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	req := httptest.NewRequest("POST", "/infliq.auth.v1.AuthService/GetSession", nil)
	req.Header.Set("Authorization", "Bearer x")
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"baseline", next}, {"headers", g.securityHeaders(next)}} {
		b.Run(c.name, func(b *testing.B) {
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				clear(w.Header())
				c.h.ServeHTTP(w, req)
			}
		})
	}
}
