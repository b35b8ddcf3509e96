package media

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/infliq/infliq/backend/platform/cache/redistest"
)

// TestUploadLimiterHoldsUnderConcurrency: 40 parallel uploads of one user
// against a budget of 5 per window; count and check are one script, so
// exactly 5 pass.
func TestUploadLimiterHoldsUnderConcurrency(t *testing.T) {
	l := &uploadLimiter{rdb: redistest.New(t), prefix: redistest.Prefix() + "media:rate", window: time.Hour, max: 5}
	now := time.Now()
	var allowed atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ok, _, err := l.allow(context.Background(), "65f1a2b3c4d5e6f708192a3b", now)
			if err != nil {
				t.Error(err)
			}
			if ok {
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
