package authn

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/infliq/infliq/backend/platform/id"
)

type revokeSwitch struct{ revoked bool }

func (r *revokeSwitch) Revoked(context.Context, Principal) (bool, error) { return r.revoked, nil }

// A cached token still expires on time and is still subject to revocation.
func TestVerifiedCacheKeepsExpiryAndRevocation(t *testing.T) {
	ctx := context.Background()
	uid := id.New()
	now := time.Now()
	v := NewVerifier(secret, "infliq", "infliq-app", true)
	rev := &revokeSwitch{}
	v.Revocations = rev
	tok, exp, err := NewIssuer(secret, "infliq", "infliq-app", time.Minute).IssueAccess(AccessToken{UserID: uid, SessionID: "s1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if p, err := v.VerifyAccess(ctx, tok); err != nil || p.UserID != uid {
			t.Fatalf("verify %d: %+v %v", i, p, err)
		}
	}
	if _, ok := v.verified.get(tok, now); !ok {
		t.Fatal("a verified token was not cached")
	}
	rev.revoked = true
	if _, err := v.VerifyAccess(ctx, tok); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked session accepted from the cache: %v", err)
	}
	rev.revoked = false
	v.now = func() time.Time { return exp.Add(clockSkew + time.Second) }
	if _, err := v.VerifyAccess(ctx, tok); !errors.Is(err, ErrInvalid) {
		t.Fatalf("expired token accepted from the cache: %v", err)
	}

	// Refused tokens are never cached, and a cached token with one byte
	// changed is a different key that must verify on its own.
	v.now = time.Now
	forged := tok[:len(tok)-2] + "AA"
	if _, err := v.VerifyAccess(ctx, forged); err == nil {
		t.Fatal("forged signature accepted")
	}
	if _, ok := v.verified.get(forged, now); ok {
		t.Fatal("a refused token was cached")
	}
	other := sign(t, jwt.SigningMethodHS256, []byte("other"), jwt.MapClaims{"userId": uid.String(), "phone": "1"})
	if _, err := v.VerifyAccess(ctx, other); err == nil {
		t.Fatal("wrong secret accepted")
	}
}

// The cache stays bounded however many distinct tokens arrive.
func TestVerifiedCacheBounded(t *testing.T) {
	var c verifiedCache
	for i := 0; i < verifiedCacheSize*3; i++ {
		c.put(string(rune(i))+"tok", Principal{})
	}
	if n := len(c.m); n > verifiedCacheSize {
		t.Fatalf("cache holds %d entries, bound %d", n, verifiedCacheSize)
	}
}

func BenchmarkVerifyAccess(b *testing.B) {
	v := NewVerifier(secret, "infliq", "infliq-app", true)
	tok, _, err := NewIssuer(secret, "infliq", "infliq-app", time.Hour).IssueAccess(AccessToken{UserID: id.New(), SessionID: "s"}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.VerifyAccess(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("uncached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.principal(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}
