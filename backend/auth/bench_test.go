package auth

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/infliq/infliq/backend/auth/otp"
	authv1 "github.com/infliq/infliq/backend/gen/infliq/auth/v1"
	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
)

func unlimited(c *config.Config, _ *Options) {
	c.OTP.MaxPerWindow, c.OTP.MaxPerIPPerWindow = 1<<30, 1<<30
}

var benchPhone atomic.Uint64

// BenchmarkSendOtp: SendOtp through the tier (Connect, HTTP/1.1) with real
// Redis and the dev sender, a distinct number per call.
func BenchmarkSendOtp(b *testing.B) {
	e := newEnv(b, unlimited, func(_ *config.Config, o *Options) { o.SMS = nopSMS{} })
	c := e.c()
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ph := fmt.Sprintf("98%08d", benchPhone.Add(1)%100_000_000)
			if _, err := c.SendOtp(ctx, connect.NewRequest(&authv1.SendOtpRequest{Phone: ph})); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkOTPFlow: SendOtp then VerifyOtp for an existing account, with a
// code planted through the OTP store (the dev sender's code is random).
func BenchmarkOTPFlow(b *testing.B) {
	e := newEnv(b, unlimited, func(_ *config.Config, o *Options) { o.SMS = nopSMS{} })
	c := e.c()
	ctx := context.Background()
	store := otp.New(e.rdb, e.opts.Prefix, OTPKey(e.opts.OTP, e.opts.JWT), otp.Config{TTL: time.Minute, Window: time.Minute, MaxPerWindow: 1 << 30, MaxPerIPPerWindow: 1 << 30, MaxVerifyAttempts: 5})
	const users = 64
	for i := range users { // existing accounts
		ph := fmt.Sprintf("97%08d", i)
		if _, _, err := store.Send(ctx, "+91"+ph, "", "246810"); err != nil {
			b.Fatal(err)
		}
		if _, err := c.VerifyOtp(ctx, connect.NewRequest(&authv1.VerifyOtpRequest{Phone: ph, Otp: "246810"})); err != nil {
			b.Fatal(err)
		}
	}
	var n atomic.Uint64
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			ph := fmt.Sprintf("97%08d", i%users)
			if _, err := c.SendOtp(ctx, connect.NewRequest(&authv1.SendOtpRequest{Phone: ph})); err != nil {
				b.Fatal(err)
			}
			// Plant a known code over the random one, as a review account would have it.
			if _, _, err := store.Send(ctx, "+91"+ph, "", "246810"); err != nil {
				b.Fatal(err)
			}
			_, err := c.VerifyOtp(ctx, connect.NewRequest(&authv1.VerifyOtpRequest{Phone: ph, Otp: "246810"}))
			if err != nil && connect.CodeOf(err) != connect.CodeInvalidArgument { // two workers can race on one number
				b.Fatal(err)
			}
		}
	})
}

type nopSMS struct{}

func (nopSMS) Delegated() bool                                     { return false }
func (nopSMS) Send(context.Context, string, string) error          { return nil }
func (nopSMS) Check(context.Context, string, string) (bool, error) { return false, nil }

func BenchmarkIssueAccess(b *testing.B) {
	is := newIssuer(config.JWT{Secret: tiertest.Secret, Issuer: "infliq", Audience: "infliq-app", ExpiresIn: config.Duration(time.Hour)})
	at := authn.AccessToken{UserID: id.New(), Phone: "+919876543210", SessionID: id.New().String()}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := is.access.IssueAccess(at, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyAccess includes the Redis revocation check.
func BenchmarkVerifyAccess(b *testing.B) {
	e := newEnv(b)
	tok := e.login("9876543210").Session.AccessToken
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.verifier.VerifyAccess(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}
