package cache

import (
	"context"
	"time"

	"connectrpc.com/connect"
	"github.com/redis/go-redis/v9"

	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/id"
)

// WriteMarks give an author read-your-writes over cached reads. Every
// successful write RPC of a user (see Interceptor) marks them for TTL; a
// cached read path (the feed's shared snapshots, view.HotFeed) sends a
// marked user to the database, so their own comment, like, new or deleted
// post, story or profile edit shows on their very next read. Other
// viewers still see it within the cache's own window. TTL must exceed the
// longest a cached copy can be served after a write commits (the snapshot
// TTL plus its refresh). A nil *WriteMarks marks nothing and reports
// nothing marked.
type WriteMarks struct {
	rdb    redis.Cmdable
	prefix string
	ttl    time.Duration
}

// NewWriteMarks keeps marks under prefix for ttl. rdb is best an
// autopipeliner: marks and checks ride along with concurrent requests.
func NewWriteMarks(rdb redis.Cmdable, prefix string, ttl time.Duration) *WriteMarks {
	return &WriteMarks{rdb: rdb, prefix: prefix, ttl: ttl}
}

// Mark records that uid just wrote.
func (m *WriteMarks) Mark(ctx context.Context, uid id.ID) error {
	if m == nil || uid.IsZero() {
		return nil
	}
	return m.rdb.Set(ctx, m.prefix+uid.String(), 1, m.ttl).Err()
}

// Marked reports whether uid wrote within TTL. When Redis cannot answer it
// reports true: a read from the database is always correct, only slower.
func (m *WriteMarks) Marked(ctx context.Context, uid id.ID) bool {
	if m == nil {
		return false
	}
	n, err := m.rdb.Exists(ctx, m.prefix+uid.String()).Result()
	return err != nil || n > 0
}

// Interceptor marks the caller after every successful unary RPC that may
// change state (any idempotency level but NO_SIDE_EFFECTS). The write has
// committed when the handler returns, so the mark follows the commit. A
// failed mark is not the caller's failure: the response stands.
func (m *WriteMarks) Interceptor() connect.Interceptor {
	return connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			res, err := next(ctx, req)
			if err != nil || m == nil || req.Spec().IdempotencyLevel == connect.IdempotencyNoSideEffects {
				return res, err
			}
			if p, ok := authn.FromContext(ctx); ok && !p.UserID.IsZero() {
				_ = m.Mark(context.WithoutCancel(ctx), p.UserID)
			}
			return res, err
		}
	})
}
