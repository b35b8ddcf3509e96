package post

import (
	"context"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5/pgxpool"

	postv1 "github.com/infliq/infliq/backend/gen/infliq/post/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/id"
)

// Internal implements postv1connect.PostInternalServiceHandler for the
// admin tier: moderation hides posts and comments in post_hidden and
// comment_hidden, which every read skips (view.NotHidden), and shows them
// again by deleting the row. Nothing is deleted, so a restore is exact.
type Internal struct {
	db *pgxpool.Pool
}

// SetContentHidden hides or shows one post or comment ('removed' cause).
func (i *Internal) SetContentHidden(ctx context.Context, req *connect.Request[postv1.SetContentHiddenRequest]) (*connect.Response[postv1.SetContentHiddenResponse], error) {
	m := req.Msg
	target, err := id.Parse(m.GetId())
	if err != nil {
		return nil, apperr.BadRequest("Invalid id")
	}
	table, hidden, key := "posts", "post_hidden", "post_id"
	if m.GetKind() == "comment" {
		table, hidden, key = "post_comments", "comment_hidden", "comment_id"
	}
	var found bool
	if m.GetHidden() {
		err = i.db.QueryRow(ctx, `WITH t AS (SELECT id FROM `+table+` WHERE id = $1),
			ins AS (INSERT INTO `+hidden+` (`+key+`, cause) SELECT id, 'removed' FROM t ON CONFLICT DO NOTHING)
			SELECT EXISTS (SELECT 1 FROM t)`, target).Scan(&found)
	} else {
		err = i.db.QueryRow(ctx, `WITH d AS (DELETE FROM `+hidden+` WHERE `+key+` = $1 AND cause = 'removed')
			SELECT EXISTS (SELECT 1 FROM `+table+` WHERE id = $1)`, target).Scan(&found)
	}
	if err != nil {
		return nil, apperr.Internal(err)
	}
	return connect.NewResponse(&postv1.SetContentHiddenResponse{Found: found}), nil
}

// SetAuthorHidden hides or shows every post and comment of a user ('author'
// cause, kept apart from removals: unsuspending never restores a removed post).
func (i *Internal) SetAuthorHidden(ctx context.Context, req *connect.Request[postv1.SetAuthorHiddenRequest]) (*connect.Response[postv1.SetAuthorHiddenResponse], error) {
	uid, err := id.Parse(req.Msg.GetUserId())
	if err != nil {
		return nil, apperr.BadRequest("Invalid user id")
	}
	var n int32
	if req.Msg.GetHidden() {
		err = i.db.QueryRow(ctx, `WITH p AS (
				INSERT INTO post_hidden (post_id, cause) SELECT id, 'author' FROM posts WHERE user_id = $1
				ON CONFLICT DO NOTHING RETURNING 1),
			c AS (
				INSERT INTO comment_hidden (comment_id, cause) SELECT id, 'author' FROM post_comments WHERE user_id = $1
				ON CONFLICT DO NOTHING RETURNING 1)
			SELECT (SELECT count(*) FROM p) + (SELECT count(*) FROM c)`, uid).Scan(&n)
	} else {
		err = i.db.QueryRow(ctx, `WITH p AS (
				DELETE FROM post_hidden h USING posts x WHERE h.post_id = x.id AND x.user_id = $1 AND h.cause = 'author' RETURNING 1),
			c AS (
				DELETE FROM comment_hidden h USING post_comments x WHERE h.comment_id = x.id AND x.user_id = $1 AND h.cause = 'author' RETURNING 1)
			SELECT (SELECT count(*) FROM p) + (SELECT count(*) FROM c)`, uid).Scan(&n)
	}
	if err != nil {
		return nil, apperr.Internal(err)
	}
	return connect.NewResponse(&postv1.SetAuthorHiddenResponse{Changed: n}), nil
}
