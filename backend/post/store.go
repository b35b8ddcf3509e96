package post

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	postv1 "github.com/infliq/infliq/backend/gen/infliq/post/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/db"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/post/view"
)

// newPost is the storage form of a post to insert.
type newPost struct {
	ID, UserID                                                       id.ID
	Type, Content, MediaURL, MediaType, ThumbnailURL, IdempotencyKey string
}

// insertPost inserts p, or returns the post an earlier call with the same
// idempotency key created.
func insertPost(ctx context.Context, q db.Querier, p newPost) (id.ID, bool, error) {
	var got id.ID
	err := q.QueryRow(ctx, `
		INSERT INTO posts (id, user_id, type, content, media_url, media_type, thumbnail_url, idempotency_key, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, NULLIF($8, ''), now())
		ON CONFLICT (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
		RETURNING id`,
		p.ID, p.UserID, p.Type, p.Content, p.MediaURL, p.MediaType, p.ThumbnailURL, p.IdempotencyKey).Scan(&got)
	switch {
	case err == nil:
		return got, true, nil
	case db.IsNoRows(err):
		err = q.QueryRow(ctx, `SELECT id FROM posts WHERE user_id = $1 AND idempotency_key = $2`, p.UserID, p.IdempotencyKey).Scan(&got)
		if err != nil {
			return id.Nil, false, apperr.Internal(err)
		}
		return got, false, nil
	case db.IsForeignKeyViolation(err):
		return id.Nil, false, apperr.NotFound("User not found")
	default:
		return id.Nil, false, apperr.Internal(err)
	}
}

// deletePost deletes postID if me owns it.
func deletePost(ctx context.Context, q db.Querier, me, postID id.ID) error {
	tag, err := q.Exec(ctx, `DELETE FROM posts WHERE id = $1 AND user_id = $2`, postID, me)
	if err != nil {
		return apperr.Internal(err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var exists bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM posts WHERE id = $1)`, postID).Scan(&exists); err != nil {
		return apperr.Internal(err)
	}
	if exists {
		return apperr.Forbidden("Not authorized to delete this post")
	}
	return apperr.NotFound("Post not found")
}

// visibleOwner returns the owner of postID when the post exists and its
// owner and me do not block each other; NotFound otherwise.
func visibleOwner(ctx context.Context, q db.Querier, me, postID id.ID) (id.ID, error) {
	var owner id.ID
	err := q.QueryRow(ctx, `SELECT p.user_id FROM posts p WHERE p.id = $2 AND `+view.NotHidden+`
		AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = $1 AND b.blocked_id = p.user_id)
		AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = p.user_id AND b.blocked_id = $1)`, me, postID).Scan(&owner)
	if db.IsNoRows(err) {
		return id.Nil, apperr.NotFound("Post not found")
	}
	if err != nil {
		return id.Nil, apperr.Internal(err)
	}
	return owner, nil
}

type likeOp string

const (
	likeOn     likeOp = "on"
	likeOff    likeOp = "off"
	likeToggle likeOp = "toggle"
)

type likeResult struct {
	liked   bool  // the caller likes the post after the call
	changed bool  // a like row was inserted or deleted
	owner   id.ID // the post's owner
	post    *postv1.Post
	// The caller's name and picture, for the notification.
	actorName, actorPicture string
}

// likeShards is how many post_like_counts rows a post's likes spread over;
// a read sums at most this many rows.
const likeShards = 16

// nextShard hands out shards round-robin: the likes a process has in
// flight at once (at most its pool size, DB_MAX_CONNS ≤ likeShards by
// default) use different counter rows, where random picks would often
// collide and wait for each other's commit.
var nextShard atomic.Uint32

func likeShard() int { return int(nextShard.Add(1) % likeShards) }

// likeSQL applies a like operation ($3) by $1 on post $2 in one
// autocommit statement:
//   - the like row and the post's count change together: the like row and
//     a ±1 on shard $4 of post_like_counts (see migration 03002), so
//     concurrent likes of a hot post lock different counter rows and their
//     durable commits share WAL flushes instead of queueing on one row;
//   - it commits durably like every other write: a like the app showed as
//     saved is never lost to a crash;
//   - the same statement renders the post and reads the caller's name for
//     the notification.
const likeSQL = `WITH target AS (
		SELECT p.id, p.user_id FROM posts p WHERE p.id = $2 AND ` + view.NotHidden + `
		  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = $1 AND b.blocked_id = p.user_id)
		  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = p.user_id AND b.blocked_id = $1)
	), del AS (
		DELETE FROM post_likes l USING target t
		WHERE $3 IN ('off', 'toggle') AND l.post_id = t.id AND l.user_id = $1
		RETURNING l.post_id
	), ins AS (
		INSERT INTO post_likes (post_id, user_id)
		SELECT t.id, $1 FROM target t WHERE $3 IN ('on', 'toggle') AND NOT EXISTS (SELECT 1 FROM del)
		ON CONFLICT DO NOTHING
		RETURNING post_id
	), cnt AS (
		INSERT INTO post_like_counts AS c (post_id, shard, n)
		SELECT post_id, $4::smallint, 1 FROM ins UNION ALL SELECT post_id, $4::smallint, -1 FROM del
		ON CONFLICT (post_id, shard) DO UPDATE SET n = c.n + excluded.n
	)
	SELECT ` + view.Columns + `, t.user_id, EXISTS (SELECT 1 FROM ins), EXISTS (SELECT 1 FROM del),
		COALESCE(me.name, ''), COALESCE(me.profile_picture, '')
	FROM target t JOIN posts p ON p.id = t.id JOIN users u ON u.id = p.user_id
	LEFT JOIN users me ON me.id = $1`

// setLike applies op with likeSQL.
func setLike(ctx context.Context, pool *pgxpool.Pool, me, postID id.ID, op likeOp) (likeResult, error) {
	var (
		r                 likeResult
		inserted, deleted bool
	)
	p, err := view.ScanPost(pool.QueryRow(ctx, likeSQL, me, postID, string(op), likeShard()),
		&r.owner, &inserted, &deleted, &r.actorName, &r.actorPicture)
	if db.IsNoRows(err) {
		err = nil
	}
	r.post = p
	switch {
	case db.IsForeignKeyViolation(err):
		return r, apperr.NotFound("Post not found")
	case err != nil:
		return r, apperr.Internal(err)
	case r.post == nil:
		return r, apperr.NotFound("Post not found")
	}
	r.changed = inserted || deleted
	r.liked = op == likeOn || (op == likeToggle && !deleted)
	// The statement rendered the post from its own snapshot, before its
	// change (and before likes that committed while it ran): apply the
	// caller's change. The stored count is always exact.
	if inserted {
		p.LikesCount++
	} else if deleted {
		p.LikesCount--
	}
	personalize(p, me, r.liked)
	return r, nil
}

// personalize shows p as me sees it after its like operation: whether me
// likes it, and me first in the liker sample when it does.
func personalize(p *postv1.Post, me id.ID, liked bool) {
	p.IsLiked = liked
	likers := make([]string, 0, len(p.LikerIds)+1)
	if liked {
		likers = append(likers, me.String())
	}
	for _, l := range p.LikerIds {
		if l != me.String() && len(likers) < view.LikerSample {
			likers = append(likers, l)
		}
	}
	p.LikerIds = likers
}

func wrap(err error) error {
	if err != nil {
		return apperr.Internal(err)
	}
	return nil
}

// insertComment adds a comment and bumps comments_count in tx.
func insertComment(ctx context.Context, tx pgx.Tx, me, postID id.ID, text string) (*postv1.Comment, error) {
	cid := id.New()
	var (
		a       commonv1.UserSummary
		created time.Time
	)
	err := tx.QueryRow(ctx, `
		WITH c AS (
			INSERT INTO post_comments (id, post_id, user_id, text) VALUES ($1, $2, $3, $4) RETURNING created_at
		)
		SELECT u.id, u.name, u.profile_picture, u.is_verified, c.created_at FROM c, users u WHERE u.id = $3`,
		cid, postID, me, text).Scan(&a.Id, &a.Name, &a.ProfilePicture, &a.IsVerified, &created)
	if db.IsNoRows(err) || db.IsForeignKeyViolation(err) {
		return nil, apperr.NotFound("User not found")
	}
	if err != nil {
		return nil, apperr.Internal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE posts SET comments_count = comments_count + 1 WHERE id = $1`, postID); err != nil {
		return nil, apperr.Internal(err)
	}
	return &postv1.Comment{Id: cid.String(), PostId: postID.String(), Author: &a, Text: text, CreatedAt: timestamppb.New(created)}, nil
}

// listComments pages a post's comments newest first (post_comments_post_idx).
func listComments(ctx context.Context, q db.Querier, postID id.ID, pg view.Page) ([]*postv1.Comment, string, error) {
	args := []any{postID, pg.Limit + 1}
	cur := ""
	if !pg.After.IsZero() {
		args = append(args, pg.After)
		cur = ` AND c.id < $3`
	}
	rows, err := q.Query(ctx, `SELECT c.id, c.text, c.created_at, u.id, u.name, u.profile_picture, u.is_verified
		FROM post_comments c JOIN users u ON u.id = c.user_id
		WHERE c.post_id = $1`+cur+` AND NOT EXISTS (SELECT 1 FROM comment_hidden ch WHERE ch.comment_id = c.id)
		ORDER BY c.id DESC LIMIT $2`, args...)
	if err != nil {
		return nil, "", apperr.Internal(err)
	}
	defer rows.Close()
	var out []*postv1.Comment
	for rows.Next() {
		var (
			c       = postv1.Comment{PostId: postID.String()}
			a       commonv1.UserSummary
			created time.Time
		)
		if err := rows.Scan(&c.Id, &c.Text, &created, &a.Id, &a.Name, &a.ProfilePicture, &a.IsVerified); err != nil {
			return nil, "", apperr.Internal(err)
		}
		c.Author, c.CreatedAt = &a, timestamppb.New(created)
		out = append(out, &c)
	}
	if err := rows.Err(); err != nil {
		return nil, "", apperr.Internal(err)
	}
	if len(out) <= pg.Limit {
		return out, "", nil
	}
	out = out[:pg.Limit]
	return out, view.EncodeCursor(mustID(out[pg.Limit-1].Id)), nil
}

// deleteComment deletes a comment when me wrote it or owns the post.
func deleteComment(ctx context.Context, tx pgx.Tx, me, postID, commentID id.ID) error {
	tag, err := tx.Exec(ctx, `DELETE FROM post_comments c USING posts p
		WHERE c.id = $1 AND c.post_id = $2 AND p.id = c.post_id AND (c.user_id = $3 OR p.user_id = $3)`, commentID, postID, me)
	if err != nil {
		return apperr.Internal(err)
	}
	if tag.RowsAffected() == 1 {
		_, err = tx.Exec(ctx, `UPDATE posts SET comments_count = comments_count - 1 WHERE id = $1`, postID)
		return wrap(err)
	}
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM post_comments WHERE id = $1 AND post_id = $2)`, commentID, postID).Scan(&exists); err != nil {
		return apperr.Internal(err)
	}
	if exists {
		return apperr.Forbidden("Not authorized to delete this comment")
	}
	return apperr.NotFound("Comment not found")
}

// recordView counts me's first view of postID.
func recordView(ctx context.Context, tx pgx.Tx, me, postID id.ID) (bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO post_views (post_id, viewer_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, postID, me)
	if err != nil {
		if db.IsForeignKeyViolation(err) {
			return false, apperr.NotFound("User not found")
		}
		return false, apperr.Internal(err)
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	_, err = tx.Exec(ctx, `UPDATE posts SET views_count = views_count + 1 WHERE id = $1`, postID)
	return true, wrap(err)
}

// insertReport files a pending report, once per reporter and post.
func insertReport(ctx context.Context, q db.Querier, me, postID id.ID, reason, details string) (id.ID, error) {
	var rid id.ID
	err := q.QueryRow(ctx, `
		INSERT INTO post_reports (id, reporter_id, post_id, reason, details, status, created_at)
		VALUES ($1, $2, $3, $4, $5, 'pending', now())
		ON CONFLICT (post_id, reporter_id) DO NOTHING RETURNING id`, id.New(), me, postID, reason, details).Scan(&rid)
	if db.IsNoRows(err) {
		err = q.QueryRow(ctx, `SELECT id FROM post_reports WHERE post_id = $1 AND reporter_id = $2`, postID, me).Scan(&rid)
	}
	if db.IsForeignKeyViolation(err) {
		return id.Nil, apperr.NotFound("User not found")
	}
	if err != nil {
		return id.Nil, apperr.Internal(err)
	}
	return rid, nil
}
