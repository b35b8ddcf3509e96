// Package otp keeps one-time codes in Redis: stored as an HMAC (never in
// plain text) with a TTL, single use, burnt after too many wrong tries, and
// sends limited per phone and per client IP. Each count and each change of a
// code is one Lua script on one Redis Cluster slot, so there are no races
// between replicas.
package otp

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Config bounds codes and sends.
type Config struct {
	TTL               time.Duration
	Window            time.Duration
	MaxPerWindow      int
	MaxPerIPPerWindow int
	MaxVerifyAttempts int
}

// Store holds codes under Prefix.
type Store struct {
	rdb    redis.Cmdable
	key    []byte
	prefix string
	cfg    Config
}

// New returns a store; hmacKey keys the stored digests.
func New(rdb redis.Cmdable, prefix string, hmacKey []byte, cfg Config) *Store {
	return &Store{rdb: rdb, key: hmacKey, prefix: prefix, cfg: cfg}
}

// Limit says which send limit refused a code.
type Limit int

const (
	NotLimited Limit = iota
	PhoneLimited
	IPLimited
)

// Code returns 6 random digits from crypto/rand, without modulo bias.
func Code() (string, error) {
	var b [4]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		const lim = (1<<32 - 1) / 1_000_000 * 1_000_000
		if v < lim {
			return fmt.Sprintf("%06d", v%1_000_000), nil
		}
	}
}

// digest binds the code to the phone, so a digest is useless for any other
// number.
func (s *Store) digest(phone, code string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(phone))
	m.Write([]byte{0})
	m.Write([]byte(code))
	return hex.EncodeToString(m.Sum(nil))
}

// DelegatedCode marks a code held by the SMS provider (Twilio Verify): the
// store still counts attempts and requires a send first.
const DelegatedCode = ""

// Keys: a phone's send counter and code share the hash tag {otp:<phone>},
// and an IP's counter has its own, so every script touches one slot and
// runs on Redis Cluster.
func (s *Store) phoneKey(phone string) string { return s.prefix + "{otp:" + phone + "}:rl" }

// CodeKey is the Redis key holding phone's code.
func (s *Store) CodeKey(phone string) string { return s.prefix + "{otp:" + phone + "}:code" }

func (s *Store) ipKey(ip string) string { return s.prefix + "{otp:ip:" + ip + "}" }

// countScript counts one send in a window, in one step. KEYS: counter.
// ARGV: window ms, max. Returns 0, or the retry-after ms when over.
var countScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if n > tonumber(ARGV[2]) then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
  return ttl
end
return 0
`)

// Send stores code for phone (replacing any previous one) unless a limit is
// reached; ip may be empty. code DelegatedCode means the provider holds it.
// The phone's window is counted first, then the IP's (a send refused for
// the phone does not spend the IP's budget), each in one atomic step.
func (s *Store) Send(ctx context.Context, phone, ip, code string) (Limit, time.Duration, error) {
	h := DelegatedCode
	if code != DelegatedCode {
		h = s.digest(phone, code)
	}
	w := s.cfg.Window.Milliseconds()
	steps := []struct {
		key   string
		max   int
		limit Limit
	}{{s.phoneKey(phone), s.cfg.MaxPerWindow, PhoneLimited}, {s.ipKey(ip), s.cfg.MaxPerIPPerWindow, IPLimited}}
	if ip == "" {
		steps = steps[:1]
	}
	for _, st := range steps {
		t, err := countScript.Run(ctx, s.rdb, []string{st.key}, w, st.max).Int64()
		if err != nil {
			return NotLimited, 0, fmt.Errorf("otp: send: %w", err)
		}
		if t > 0 {
			return st.limit, time.Duration(t) * time.Millisecond, nil
		}
	}
	// A new code replaces the previous one and its attempt count.
	key := s.CodeKey(phone)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, key)
		p.HSet(ctx, key, "h", h, "a", 0)
		p.PExpire(ctx, key, s.cfg.TTL)
		return nil
	})
	if err != nil {
		return NotLimited, 0, fmt.Errorf("otp: send: %w", err)
	}
	return NotLimited, 0, nil
}

// Outcome of a verification.
type Outcome int

const (
	// Missing: no code was sent, it expired, or it was used.
	Missing Outcome = iota
	// Wrong code; tries remain.
	Wrong
	// Burnt: too many wrong tries; the code is gone.
	Burnt
	// Match: the code was right and is now consumed.
	Match
	// Delegated: the provider holds the code; the attempt was counted and the
	// caller must check it with the provider, then call Consume.
	Delegated
)

// verifyScript: KEYS: code key. ARGV: digest, max attempts.
var verifyScript = redis.NewScript(`
local h = redis.call('HGET', KEYS[1], 'h')
if not h then return 0 end
local a = redis.call('HINCRBY', KEYS[1], 'a', 1)
if h == '' then
  if a >= tonumber(ARGV[2]) then redis.call('DEL', KEYS[1]) end
  return 4
end
if h == ARGV[1] then redis.call('DEL', KEYS[1]); return 3 end
if a >= tonumber(ARGV[2]) then redis.call('DEL', KEYS[1]); return 2 end
return 1
`)

// Verify checks code for phone; a match consumes it.
func (s *Store) Verify(ctx context.Context, phone, code string) (Outcome, error) {
	n, err := verifyScript.Run(ctx, s.rdb, []string{s.CodeKey(phone)},
		s.digest(phone, code), s.cfg.MaxVerifyAttempts).Int64()
	if err != nil {
		return Missing, fmt.Errorf("otp: verify: %w", err)
	}
	return Outcome(n), nil
}

// Consume removes the code of phone (after a delegated check succeeded).
func (s *Store) Consume(ctx context.Context, phone string) error {
	return s.rdb.Del(ctx, s.CodeKey(phone)).Err()
}
