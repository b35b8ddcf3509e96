package cache_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/cache"
	"github.com/infliq/infliq/backend/platform/cache/redistest"
	"github.com/infliq/infliq/backend/platform/id"
)

type fakeReq struct {
	connect.AnyRequest
	spec connect.Spec
}

func (r fakeReq) Spec() connect.Spec { return r.spec }

// TestWriteMarks: a write marks its author (and only them) for TTL, reads
// and failures mark nothing, and a nil *WriteMarks is inert.
func TestWriteMarks(t *testing.T) {
	rdb := redistest.New(t)
	m := cache.NewWriteMarks(rdb, redistest.Prefix(), time.Minute)
	ctx := context.Background()
	a, b := id.New(), id.New()
	as := authn.WithPrincipal(ctx, authn.Principal{UserID: a})
	call := func(ctx context.Context, level connect.IdempotencyLevel, fail bool) {
		h := m.Interceptor().WrapUnary(func(context.Context, connect.AnyRequest) (connect.AnyResponse, error) {
			if fail {
				return nil, errors.New("refused")
			}
			return nil, nil
		})
		_, _ = h(ctx, fakeReq{spec: connect.Spec{IdempotencyLevel: level}})
	}
	call(as, connect.IdempotencyNoSideEffects, false)
	call(as, connect.IdempotencyUnknown, true)
	call(ctx, connect.IdempotencyUnknown, false) // no principal
	if m.Marked(ctx, a) {
		t.Fatal("marked by a read, a failure or an anonymous call")
	}
	// Concurrent writes by a: marked; b untouched.
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { call(as, connect.IdempotencyIdempotent, false) })
	}
	wg.Wait()
	if !m.Marked(ctx, a) || m.Marked(ctx, b) {
		t.Fatal("marks")
	}
	var nilMarks *cache.WriteMarks
	if err := nilMarks.Mark(ctx, a); err != nil || nilMarks.Marked(ctx, a) {
		t.Fatal("nil marks")
	}
	// Redis gone: reads fall back to the database (reported as marked).
	c := redistest.New(t)
	_ = c.Close()
	broken := cache.NewWriteMarks(c, "x:", time.Minute)
	if !broken.Marked(ctx, b) {
		t.Fatal("an unreachable Redis must send reads to the database")
	}
}
