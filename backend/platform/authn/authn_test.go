package authn

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/logx"
)

const secret = "test-secret-0123456789-0123456789"

func sign(t *testing.T, m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyAccess(t *testing.T) {
	ctx := context.Background()
	uid := id.New()
	now := time.Now()
	v := NewVerifier(secret, "infliq", "infliq-app", true)
	is := NewIssuer(secret, "infliq", "infliq-app", time.Hour)
	tok, exp, err := is.IssueAccess(AccessToken{UserID: uid, Phone: "+919999999999", SessionID: "s1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.VerifyAccess(ctx, tok)
	if err != nil || p.UserID != uid || p.Legacy || p.SessionID != "s1" || !p.ExpiresAt.Equal(exp.Truncate(time.Second)) {
		t.Fatalf("issued token: %+v %v", p, err)
	}

	legacy := sign(t, jwt.SigningMethodHS256, []byte(secret), jwt.MapClaims{"userId": uid.String(), "phone": "+919999999999", "iat": now.Unix(), "exp": now.Add(7 * 24 * time.Hour).Unix()})
	if p, err := v.VerifyAccess(ctx, legacy); err != nil || !p.Legacy || p.UserID != uid {
		t.Fatalf("legacy token refused: %v", err)
	}
	legacyID := sign(t, jwt.SigningMethodHS256, []byte(secret), jwt.MapClaims{"_id": uid.String(), "email": "a@b.c", "exp": now.Add(time.Hour).Unix()})
	if _, err := v.VerifyAccess(ctx, legacyID); err != nil {
		t.Fatalf("legacy _id token refused: %v", err)
	}
	if _, err := NewVerifier(secret, "infliq", "infliq-app", false).VerifyAccess(ctx, legacy); err == nil {
		t.Fatal("legacy token accepted with LEGACY_TOKENS_ACCEPTED=false")
	}

	bad := map[string]string{
		"empty":                 "",
		"garbage":               "not.a.jwt",
		"alg none":              sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"userId": uid.String(), "phone": "1"}),
		"HS512":                 sign(t, jwt.SigningMethodHS512, []byte(secret), jwt.MapClaims{"userId": uid.String(), "phone": "1"}),
		"wrong secret":          sign(t, jwt.SigningMethodHS256, []byte("other"), jwt.MapClaims{"userId": uid.String(), "phone": "1"}),
		"expired legacy":        sign(t, jwt.SigningMethodHS256, []byte(secret), jwt.MapClaims{"userId": uid.String(), "phone": "1", "exp": now.Add(-time.Hour).Unix()}),
		"legacy refresh token":  sign(t, jwt.SigningMethodHS256, []byte(secret), jwt.MapClaims{"userId": uid.String(), "exp": now.Add(time.Hour).Unix()}),
		"refresh typ":           sign(t, jwt.SigningMethodHS256, []byte(secret), jwt.MapClaims{"sub": uid.String(), "typ": "refresh", "iss": "infliq", "aud": "infliq-app", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}),
		"access wrong audience": sign(t, jwt.SigningMethodHS256, []byte(secret), jwt.MapClaims{"sub": uid.String(), "typ": "access", "iss": "infliq", "aud": "other", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}),
		"access without exp":    sign(t, jwt.SigningMethodHS256, []byte(secret), jwt.MapClaims{"sub": uid.String(), "typ": "access", "iss": "infliq", "aud": "infliq-app", "iat": now.Unix()}),
		"legacy bad userId":     sign(t, jwt.SigningMethodHS256, []byte(secret), jwt.MapClaims{"userId": "me", "phone": "1", "exp": now.Add(time.Hour).Unix()}),
	}
	for name, tok := range bad {
		if _, err := v.VerifyAccess(ctx, tok); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

type revokeAll struct{}

func (revokeAll) Revoked(context.Context, Principal) (bool, error) { return true, nil }

func TestMiddleware(t *testing.T) {
	v := NewVerifier(secret, "infliq", "infliq-app", true)
	is := NewIssuer(secret, "infliq", "infliq-app", time.Hour)
	uid := id.New()
	tok, _, _ := is.IssueAccess(AccessToken{UserID: uid}, time.Now())
	decoded := false
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		decoded = true
		if p, ok := FromContext(r.Context()); ok {
			_, _ = w.Write([]byte(p.UserID.String()))
		}
	})
	h := Middleware(v, Policy{Public: map[string]bool{"/infliq.auth.v1.AuthService/SendOtp": true}, InternalToken: "itok"}, logx.Discard(), next)
	do := func(path, auth string, hdr map[string]string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		decoded = false
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := do("/infliq.auth.v1.AuthService/GetSession", "", nil); rec.Code != 401 || decoded {
		t.Fatalf("missing token: %d decoded=%v", rec.Code, decoded)
	}
	if rec := do("/infliq.auth.v1.AuthService/GetSession", "Bearer junk", nil); rec.Code != 401 || decoded || !strings.Contains(rec.Body.String(), "unauthenticated") {
		t.Fatalf("bad token: %d %s", rec.Code, rec.Body)
	}
	if rec := do("/infliq.auth.v1.AuthService/GetSession", "Bearer "+tok, nil); rec.Code != 200 || rec.Body.String() != uid.String() {
		t.Fatalf("good token: %d %s", rec.Code, rec.Body)
	}
	// The legacy parser took the second word whatever the scheme.
	if rec := do("/infliq.auth.v1.AuthService/GetSession", "Token "+tok, nil); rec.Code != 200 {
		t.Fatalf("scheme-agnostic: %d", rec.Code)
	}
	if rec := do("/infliq.auth.v1.AuthService/SendOtp", "", nil); rec.Code != 200 || !decoded {
		t.Fatalf("public: %d", rec.Code)
	}
	if rec := do("/infliq.user.v1.UserInternalService/CreateUser", "", nil); rec.Code != 403 || decoded {
		t.Fatalf("internal without token: %d", rec.Code)
	}
	if rec := do("/infliq.user.v1.UserInternalService/CreateUser", "", map[string]string{InternalHeader: "itok"}); rec.Code != 200 {
		t.Fatalf("internal with token: %d", rec.Code)
	}
	v.Revocations = revokeAll{}
	if rec := do("/infliq.auth.v1.AuthService/GetSession", "Bearer "+tok, nil); rec.Code != 401 {
		t.Fatalf("revoked: %d", rec.Code)
	}
}
