//go:build linux

package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/infliq/infliq/backend/auth"
	"github.com/infliq/infliq/backend/auth/otp"
	"github.com/infliq/infliq/backend/platform/config"
)

// authPrefix is the auth tier's Redis key prefix (cmd/infliq authRedisPrefix).
const authPrefix = "auth:"

// verifyFlowUsers bounds the existing users seeded for the verify flow; a
// run needing more reuses numbers whose code is spent, and shows errors.
const verifyFlowUsers = 200_000

func init() {
	register(Scenario{
		Name:        "auth.send-otp",
		Description: "POST /api/auth/send-otp, a distinct 10-digit number each time, dev SMS sender",
		Connections: 64,
		Prepare: func(ctx context.Context, env *Env) (func(uint64) Request, error) {
			h := jsonHeader("")
			base := rand.Uint64N(50_000_000) // distinct numbers across runs on one Redis
			return func(i uint64) Request {
				return Request{Method: "POST", Path: "/api/auth/send-otp", Header: h,
					Body: fmt.Appendf(nil, `{"phone":"98%08d"}`, (base+i)%100_000_000)}
			}, nil
		},
	})
	register(Scenario{
		Name: "auth.otp-flow",
		Description: "send-otp + verify-otp for an existing user (one flow = two requests: a send-otp with " +
			"a random code, and a verify-otp of a seeded user whose code was stored through the OTP store)",
		Connections: 64,
		Prepare: func(ctx context.Context, env *Env) (func(uint64) Request, error) {
			cfg, err := config.LoadFrom(env.Vars)
			if err != nil {
				return nil, err
			}
			// Existing accounts: credentials plus their profile.
			if _, err := env.DB.Exec(ctx, `
				WITH g AS (SELECT n, lpad(to_hex(extract(epoch FROM now())::int), 8, '0') || lpad(to_hex(n), 16, '0') AS id
				           FROM generate_series(1, $1::int) n),
				u AS (INSERT INTO users (id, is_verified) SELECT id, true FROM g ON CONFLICT DO NOTHING)
				INSERT INTO auth_credentials (user_id, phone, phone_verified_at, profile_ready)
				SELECT id, '+9197' || lpad(n::text, 8, '0'), now(), true FROM g ON CONFLICT DO NOTHING`, verifyFlowUsers); err != nil {
				return nil, fmt.Errorf("seed users: %w", err)
			}
			// Their codes, stored exactly as send-otp stores them.
			store := otp.New(env.Redis, authPrefix, auth.OTPKey(cfg.OTP, cfg.JWT), otp.Config{
				TTL: 10 * time.Minute, Window: time.Minute, MaxPerWindow: 1 << 30, MaxPerIPPerWindow: 1 << 30, MaxVerifyAttempts: 5,
			})
			var next atomic.Int64
			var wg sync.WaitGroup
			errc := make(chan error, 32)
			for range 32 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := next.Add(1); n <= verifyFlowUsers; n = next.Add(1) {
						if _, _, err := store.Send(ctx, fmt.Sprintf("+9197%08d", n), "", "246810"); err != nil {
							errc <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errc)
			if err := <-errc; err != nil {
				return nil, fmt.Errorf("seed codes: %w", err)
			}
			h := jsonHeader("")
			base := rand.Uint64N(50_000_000)
			return func(i uint64) Request {
				if i%2 == 0 {
					return Request{Method: "POST", Path: "/api/auth/send-otp", Header: h,
						Body: fmt.Appendf(nil, `{"phone":"98%08d"}`, (base+i/2)%100_000_000)}
				}
				return Request{Method: "POST", Path: "/api/auth/verify-otp", Header: h,
					Body: fmt.Appendf(nil, `{"phone":"97%08d","otp":"246810"}`, i/2%verifyFlowUsers+1)}
			}, nil
		},
	})
}
