// Package revoke records revoked sessions and accounts in Redis so that
// access tokens, which are otherwise valid until they expire, stop working at
// once. It implements authn.Revocations for the verifier of every tier:
// a revoked session id, or a per-user "not before" time (account deletion,
// takeover protection) that refuses tokens issued earlier, legacy ones too.
package revoke

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/infliq/infliq/backend/platform/authn"
)

// Store reads and writes revocations under prefix.
type Store struct {
	rdb    redis.Cmdable
	prefix string
	// ttl outlives every access token that could still be presented.
	ttl time.Duration
}

// legacyLifetime is what the legacy Node backend gave its access tokens;
// they are accepted during cutover, so revocations must outlive them too.
const legacyLifetime = 7 * 24 * time.Hour

// New returns a store; accessLifetime is JWT_EXPIRES_IN.
func New(rdb redis.Cmdable, prefix string, accessLifetime time.Duration) *Store {
	ttl := max(accessLifetime, legacyLifetime) + time.Hour
	return &Store{rdb: rdb, prefix: prefix, ttl: ttl}
}

var _ authn.Revocations = (*Store)(nil)

// A user's markers share the hash tag {uid}, so the one MGET of Revoked
// reads a single Redis Cluster slot.
func (s *Store) sidKey(uid, sid string) string { return s.prefix + "rev:{" + uid + "}:sid:" + sid }
func (s *Store) userKey(uid string) string     { return s.prefix + "rev:{" + uid + "}:user" }

// RevokeSessions refuses the access tokens of these sessions of uid from now on.
func (s *Store) RevokeSessions(ctx context.Context, uid string, sids ...string) error {
	if len(sids) == 0 {
		return nil
	}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, sid := range sids {
			p.Set(ctx, s.sidKey(uid, sid), 1, s.ttl)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("revoke: sessions: %w", err)
	}
	return nil
}

// RevokeUser refuses every token of uid issued before at (second precision,
// as iat is). Sessions opened in the same second must be revoked by id too.
func (s *Store) RevokeUser(ctx context.Context, uid string, at time.Time) error {
	if err := s.rdb.Set(ctx, s.userKey(uid), at.Unix(), s.ttl).Err(); err != nil {
		return fmt.Errorf("revoke: user: %w", err)
	}
	return nil
}

// Revoked implements authn.Revocations with one Redis round trip.
func (s *Store) Revoked(ctx context.Context, p authn.Principal) (bool, error) {
	vals, err := s.rdb.MGet(ctx, s.keys(p)...).Result()
	if err != nil {
		return false, fmt.Errorf("revoke: check: %w", err)
	}
	return revoked(p, vals), nil
}

var _ authn.ManyRevocations = (*Store)(nil)

// RevokedMany implements authn.ManyRevocations: Revoked's MGETs for all of
// ps in one pipelined round trip (each MGET reads one user's slot, so it
// also holds on Redis Cluster).
func (s *Store) RevokedMany(ctx context.Context, ps []authn.Principal) ([]bool, error) {
	cmds := make([]*redis.SliceCmd, len(ps))
	_, err := s.rdb.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for i, p := range ps {
			cmds[i] = pl.MGet(ctx, s.keys(p)...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("revoke: check: %w", err)
	}
	out := make([]bool, len(ps))
	for i, p := range ps {
		out[i] = revoked(p, cmds[i].Val())
	}
	return out, nil
}

// keys are the markers that can refuse p: the user's, then the session's.
func (s *Store) keys(p authn.Principal) []string {
	uid := p.UserID.String()
	keys := []string{s.userKey(uid)}
	if p.SessionID != "" {
		keys = append(keys, s.sidKey(uid, p.SessionID))
	}
	return keys
}

// revoked reads the markers' values (MGET of keys(p)).
func revoked(p authn.Principal, vals []any) bool {
	if len(vals) > 1 && vals[1] != nil {
		return true
	}
	if len(vals) == 0 {
		return true // no answer: fail closed
	}
	if v, ok := vals[0].(string); ok {
		nbf, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return true // unreadable marker: fail closed
		}
		return p.IssuedAt.IsZero() || p.IssuedAt.Unix() < nbf
	}
	return false
}
