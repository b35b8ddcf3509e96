package devstack

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/infliq/infliq/backend/auth/otp"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/logx"
)

// TestEmbeddedRedisExpiresOTP: with the embedded Redis an OTP stops working
// once OTP_TTL_SECONDS have passed on the wall clock.
func TestEmbeddedRedisExpiresOTP(t *testing.T) {
	cfg, err := config.LoadFrom(map[string]string{"APP_ENV": "development", "DATABASE_URL": "postgres://unused", "DEV_DATA_DIR": t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	cfg.OTP.TTLSeconds = 1 // below the configurable minimum, to keep the test short
	st, err := Start(context.Background(), cfg, false, logx.Discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()
	codes := otp.New(rdb, "auth:", []byte("k"), otp.Config{
		TTL: time.Duration(cfg.OTP.TTLSeconds) * time.Second, Window: time.Minute,
		MaxPerWindow: 5, MaxPerIPPerWindow: 5, MaxVerifyAttempts: 5,
	})
	const phone = "+919876543210"
	if lim, _, err := codes.Send(ctx, phone, "", "123456"); err != nil || lim != otp.NotLimited {
		t.Fatalf("send: %v %v", lim, err)
	}
	if !st.Redis.Exists(codes.CodeKey(phone)) {
		t.Fatal("code not stored")
	}
	// Wait (bounded) for the code to expire, without spending a verify try.
	deadline := time.Now().Add(10 * time.Second)
	for st.Redis.Exists(codes.CodeKey(phone)) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if out, err := codes.Verify(ctx, phone, "123456"); err != nil || out != otp.Missing {
		t.Fatalf("OTP after its TTL: outcome %v, %v; want Missing", out, err)
	}
}
