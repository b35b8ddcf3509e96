// Package job runs the tiers' periodic background work (story cleanup,
// audit retention, ring-timeout sweeps, session re-checks).
package job

import (
	"context"
	"time"
)

// Every calls fn each interval until ctx ends. It blocks; run it in a goroutine.
func Every(ctx context.Context, interval time.Duration, fn func(context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn(ctx)
		}
	}
}
