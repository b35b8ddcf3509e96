// Package otp keeps one-time codes in Redis: stored as an HMAC (never in
// plain text) with a TTL, single use, burnt after too many wrong tries, and
// sends limited per phone and per client IP. Each operation is one Lua
// script, so one Redis round trip and no races between replicas.
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

// sendScript counts the send against the phone and IP windows and, when both
// allow it, replaces any previous code (and its attempt count).
// KEYS: phone counter, ip counter, code key. ARGV: window ms, max phone,
// max ip, digest, ttl ms. Returns {limit, retry-after ms}.
var sendScript = redis.NewScript(`
local function over(key, max, window)
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('PEXPIRE', key, window) end
  if n > max then
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then redis.call('PEXPIRE', key, window); ttl = window end
    return ttl
  end
  return 0
end
local w = tonumber(ARGV[1])
local t = over(KEYS[1], tonumber(ARGV[2]), w)
if t > 0 then return {1, t} end
if KEYS[2] ~= KEYS[1] then
  t = over(KEYS[2], tonumber(ARGV[3]), w)
  if t > 0 then return {2, t} end
end
redis.call('DEL', KEYS[3])
redis.call('HSET', KEYS[3], 'h', ARGV[4], 'a', 0)
redis.call('PEXPIRE', KEYS[3], ARGV[5])
return {0, 0}
`)

// Send stores code for phone (replacing any previous one) unless a limit is
// reached; ip may be empty. code DelegatedCode means the provider holds it.
func (s *Store) Send(ctx context.Context, phone, ip, code string) (Limit, time.Duration, error) {
	h := DelegatedCode
	if code != DelegatedCode {
		h = s.digest(phone, code)
	}
	ipKey := s.prefix + "otp:rl:phone:" + phone // no IP known: count the phone only
	if ip != "" {
		ipKey = s.prefix + "otp:rl:ip:" + ip
	}
	res, err := sendScript.Run(ctx, s.rdb,
		[]string{s.prefix + "otp:rl:phone:" + phone, ipKey, s.prefix + "otp:code:" + phone},
		s.cfg.Window.Milliseconds(), s.cfg.MaxPerWindow, s.cfg.MaxPerIPPerWindow, h, s.cfg.TTL.Milliseconds(),
	).Int64Slice()
	if err != nil {
		return NotLimited, 0, fmt.Errorf("otp: send: %w", err)
	}
	return Limit(res[0]), time.Duration(res[1]) * time.Millisecond, nil
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
	n, err := verifyScript.Run(ctx, s.rdb, []string{s.prefix + "otp:code:" + phone},
		s.digest(phone, code), s.cfg.MaxVerifyAttempts).Int64()
	if err != nil {
		return Missing, fmt.Errorf("otp: verify: %w", err)
	}
	return Outcome(n), nil
}

// Consume removes the code of phone (after a delegated check succeeded).
func (s *Store) Consume(ctx context.Context, phone string) error {
	return s.rdb.Del(ctx, s.prefix+"otp:code:"+phone).Err()
}
