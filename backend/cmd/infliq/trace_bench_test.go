package main

import (
	"context"
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/backend/platform/telemetry"
)

// discard is an exporter that drops spans: the benchmark measures what
// tracing costs the process (spans, propagation, batching), not a network.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// BenchmarkTracingOverhead measures CPU per request of `infliq all` (every
// tier in this process, plus the benchmark's own HTTP client) with tracing
// off and with tracing on at 10% sampling, on gateway.get-session and the
// legacy global feed. Run with a fixed count, e.g.
//
//	go test ./backend/cmd/infliq -run XXX -bench TracingOverhead -benchtime 4000x -count 2
func BenchmarkTracingOverhead(b *testing.B) {
	for _, mode := range []string{"off", "sampled10"} {
		b.Run(mode, func(b *testing.B) {
			old := setupTracing
			b.Cleanup(func() { setupTracing = old })
			if mode == "off" {
				setupTracing = func(context.Context, config.Telemetry, string) (*telemetry.Tracing, func(context.Context) error, error) {
					return nil, func(context.Context) error { return nil }, nil
				}
			} else {
				setupTracing = func(context.Context, config.Telemetry, string) (*telemetry.Tracing, func(context.Context) error, error) {
					tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard{}),
						sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.1))))
					tr, err := telemetry.New(tp)
					return tr, tp.Shutdown, err
				}
			}
			s := startStack(b, map[string]string{"DATABASE_URL": pgtest.NewDSN(b), "REDIS_URL": "redis://127.0.0.1:6379/0", "LOG_LEVEL": "error"})
			tok, _ := s.login(b)
			for i := range 30 {
				if st, _ := s.call("POST", "/api/posts", tok, map[string]any{"content": fmt.Sprintf("bench post %d", i)}); st != 201 && st != 200 {
					b.Fatalf("seed post: %d", st)
				}
			}
			for _, sc := range []struct{ name, method, path string }{
				{"get-session", "POST", "/infliq.auth.v1.AuthService/GetSession"},
				{"global-feed", "GET", "/api/posts/feed?page=1&limit=10"},
			} {
				b.Run(sc.name, func(b *testing.B) {
					var body any
					if sc.method == "POST" {
						body = map[string]any{}
					}
					b.SetParallelism(4)
					start := cpuTime()
					wall := time.Now()
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if st, _ := s.call(sc.method, sc.path, tok, body); st != http.StatusOK {
								b.Errorf("%s: %d", sc.name, st)
								return
							}
						}
					})
					b.StopTimer()
					b.ReportMetric(float64((cpuTime()-start).Microseconds())/float64(b.N), "cpu-µs/req")
					b.ReportMetric(float64(b.N)/time.Since(wall).Seconds(), "req/s")
				})
			}
		})
	}
}

// cpuTime is this process's user and system CPU so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
