// Package mediatest provides the media tier's test fixtures: an in-memory S3
// (gofakes3) on loopback and a media config with the legacy defaults.
package mediatest

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/infliq/infliq/backend/platform/cache/redistest"
	"github.com/infliq/infliq/backend/platform/config"
)

// Bucket is the bucket FakeS3 creates.
const Bucket = "media-test"

// FakeS3 serves an in-memory S3 on loopback for the test and returns the
// config pointing at it (path style, custom endpoint).
func FakeS3(t testing.TB) config.S3 {
	t.Helper()
	be := s3mem.New()
	if err := be.CreateBucket(Bucket); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(be).Server())
	t.Cleanup(srv.Close)
	return config.S3{AccessKeyID: "test", SecretAccessKey: "test-secret", Region: "us-east-1", Bucket: Bucket, Endpoint: srv.URL, ForcePathStyle: true}
}

// Config is the legacy default media config with a Redis key prefix unique
// to the test run.
func Config() config.Media {
	return config.Media{
		MaxFileSize: 50 << 20, AllowedFolders: config.CSV{"general", "posts", "profiles", "covers", "reels", "stories"},
		MaxMultipleFiles: 10, SignedURLMinSeconds: 60, SignedURLMaxSeconds: 3600,
		UploadWindow: config.Millis(time.Minute), UploadMaxInWindow: 1000, RateLimitPrefix: redistest.Prefix() + "media:rate",
		StrictSignature: true, AuditEnabled: true, AuditRetentionDays: 30, AuditReadMaxLimit: 100,
	}
}
