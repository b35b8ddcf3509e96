package media

import (
	"bufio"
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	mediav1 "github.com/infliq/infliq/backend/gen/infliq/media/v1"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/mediaurl"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
)

// rssBytes reads the resident set size from /proc (0 where unavailable).
func rssBytes() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkConcurrentUploads50x20MB runs 50 concurrent 20 MB legacy uploads
// per iteration against the loopback sink S3 (plain HTTP: payloads are
// SHA-256 signed) and reports aggregate MB/s and the process RSS growth
// (peak during the run minus before it).
func BenchmarkConcurrentUploads50x20MB(b *testing.B) {
	sink, s3cfg := newSink(b)
	benchUploads(b, sink, s3cfg)
}

// BenchmarkConcurrentUploads50x20MBTLS is the same against a TLS sink, as
// with real S3: payloads go unsigned, the bytes are encrypted.
func BenchmarkConcurrentUploads50x20MBTLS(b *testing.B) {
	sink := &sinkS3{}
	srv := httptest.NewTLSServer(sink)
	b.Cleanup(srv.Close)
	pemFile := filepath.Join(b.TempDir(), "ca.pem")
	if err := os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		b.Fatal(err)
	}
	b.Setenv("AWS_CA_BUNDLE", pemFile)
	benchUploads(b, sink, configS3{AccessKeyID: "test", SecretAccessKey: "test-secret", Region: "us-east-1", Bucket: testBucket, Endpoint: srv.URL, ForcePathStyle: true})
}

func benchUploads(b *testing.B, sink *sinkS3, s3cfg configS3) {
	const (
		workers = 50
		size    = 20 << 20
	)
	e := newEnv(b, func(m *configMedia, s *configS3) { *s = s3cfg; m.UploadMaxInWindow = 1 << 30 })
	uid := id.New()
	tok := tiertest.Token(b, uid)
	client := &http.Client{Transport: e.h1.Transport}
	base := rssBytes()
	var peak int64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		for {
			if r := rssBytes(); r > peak {
				peak = r
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body, ct := streamingForm("file", "clip.mp4", "video/mp4", newVideoStream(size))
				req, _ := http.NewRequest(http.MethodPost, e.url+"/api/media/upload", body)
				req.Header.Set("Content-Type", ct)
				req.Header.Set("Authorization", "Bearer "+tok)
				res, err := client.Do(req)
				if err != nil {
					errs <- err
					return
				}
				res.Body.Close()
				if res.StatusCode != 200 {
					errs <- &statusErr{res.StatusCode}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	close(stop)
	sampler.Wait()
	mb := float64(sink.received.Load()) / (1 << 20)
	b.ReportMetric(mb/elapsed.Seconds(), "MB/s")
	b.ReportMetric(float64(peak-base)/(1<<20), "RSS-growth-MB")
}

type statusErr struct{ code int }

func (s *statusErr) Error() string { return "status " + strconv.Itoa(s.code) }

// BenchmarkGetSignedUrl measures the signing RPC through a real Connect
// client (the hot path behind GET /api/media/signed-url/:key).
func BenchmarkGetSignedUrl(b *testing.B) {
	e := newEnv(b)
	uid := id.New()
	c := e.client(uid, false)
	key := "posts/" + uid.String() + "/" + id.New().String() + ".jpg"
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.GetSignedUrl(ctx, connect.NewRequest(&mediav1.GetSignedUrlRequest{Key: key})); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkPresignGet is the signing itself (the hand-rolled signer; the
// SDK's PresignGetObject measured 50 µs and 338 allocs per call).
func BenchmarkPresignGet(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.st.PresignGet(ctx, "posts/65a0c0ffee0000000000beef/x.jpg", time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSniffAndResolve covers the per-request pure functions.
func BenchmarkSniffAndResolve(b *testing.B) {
	r := mediaurl.New(configS3{Bucket: "infliq-media", PublicBaseURL: "https://api.infliq.app"})
	head := mp4Header("isom")
	b.ReportAllocs()
	for b.Loop() {
		_, _ = Sniff(head)
		_ = r.Resolve("https://infliq-media.s3.amazonaws.com/1700000000000-a.jpg?X=1")
	}
}
