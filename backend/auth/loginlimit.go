package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// loginLimiter throttles password guesses. An attempt is reserved before
// bcrypt runs, in one script, so parallel guesses cannot all pass a check
// that a later increment would have failed. Two budgets share the reservation:
// per email and client IP (LoginMaxFailures per LoginWindow), and per email
// across every IP (LoginAccountMaxFailures per LoginWindow, then one attempt
// per backoff that doubles up to LoginBackoffMax). Every key of an email sits
// under one hash tag, so the scripts run on Redis Cluster.
type loginLimiter struct {
	rdb                redis.Cmdable
	prefix             string
	ipMax, acctMax     int
	window             time.Duration
	backoff, backoffTo time.Duration
}

// loginKeys are the per-IP counter, the per-account counter and the
// account's backoff lock.
func (l *loginLimiter) keys(email, ip string) []string {
	sum := sha256.Sum256([]byte(strings.ToLower(email)))
	tag := l.prefix + "{login:" + hex.EncodeToString(sum[:16]) + "}:"
	return []string{tag + "ip:" + ip, tag + "acct", tag + "lock"}
}

// reserveLogin takes one attempt from both budgets or none. Returns
// {0, 0} when reserved, else {1 (IP) or 2 (account), retry-after ms}.
var reserveLogin = redis.NewScript(`
local window = tonumber(ARGV[3])
local lock = redis.call('PTTL', KEYS[3])
if lock > 0 then return {2, lock} end
local ipn = tonumber(redis.call('GET', KEYS[1]) or '0')
if ipn >= tonumber(ARGV[1]) then
  local t = redis.call('PTTL', KEYS[1])
  if t < 0 then redis.call('PEXPIRE', KEYS[1], window); t = window end
  return {1, t}
end
if redis.call('INCR', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], window) end
local a = redis.call('INCR', KEYS[2])
if a == 1 then redis.call('PEXPIRE', KEYS[2], window) end
local over = a - tonumber(ARGV[2])
if over >= 0 then
  -- This attempt is the last one allowed now; later ones wait a backoff
  -- that doubles with each attempt past the budget.
  local d = tonumber(ARGV[4]) * math.pow(2, math.min(over, 20))
  d = math.min(d, tonumber(ARGV[5]))
  redis.call('SET', KEYS[3], '1', 'PX', math.floor(d))
  if redis.call('PTTL', KEYS[2]) < d then redis.call('PEXPIRE', KEYS[2], math.floor(d) + window) end
end
return {0, 0}
`)

// releaseLogin gives a successful attempt back: the IP's failures are
// forgotten, the account's count loses this attempt, and a backoff ends once
// the account is back under its budget.
var releaseLogin = redis.NewScript(`
redis.call('DEL', KEYS[1])
local a = redis.call('DECR', KEYS[2])
if a <= 0 then redis.call('DEL', KEYS[2]) end
if a < tonumber(ARGV[1]) then redis.call('DEL', KEYS[3]) end
return a
`)

// loginRefusal says which budget refused an attempt.
type loginRefusal int

const (
	loginAllowed loginRefusal = iota
	loginIPLimited
	loginAccountLimited
)

func (l *loginLimiter) reserve(ctx context.Context, email, ip string) (loginRefusal, time.Duration, error) {
	res, err := reserveLogin.Run(ctx, l.rdb, l.keys(email, ip),
		l.ipMax, l.acctMax, l.window.Milliseconds(), l.backoff.Milliseconds(), l.backoffTo.Milliseconds()).Int64Slice()
	if err != nil {
		return loginAllowed, 0, fmt.Errorf("login limit: %w", err)
	}
	return loginRefusal(res[0]), max(time.Duration(res[1])*time.Millisecond, time.Second), nil
}

func (l *loginLimiter) release(ctx context.Context, email, ip string) error {
	return releaseLogin.Run(ctx, l.rdb, l.keys(email, ip), l.acctMax).Err()
}
