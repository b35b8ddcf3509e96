// Package auth is the auth tier: AuthService (phone OTP, passwords, sessions)
// and AuthInternalService (session revocation and credential deletion for
// account deletion). It owns auth_credentials, auth_sessions and
// auth_refresh_tokens; profiles are created through the user service.
package auth

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/infliq/infliq/backend/auth/otp"
	"github.com/infliq/infliq/backend/auth/phone"
	"github.com/infliq/infliq/backend/auth/revoke"
	"github.com/infliq/infliq/backend/auth/sms"
	"github.com/infliq/infliq/backend/gen/infliq/auth/v1/authv1connect"
	"github.com/infliq/infliq/backend/gen/infliq/user/v1/userv1connect"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/httpx"
	"github.com/infliq/infliq/backend/platform/tier"
)

// Options are the auth tier's dependencies.
type Options struct {
	DB    *pgxpool.Pool
	Redis redis.Cmdable
	// Prefix namespaces every Redis key of the tier ("auth:").
	Prefix      string
	JWT         config.JWT
	OTP         config.OTP
	SMS         sms.Provider
	Users       userv1connect.UserInternalServiceClient
	Revocations *revoke.Store
	// Bus, when set, receives a record of each ended session (the notify
	// tier forgets that device's push tokens).
	Bus bus.Publisher
	// LoginMaxFailures per LoginWindow per email and IP; defaults 10 per 15m.
	LoginMaxFailures int
	LoginWindow      time.Duration
	// LoginAccountMaxFailures per LoginWindow per email across all IPs
	// (credential stuffing); past it, one attempt per backoff that doubles
	// from LoginBackoff up to LoginBackoffMax. Defaults 20, 30s, 15m.
	LoginAccountMaxFailures int
	LoginBackoff            time.Duration
	LoginBackoffMax         time.Duration
	// RegisterMaxPerIP registrations per RegisterWindow per client IP (each
	// costs a bcrypt hash); defaults 10 per hour.
	RegisterMaxPerIP int
	RegisterWindow   time.Duration
}

// Service implements AuthService and AuthInternalService.
type Service struct {
	o        Options
	log      *slog.Logger
	store    *store
	codes    *otp.Store
	issuer   *issuer
	review   map[string]string
	dummyPwd []byte
	logins   *loginLimiter
}

// New builds the service; it fails on an invalid review-account list.
func New(log *slog.Logger, o Options) (*Service, error) {
	if o.LoginMaxFailures <= 0 {
		o.LoginMaxFailures = 10
	}
	if o.LoginWindow <= 0 {
		o.LoginWindow = 15 * time.Minute
	}
	if o.LoginAccountMaxFailures <= 0 {
		o.LoginAccountMaxFailures = 20
	}
	if o.LoginBackoff <= 0 {
		o.LoginBackoff = 30 * time.Second
	}
	if o.LoginBackoffMax <= 0 {
		o.LoginBackoffMax = 15 * time.Minute
	}
	if o.RegisterMaxPerIP <= 0 {
		o.RegisterMaxPerIP = 10
	}
	if o.RegisterWindow <= 0 {
		o.RegisterWindow = time.Hour
	}
	key := OTPKey(o.OTP, o.JWT)
	s := &Service{
		o: o, log: log, store: &store{db: o.DB},
		codes: otp.New(o.Redis, o.Prefix, key, otp.Config{
			TTL: time.Duration(o.OTP.TTLSeconds) * time.Second, Window: o.OTP.Window.D(),
			MaxPerWindow: o.OTP.MaxPerWindow, MaxPerIPPerWindow: o.OTP.MaxPerIPPerWindow,
			MaxVerifyAttempts: o.OTP.MaxVerifyAttempts,
		}),
		issuer: newIssuer(o.JWT),
		review: map[string]string{},
		logins: &loginLimiter{rdb: o.Redis, prefix: o.Prefix, ipMax: o.LoginMaxFailures, acctMax: o.LoginAccountMaxFailures,
			window: o.LoginWindow, backoff: o.LoginBackoff, backoffTo: o.LoginBackoffMax},
	}
	for _, a := range o.OTP.ReviewAccounts {
		raw, code, _ := strings.Cut(a, ":")
		p, err := phone.Normalize(raw, o.OTP.DefaultCountry)
		if err != nil {
			return nil, fmt.Errorf("auth: OTP_REVIEW_ACCOUNTS: %q is not a valid phone number", raw)
		}
		s.review[p] = code
	}
	if len(s.review) > 0 {
		masked := make([]string, 0, len(s.review))
		for p := range s.review {
			masked = append(masked, phone.Mask(p))
		}
		log.Warn("OTP review accounts are enabled: these numbers log in with a fixed code after send-otp", "phones", masked)
	}
	// Unknown emails still pay one bcrypt comparison, so timing does not
	// tell which emails have accounts.
	h, err := bcrypt.GenerateFromPassword([]byte("infliq-no-such-account"), o.JWT.BcryptRounds)
	if err != nil {
		return nil, err
	}
	s.dummyPwd = h
	return s, nil
}

// OTPKey keys the stored OTP digests: OTP_HMAC_KEY, else a key derived
// from JWT_SECRET.
func OTPKey(o config.OTP, j config.JWT) []byte {
	if o.HMACKey != "" {
		return []byte(o.HMACKey)
	}
	return deriveKey(j.Secret, "infliq otp digest")
}

// NewTier assembles the auth tier.
func NewTier(d tier.Deps, o Options) (*tier.Tier, error) {
	s, err := New(d.Log, o)
	if err != nil {
		return nil, err
	}
	t := tier.New("auth", d)
	path, h := authv1connect.NewAuthServiceHandler(s, t.ConnectOptions()...)
	t.Mount(path, h, authv1connect.AuthServiceName,
		authv1connect.AuthServiceSendOtpProcedure, authv1connect.AuthServiceVerifyOtpProcedure,
		authv1connect.AuthServiceRegisterProcedure, authv1connect.AuthServiceLoginProcedure,
		authv1connect.AuthServiceRefreshProcedure, authv1connect.AuthServiceLogoutProcedure)
	ipath, ih := authv1connect.NewAuthInternalServiceHandler(&Internal{s: s}, t.ConnectOptions()...)
	t.Mount(ipath, ih, authv1connect.AuthInternalServiceName)
	return t, nil
}

// clientIP is the caller's address as the gateway decided it, else the peer.
func clientIP[T any](req *connect.Request[T]) string {
	if v := req.Header().Get(httpx.ClientIPHeader); v != "" {
		first, _, _ := strings.Cut(v, ",")
		if a, err := netip.ParseAddr(strings.TrimSpace(first)); err == nil {
			return a.Unmap().String()
		}
	}
	host, _, err := net.SplitHostPort(req.Peer().Addr)
	if err != nil {
		host = req.Peer().Addr
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap().String()
	}
	return ""
}
