package chat

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/infliq/infliq/backend/platform/apperr"
)

// SendLimit is the per-user message budget every send path shares
// (ChatService.SendMessage, SendMessageAs, and the sockets' batched
// SendMessagesAs): a token bucket of Burst tokens refilled at PerSecond.
type SendLimit struct {
	Redis     redis.Cmdable
	Prefix    string
	PerSecond int
	Burst     int
}

// Option configures the chat tier.
type Option func(*Service)

// WithSendLimit turns the per-user send limit on.
func WithSendLimit(l SendLimit) Option {
	return func(s *Service) {
		if l.Redis != nil && l.PerSecond > 0 && l.Burst > 0 {
			s.limit = &l
		}
	}
}

// takeTokens takes up to ARGV[3] tokens from the bucket KEYS[1] (rate
// ARGV[1]/s, capacity ARGV[2]) on Redis's clock, in one step, so parallel
// sends from every replica share one budget. Returns {granted, retry ms}.
var takeTokens = redis.NewScript(`
local rate, burst, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens, ts = tonumber(b[1]), tonumber(b[2])
if tokens == nil or ts == nil then tokens, ts = burst, now end
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * rate / 1000)
  ts = now
end
local granted = math.min(n, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', ts)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
local retry = 0
if granted < n then retry = math.ceil((1 - tokens) * 1000 / rate) end
return {granted, retry}
`)

func (l *SendLimit) key(uid string) string { return l.Prefix + "{send:" + uid + "}" }

// errTooFast is what a sender over the limit gets.
func errTooFast(retry time.Duration) error {
	return apperr.RateLimited("Too many messages. Slow down and try again shortly.", max(retry, time.Second)).WithReason("CHAT_SEND_RATE_LIMIT")
}

// check takes one token for uid: nil, or the error to return. Like the
// gateway's limiter it fails open: a Redis outage must not stop chat.
func (l *SendLimit) check(ctx context.Context, log *slog.Logger, uid string) error {
	return l.checkMany(ctx, log, []string{uid})[0]
}

// checkMany applies the limit to a batch's senders: one script call per
// distinct sender, pipelined into one round trip. It returns, per position,
// the error refusing that send (nil: allowed).
func (l *SendLimit) checkMany(ctx context.Context, log *slog.Logger, senders []string) []error {
	out := make([]error, len(senders))
	if l == nil || len(senders) == 0 {
		return out
	}
	count := map[string]int{}
	order := []string{}
	for _, s := range senders {
		s = strings.ToLower(s)
		if count[s] == 0 {
			order = append(order, s)
		}
		count[s]++
	}
	run := func() ([]*redis.Cmd, error) {
		cmds := make([]*redis.Cmd, len(order))
		_, err := l.Redis.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, s := range order {
				cmds[i] = takeTokens.EvalSha(ctx, p, []string{l.key(s)}, l.PerSecond, l.Burst, count[s])
			}
			return nil
		})
		return cmds, err
	}
	cmds, err := run()
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		if err = takeTokens.Load(ctx, l.Redis).Err(); err == nil {
			cmds, err = run()
		}
	}
	if err != nil {
		log.WarnContext(ctx, "chat: send limiter unavailable", "err", err)
		return out
	}
	granted := map[string]int{}
	refusal := map[string]error{}
	for i, s := range order {
		res, err := cmds[i].Int64Slice()
		if err != nil || len(res) != 2 {
			granted[s] = count[s]
			continue
		}
		granted[s] = int(res[0])
		refusal[s] = errTooFast(time.Duration(res[1]) * time.Millisecond)
	}
	for i, s := range senders {
		s = strings.ToLower(s)
		if granted[s] > 0 {
			granted[s]--
			continue
		}
		out[i] = refusal[s]
	}
	return out
}
