package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3bolt"

	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/devstack/expofake"
)

// DevBucket is the bucket of the in-process S3.
const DevBucket = "infliq-dev"

// S3ProxyPath is where the gateway forwards to the in-process S3, so
// presigned uploads work from a phone on the LAN (the S3 listens on loopback).
const S3ProxyPath = "/_devstack/s3"

// Stack is the set of embedded dependencies that were started.
type Stack struct {
	Postgres *Postgres
	Redis    *miniredis.Miniredis
	S3       *http.Server
	// Used lists what was embedded, for the start banner.
	Used    []Component
	closers []func() error
}

// Component is one embedded dependency.
type Component struct{ Name, Address, Note string }

// Start fills every missing dependency of cfg with an embedded default and
// rewrites cfg to point at it. Data lives under cfg.DevDataDir; wipe removes
// it first. Strict production mode never gets here (config refuses it).
func Start(ctx context.Context, cfg *config.Config, wipe bool, log *slog.Logger) (*Stack, error) {
	if !cfg.Dev() {
		return nil, errors.New("devstack: embedded defaults are for APP_ENV=development only; set DATABASE_URL, REDIS_URL and S3_BUCKET")
	}
	dir := cfg.DevDataDir
	if wipe {
		if err := os.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("devstack: wipe %s: %w", dir, err)
		}
		log.Info("dev data wiped", "dir", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	s := &Stack{}
	if cfg.DatabaseURL == "" {
		pg, err := StartPostgres(ctx, filepath.Join(dir, "pg"), 0)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.Postgres = pg
		s.closers = append(s.closers, pg.Stop)
		cfg.DatabaseURL = pg.DSN
		cfg.MigrateOnStart = true
		s.Used = append(s.Used, Component{"postgres", fmt.Sprintf("127.0.0.1:%d", pg.Port), "private cluster, data in " + filepath.Join(dir, "pg")})
	}
	if cfg.RedisURL == "" {
		mr, stop, err := startRedis()
		if err != nil {
			s.Close()
			return nil, err
		}
		s.Redis = mr
		s.closers = append(s.closers, stop)
		cfg.RedisURL = "redis://" + mr.Addr()
		s.Used = append(s.Used, Component{"redis", mr.Addr(), "miniredis in-process (ephemeral)"})
	}
	if !cfg.S3.Configured() {
		srv, addr, err := startS3(filepath.Join(dir, "s3.bolt"))
		if err != nil {
			s.Close()
			return nil, err
		}
		s.S3 = srv
		s.closers = append(s.closers, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			return srv.Shutdown(ctx)
		})
		cfg.S3 = config.S3{
			AccessKeyID: "dev", SecretAccessKey: "dev-secret", Region: "us-east-1",
			Bucket: DevBucket, Endpoint: "http://" + addr, ForcePathStyle: true,
			CloudFrontDomain: cfg.S3.CloudFrontDomain, PublicBaseURL: cfg.S3.PublicBaseURL,
			PostEndpoint: strings.TrimRight(cfg.S3.PublicBaseURL, "/") + S3ProxyPath,
		}
		s.Used = append(s.Used, Component{"s3", addr, "gofakes3 in-process, bucket " + DevBucket})
	}
	if cfg.Push.ExpoPushURL == "" {
		u, stop, err := StartExpo(log)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.closers = append(s.closers, stop)
		cfg.Push.ExpoPushURL = u
		s.Used = append(s.Used, Component{"expo", strings.TrimSuffix(strings.TrimPrefix(u, "http://"), expofake.SendPath), "fake Expo push in-process: pushes are logged here, never sent to phones"})
	}
	if !cfg.Twilio.SMSConfigured() {
		s.Used = append(s.Used, Component{"twilio", "-", "dev mode: OTPs are logged to this console, never returned"})
	}
	return s, nil
}

// redisTick is how often the embedded Redis's clock follows the wall clock.
const redisTick = 200 * time.Millisecond

// startRedis runs miniredis on loopback. miniredis expires keys only when
// its clock is moved, so a ticker moves it with the wall clock: without it
// OTP codes, rate-limit windows and backoffs would never end in dev.
func startRedis() (*miniredis.Miniredis, func() error, error) {
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr("127.0.0.1:0"); err != nil {
		return nil, nil, fmt.Errorf("devstack: miniredis: %w", err)
	}
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(redisTick)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				mr.SetTime(now) // TIME and EXPIREAT follow the wall clock
				mr.FastForward(now.Sub(last))
				last = now
			}
		}
	}()
	return mr, func() error { close(done); <-stopped; mr.Close(); return nil }, nil
}

func startS3(file string) (*http.Server, string, error) {
	bolt, err := s3bolt.NewFile(file)
	if err != nil {
		return nil, "", fmt.Errorf("devstack: s3 store %s: %w", file, err)
	}
	be := &safeBolt{Backend: bolt}
	if err := be.CreateBucket(DevBucket); err != nil && !gofakes3.IsAlreadyExists(err) {
		return nil, "", fmt.Errorf("devstack: s3 bucket: %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	srv := &http.Server{Handler: gofakes3.New(be).Server(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return srv, l.Addr().String(), nil
}

// StartExpo runs a fake Expo push server on loopback that logs each push
// and keeps nothing, and returns its send URL (EXPO_PUSH_URL). Development
// without EXPO_PUSH_URL uses it so that a developer's machine never sends
// to Expo, where a token registered by a real phone would ring it.
func StartExpo(log *slog.Logger) (string, func() error, error) {
	f := expofake.New()
	f.Log, f.Forget = log.With("component", "expofake"), true
	u, err := f.Start("127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("devstack: %w", err)
	}
	return u, f.Close, nil
}

// Close stops everything that was started, newest first.
func (s *Stack) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		_ = s.closers[i]()
	}
	s.closers = nil
}
