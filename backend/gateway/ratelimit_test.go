package gateway

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/infliq/infliq/backend/platform/cache/redistest"
)

// TestRedisLimiterHoldsUnderConcurrency: 40 parallel requests from one
// address against a budget of 5; the decision and the count are one Redis
// step, so exactly 5 pass.
func TestRedisLimiterHoldsUnderConcurrency(t *testing.T) {
	l := NewRedisLimiter(redistest.New(t), redistest.Prefix()+"gw:ip:", 5, time.Hour)
	var allowed atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res, err := l.Allow(context.Background(), "198.51.100.9")
			if err != nil {
				t.Error(err)
			}
			if res.Allowed {
				allowed.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	if n := allowed.Load(); n != 5 {
		t.Fatalf("%d of 40 allowed, limit 5", n)
	}
}
