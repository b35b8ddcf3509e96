package revoke

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/cache/redistest"
	"github.com/infliq/infliq/backend/platform/id"
)

func TestRevocations(t *testing.T) {
	redistest.Each(t, testRevocations)
}

func testRevocations(t *testing.T, rdb redis.UniversalClient) {
	s := New(rdb, redistest.Prefix(), time.Hour)
	ctx := context.Background()
	uid := id.New()
	now := time.Now()
	p := authn.Principal{UserID: uid, SessionID: id.New().String(), IssuedAt: now.Add(-time.Minute)}
	legacy := authn.Principal{UserID: uid, Legacy: true, IssuedAt: now.Add(-time.Minute)}
	other := authn.Principal{UserID: id.New(), SessionID: id.New().String(), IssuedAt: now}

	for _, q := range []authn.Principal{p, legacy, other} {
		if r, err := s.Revoked(ctx, q); err != nil || r {
			t.Fatalf("fresh: %v %v", r, err)
		}
	}
	if err := s.RevokeSessions(ctx, uid.String(), p.SessionID); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Revoked(ctx, p); !r {
		t.Fatal("revoked session accepted")
	}
	if r, _ := s.Revoked(ctx, legacy); r {
		t.Fatal("session revocation hit a token without that session")
	}
	if err := s.RevokeUser(ctx, uid.String(), now); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Revoked(ctx, legacy); !r {
		t.Fatal("legacy token issued before the user revocation accepted")
	}
	later := authn.Principal{UserID: uid, SessionID: id.New().String(), IssuedAt: now.Add(time.Second)}
	if r, _ := s.Revoked(ctx, later); r {
		t.Fatal("token issued after the revocation refused")
	}
	if r, _ := s.Revoked(ctx, other); r {
		t.Fatal("another user's token refused")
	}
	// RevokedMany answers each as Revoked does, in one pipelined call (on
	// a cluster too: each MGET reads one user's slot).
	all := []authn.Principal{p, legacy, later, other, {UserID: id.New()}}
	many, err := s.RevokedMany(ctx, all)
	if err != nil || len(many) != len(all) {
		t.Fatal(many, err)
	}
	for i, q := range all {
		if one, _ := s.Revoked(ctx, q); one != many[i] {
			t.Errorf("principal %d: RevokedMany %v, Revoked %v", i, many[i], one)
		}
	}
	if !many[0] || !many[1] || many[2] || many[3] || many[4] {
		t.Fatalf("RevokedMany %v", many)
	}
}

func BenchmarkRevoked(b *testing.B) {
	s := New(redistest.New(b), redistest.Prefix(), time.Hour)
	p := authn.Principal{UserID: id.New(), SessionID: id.New().String(), IssuedAt: time.Now()}
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Revoked(ctx, p); err != nil {
				b.Fatal(err)
			}
		}
	})
}
