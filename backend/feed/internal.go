package feed

import (
	"context"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5/pgxpool"

	feedv1 "github.com/infliq/infliq/backend/gen/infliq/feed/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/id"
)

// Internal implements feedv1connect.FeedInternalServiceHandler for the
// admin tier: moderation hides stories in story_hidden, which the story
// feed and ViewStory skip; showing one again deletes the row.
type Internal struct {
	db *pgxpool.Pool
}

// SetContentHidden hides or shows one story ('removed' cause).
func (i *Internal) SetContentHidden(ctx context.Context, req *connect.Request[feedv1.SetContentHiddenRequest]) (*connect.Response[feedv1.SetContentHiddenResponse], error) {
	sid, err := id.Parse(req.Msg.GetId())
	if err != nil {
		return nil, apperr.BadRequest("Invalid id")
	}
	var found bool
	if req.Msg.GetHidden() {
		err = i.db.QueryRow(ctx, `WITH t AS (SELECT id FROM stories WHERE id = $1),
			ins AS (INSERT INTO story_hidden (story_id, cause) SELECT id, 'removed' FROM t ON CONFLICT DO NOTHING)
			SELECT EXISTS (SELECT 1 FROM t)`, sid).Scan(&found)
	} else {
		err = i.db.QueryRow(ctx, `WITH d AS (DELETE FROM story_hidden WHERE story_id = $1 AND cause = 'removed')
			SELECT EXISTS (SELECT 1 FROM stories WHERE id = $1)`, sid).Scan(&found)
	}
	if err != nil {
		return nil, apperr.Internal(err)
	}
	return connect.NewResponse(&feedv1.SetContentHiddenResponse{Found: found}), nil
}

// SetAuthorHidden hides or shows every story of a suspended user ('author' cause).
func (i *Internal) SetAuthorHidden(ctx context.Context, req *connect.Request[feedv1.SetAuthorHiddenRequest]) (*connect.Response[feedv1.SetAuthorHiddenResponse], error) {
	uid, err := id.Parse(req.Msg.GetUserId())
	if err != nil {
		return nil, apperr.BadRequest("Invalid user id")
	}
	var n int32
	if req.Msg.GetHidden() {
		err = i.db.QueryRow(ctx, `WITH c AS (INSERT INTO story_hidden (story_id, cause)
			SELECT id, 'author' FROM stories WHERE user_id = $1 ON CONFLICT DO NOTHING RETURNING 1)
			SELECT count(*) FROM c`, uid).Scan(&n)
	} else {
		err = i.db.QueryRow(ctx, `WITH c AS (DELETE FROM story_hidden h USING stories s
			WHERE h.story_id = s.id AND s.user_id = $1 AND h.cause = 'author' RETURNING 1)
			SELECT count(*) FROM c`, uid).Scan(&n)
	}
	if err != nil {
		return nil, apperr.Internal(err)
	}
	return connect.NewResponse(&feedv1.SetAuthorHiddenResponse{Changed: n}), nil
}
