package cache

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrOpen is returned without touching the network while the breaker is
// open. It is a net.Error so apperr classifies it like any other dependency
// outage (503, retry later).
var ErrOpen error = openError{}

type openError struct{}

func (openError) Error() string   { return "cache: redis unavailable (circuit open)" }
func (openError) Timeout() bool   { return false }
func (openError) Temporary() bool { return true }

var _ net.Error = openError{}

// Breaker is a go-redis hook that stops calling a Redis that keeps failing:
// after Threshold consecutive connection failures every command fails at
// once with ErrOpen for Cooldown, then one probe command is let through
// (half-open); its success closes the breaker. Replies that are Redis
// errors (WRONGTYPE, script errors) and redis.Nil are answers, not failures.
type Breaker struct {
	Threshold int
	Cooldown  time.Duration
	// OnChange, when set, is told every state change (for logs and metrics).
	OnChange func(open bool)

	mu       sync.Mutex
	failures int
	openTill time.Time // zero when closed
	probing  bool
}

// NewBreaker returns a breaker that opens after 3 consecutive failures and
// probes every 250 ms: a returning Redis is used again well within a second.
func NewBreaker() *Breaker { return &Breaker{Threshold: 3, Cooldown: 250 * time.Millisecond} }

// Open reports whether calls are being refused.
func (b *Breaker) Open() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.openTill.IsZero()
}

// allow decides whether a call may go out; probe is true for the one
// half-open trial call.
func (b *Breaker) allow() (ok, probe bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.openTill.IsZero() {
		return true, false
	}
	if b.probing || time.Now().Before(b.openTill) {
		return false, false
	}
	b.probing = true
	return true, true
}

func (b *Breaker) done(err error, probe bool) {
	failed := isFailure(err)
	if !failed && err != nil && !probe {
		return // a caller's cancellation says nothing about Redis
	}
	b.mu.Lock()
	wasOpen := !b.openTill.IsZero()
	if probe {
		b.probing = false
	}
	switch {
	case !failed:
		b.failures = 0
		b.openTill = time.Time{}
	default:
		b.failures++
		if wasOpen || b.failures >= b.Threshold {
			b.openTill = time.Now().Add(b.Cooldown)
		}
	}
	nowOpen := !b.openTill.IsZero()
	b.mu.Unlock()
	if nowOpen != wasOpen && b.OnChange != nil {
		b.OnChange(nowOpen)
	}
}

// isFailure reports errors that mean Redis is unreachable or not answering.
func isFailure(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) {
		return false
	}
	var re redis.Error
	if errors.As(err, &re) {
		return false
	}
	return true
}

// DialHook leaves dialing alone: commands are gated in ProcessHook, and a
// dial made for a gated command must not be gated twice.
func (b *Breaker) DialHook(next redis.DialHook) redis.DialHook { return next }

// inner marks the context of a call the breaker already let through:
// commands go-redis runs inside it (HELLO, SELECT on a new connection) pass.
type inner struct{}

func (b *Breaker) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if ctx.Value(inner{}) != nil {
			return next(ctx, cmd)
		}
		ok, probe := b.allow()
		if !ok {
			cmd.SetErr(ErrOpen)
			return ErrOpen
		}
		err := next(context.WithValue(ctx, inner{}, true), cmd)
		b.done(err, probe)
		return err
	}
}

func (b *Breaker) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if ctx.Value(inner{}) != nil {
			return next(ctx, cmds)
		}
		ok, probe := b.allow()
		if !ok {
			for _, c := range cmds {
				c.SetErr(ErrOpen)
			}
			return ErrOpen
		}
		err := next(context.WithValue(ctx, inner{}, true), cmds)
		b.done(err, probe)
		return err
	}
}
