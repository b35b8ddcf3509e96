package user_test

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"

	"connectrpc.com/connect"

	"github.com/infliq/infliq/backend/auth"
	"github.com/infliq/infliq/backend/auth/revoke"
	"github.com/infliq/infliq/backend/auth/sms"
	authv1 "github.com/infliq/infliq/backend/gen/infliq/auth/v1"
	"github.com/infliq/infliq/backend/gen/infliq/auth/v1/authv1connect"
	userv1 "github.com/infliq/infliq/backend/gen/infliq/user/v1"
	"github.com/infliq/infliq/backend/gen/infliq/user/v1/userv1connect"
	"github.com/infliq/infliq/backend/platform/cache/redistest"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/logx"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/backend/platform/tier"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
	"github.com/infliq/infliq/backend/user"
)

// TestOwnContactsAndDeletionWithTheRealAuthTier wires the user tier to a
// real auth tier the way tiers.go does: the caller's own profile carries
// their phone and email, email changes reach auth, and DeleteAccount
// revokes the session and deletes the credentials.
func TestOwnContactsAndDeletionWithTheRealAuthTier(t *testing.T) {
	ctx := context.Background()
	cfg, err := config.LoadFrom(map[string]string{"APP_ENV": "test", "JWT_SECRET": tiertest.Secret, "BCRYPT_ROUNDS": "4"})
	if err != nil {
		t.Fatal(err)
	}
	pool, rdb, prefix := pgtest.New(t), redistest.New(t), redistest.Prefix()
	rev := revoke.New(rdb, prefix, cfg.JWT.ExpiresIn.D())
	deps := tiertest.Deps()
	deps.Verifier.Revocations = rev

	// Each tier calls the other: serve the user tier behind a late-bound handler.
	var userHandler http.Handler
	userURL, h2c, _ := tiertest.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { userHandler.ServeHTTP(w, r) }))
	sink := filepath.Join(t.TempDir(), "otp-sink")
	at, err := auth.NewTier(deps, auth.Options{
		DB: pool, Redis: rdb, Prefix: prefix, JWT: cfg.JWT, OTP: cfg.OTP, SMS: sms.NewDev(logx.Discard(), sink),
		Users:       userv1connect.NewUserInternalServiceClient(h2c, userURL, tier.InternalClientOptions(tiertest.InternalToken)...),
		Revocations: rev,
	})
	if err != nil {
		t.Fatal(err)
	}
	authURL, _, _ := tiertest.Serve(t, at.Handler())
	accounts := user.AuthAccounts{Client: authv1connect.NewAuthInternalServiceClient(h2c, authURL, tier.InternalClientOptions(tiertest.InternalToken)...)}
	userHandler = user.NewTier(deps, pool, user.Options{Sessions: accounts, Contacts: accounts}).Handler()

	// Log in by OTP: auth creates the account and, through CreateUser, the profile.
	ac := authv1connect.NewAuthServiceClient(h2c, authURL)
	const phone = "+919876543210"
	if _, err := ac.SendOtp(ctx, connect.NewRequest(&authv1.SendOtpRequest{Phone: phone})); err != nil {
		t.Fatal(err)
	}
	codes, err := sms.LastCodes(sink)
	if err != nil {
		t.Fatal(err)
	}
	v, err := ac.VerifyOtp(ctx, connect.NewRequest(&authv1.VerifyOtpRequest{Phone: phone, Otp: codes[phone], Name: "Asha"}))
	if err != nil {
		t.Fatal(err)
	}
	tok := v.Msg.GetSession().GetAccessToken()
	uc := userv1connect.NewUserServiceClient(h2c, userURL, tiertest.Bearer(tok))

	_, err = uc.UpdateMe(ctx, connect.NewRequest(&userv1.UpdateMeRequest{Email: ptr("asha@example.com"), Bio: ptr("hi")}))
	if err != nil {
		t.Fatal(err)
	}
	me, err := uc.GetMe(ctx, connect.NewRequest(&userv1.GetMeRequest{}))
	if err != nil || me.Msg.Phone != phone || me.Msg.Email != "asha@example.com" || me.Msg.User.Bio != "hi" {
		t.Fatalf("me: %v %v", me, err)
	}

	if _, err := uc.DeleteAccount(ctx, connect.NewRequest(&userv1.DeleteAccountRequest{})); err != nil {
		t.Fatal(err)
	}
	// The session is revoked and the credentials are gone.
	_, err = uc.GetMe(ctx, connect.NewRequest(&userv1.GetMeRequest{}))
	if connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("token after deletion: %v", err)
	}
	uid := v.Msg.GetAccount().GetUserId()
	_, err = accounts.Client.GetContact(ctx, connect.NewRequest(&authv1.GetContactRequest{UserId: uid}))
	if connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("credentials after deletion: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
