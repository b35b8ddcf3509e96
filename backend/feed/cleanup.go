package feed

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/infliq/infliq/backend/platform/job"
)

// cleanupBatch bounds one DELETE so the job never holds long locks.
const cleanupBatch = 1000

// CleanupExpired deletes every expired story (and, by cascade, its views),
// in batches, and returns how many it deleted. Reads already hide expired
// stories; this only reclaims space.
func CleanupExpired(ctx context.Context, pool *pgxpool.Pool) (int64, error) {
	var total int64
	for {
		tag, err := pool.Exec(ctx, `DELETE FROM stories WHERE id IN (
			SELECT id FROM stories WHERE expires_at <= now() ORDER BY expires_at LIMIT $1)`, cleanupBatch)
		if err != nil {
			return total, err
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < cleanupBatch {
			return total, nil
		}
	}
}

// RunCleanup runs CleanupExpired every interval until ctx ends.
func RunCleanup(ctx context.Context, pool *pgxpool.Pool, every time.Duration, log *slog.Logger) {
	job.Every(ctx, every, func(ctx context.Context) {
		n, err := CleanupExpired(ctx, pool)
		if err != nil && ctx.Err() == nil {
			log.WarnContext(ctx, "story cleanup failed", "err", err)
		} else if n > 0 {
			log.InfoContext(ctx, "expired stories removed", "count", n)
		}
	})
}

// CleanupInterval is how often the tier deletes expired stories.
const CleanupInterval = 5 * time.Minute
