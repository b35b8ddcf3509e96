// Package view is the post read model shared by the post and feed tiers: one
// SQL query per page that joins posts with their authors (users), the
// caller's like (post_likes) and the block graph (blocks), and renders
// postv1.Post. No per-post RPC or query is ever made.
//
// Tables read here and their owners: posts, post_likes (post service);
// users, follows, blocks (user service, read-only here).
package view

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	postv1 "github.com/infliq/infliq/backend/gen/infliq/post/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/db"
	"github.com/infliq/infliq/backend/platform/id"
)

// LikerSample bounds Post.liker_ids.
const LikerSample = 100

// MaxOffset bounds legacy page/skip offsets.
const MaxOffset = 10000

// Media fields are rendered as stored; the tier's mediaurl interceptor turns
// them into client URLs on the way out (see platform/mediaurl).

// Page is a parsed page request. With a cursor, rows strictly older than
// After are returned; without one, Offset rows are skipped (legacy paging).
type Page struct {
	After  id.ID
	Offset int
	Limit  int
}

// ParsePage validates a page request. limit 0 means def; it is capped at max.
func ParsePage(p *commonv1.PageRequest, off *postv1.PageOffset, def, max int) (Page, error) {
	pg := Page{Limit: int(p.GetLimit())}
	if pg.Limit <= 0 {
		pg.Limit = def
	}
	if pg.Limit > max {
		pg.Limit = max
	}
	if c := p.GetCursor(); c != "" {
		after, err := DecodeCursor(c)
		if err != nil {
			return pg, err
		}
		pg.After = after
		return pg, nil
	}
	pg.Offset = int(off.GetOffset())
	if pg.Offset > MaxOffset {
		pg.Offset = MaxOffset
	}
	return pg, nil
}

// EncodeCursor makes the opaque cursor for rows older than last.
func EncodeCursor(last id.ID) string { return base64.RawURLEncoding.EncodeToString(last[:]) }

// DecodeCursor parses a cursor made by EncodeCursor.
func DecodeCursor(s string) (id.ID, error) {
	var out id.ID
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != len(out) {
		return id.Nil, apperr.BadRequest("Invalid cursor")
	}
	copy(out[:], b)
	return out, nil
}

// LikesCount is post p's exact like count: the imported base plus the
// sharded deltas that likes add (migration 03002).
const LikesCount = `(p.likes_count + COALESCE((SELECT sum(lc.n) FROM post_like_counts lc WHERE lc.post_id = p.id), 0))::int`

// columns selects one rendered post; $1 is the viewer.
const columns = `p.id, p.type, p.content, p.media_url, p.media_type, p.thumbnail_url,
	` + LikesCount + `, p.comments_count, p.views_count, p.shares_count, p.created_at,
	u.id, u.name, u.profile_picture, u.is_verified,
	EXISTS (SELECT 1 FROM post_likes l WHERE l.post_id = p.id AND l.user_id = $1) AS is_liked,
	ARRAY(SELECT l.user_id::text FROM post_likes l WHERE l.post_id = p.id ORDER BY l.user_id LIMIT 100) AS likers,
	(SELECT json_agg(json_build_object('id', c.id, 'text', c.text, 'at', c.created_at,
			'uid', cu.id, 'name', cu.name, 'pic', cu.profile_picture, 'v', cu.is_verified) ORDER BY c.id DESC)
		FROM (SELECT c.* FROM post_comments c WHERE c.post_id = p.id
			AND NOT EXISTS (SELECT 1 FROM comment_hidden ch WHERE ch.comment_id = c.id) ORDER BY c.id DESC LIMIT 20) c
		JOIN users cu ON cu.id = c.user_id) AS recent_comments`

// The liker sample is ordered by the primary key (post_id, user_id) so that it
// is always an index-only scan that stops at 100 entries, even on hot posts.
// The newest comments come from post_comments_post_idx (NULL when none).

// visible hides posts whose author and the viewer ($1) block each other,
// and posts hidden by moderation (removed, or the author is suspended).
// Each NOT EXISTS is one primary-key or blocks_blocked_idx probe.
const visible = `NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = $1 AND b.blocked_id = p.user_id)
	AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = p.user_id AND b.blocked_id = $1)
	AND ` + NotHidden

// NotHidden keeps posts p that moderation has not hidden (post_hidden,
// migration 03050): one primary-key probe of a small table.
const NotHidden = `NOT EXISTS (SELECT 1 FROM post_hidden h WHERE h.post_id = p.id)`

// Get returns one post visible to viewer.
func Get(ctx context.Context, q db.Querier, viewer, postID id.ID) (*postv1.Post, error) {
	posts, err := query(ctx, q, `SELECT `+columns+` FROM posts p JOIN users u ON u.id = p.user_id
		WHERE p.id = $2 AND `+visible, viewer, postID)
	if err != nil {
		return nil, err
	}
	if len(posts) == 0 {
		return nil, apperr.NotFound("Post not found")
	}
	return posts[0], nil
}

// Global lists everyone's posts (postType "" for all types) newest first.
// Plan: a backward walk of posts_pkey (or posts_type_id_idx), stopping after
// limit+1 visible rows.
func Global(ctx context.Context, q db.Querier, viewer id.ID, postType string, pg Page) ([]*postv1.Post, string, error) {
	var sb strings.Builder
	args := []any{viewer}
	sb.WriteString(`SELECT p.id FROM posts p WHERE ` + visible)
	if postType != "" {
		args = append(args, postType)
		sb.WriteString(` AND p.type = $` + strconv.Itoa(len(args)))
	}
	return pageQuery(ctx, q, &sb, args, pg)
}

// ByUser lists one author's posts newest first (posts_user_id_idx).
func ByUser(ctx context.Context, q db.Querier, viewer, author id.ID, pg Page) ([]*postv1.Post, string, error) {
	var sb strings.Builder
	sb.WriteString(`SELECT p.id FROM posts p WHERE p.user_id = $2 AND ` + visible)
	return pageQuery(ctx, q, &sb, []any{viewer, author}, pg)
}

// homeWindow is how many of the newest posts the fast path of Home scans.
const homeWindow = 1000

// Home lists the posts of the users viewer follows and viewer's own, newest
// first, skipping authors blocked in either direction. Blocked followees are
// removed before the top-N cut, so pages are never under-filled.
//
// One statement, two plans, chosen inside the query:
//   - fast path: walk posts_pkey backwards over at most homeWindow recent
//     posts, keeping those whose author is in the hashed followee set, and
//     stop at the page size. Users who follow many people fill a page here
//     after a few hundred rows.
//   - slow path, run only when the fast path found less than a page (its
//     one-time filter is false otherwise, so the planner never executes
//     it): per followee a LATERAL top-N probe of posts_user_id_idx, merged
//     and cut. Cost grows with followees × page size, never with the total
//     number of posts.
//
// The limits are integer literals, not parameters: with only the viewer
// (and the cursor) as parameters, PostgreSQL switches each connection's
// prepared statement to one cached generic plan after a few executions
// instead of re-planning this many-node statement (≈ 1 ms) on every call.
//
// EXPLAIN plans are in BENCHMARKS.md.
func Home(ctx context.Context, q db.Querier, viewer id.ID, pg Page) ([]*postv1.Post, string, error) {
	n := strconv.Itoa(pg.Limit + 1 + pg.Offset)
	args := []any{viewer}
	cur := ""
	if !pg.After.IsZero() {
		args = append(args, pg.After)
		cur = ` AND x.id < $2`
	}
	sql := `WITH fol AS MATERIALIZED (
			SELECT f.followee_id AS uid FROM follows f WHERE f.follower_id = $1
			  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = $1 AND b.blocked_id = f.followee_id)
			  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = f.followee_id AND b.blocked_id = $1)
			UNION ALL SELECT $1::object_id
		), fast AS MATERIALIZED (
			SELECT r.id FROM (
				SELECT x.id, x.user_id FROM posts x WHERE true` + cur + ` ORDER BY x.id DESC LIMIT ` + strconv.Itoa(homeWindow) + `
			) r
			-- The OR keeps the set a hashed subplan filter, so the scan stops at n rows.
			WHERE (r.user_id = $1 OR r.user_id IN (SELECT uid FROM fol))
			  AND NOT EXISTS (SELECT 1 FROM post_hidden h WHERE h.post_id = r.id)
			ORDER BY r.id DESC LIMIT ` + n + `
		), top AS (
			SELECT id FROM fast WHERE (SELECT count(*) FROM fast) >= ` + n + `
			UNION ALL
			(SELECT c.id FROM fol a CROSS JOIN LATERAL (
				SELECT x.id FROM posts x WHERE x.user_id = a.uid` + cur + `
				  AND NOT EXISTS (SELECT 1 FROM post_hidden h WHERE h.post_id = x.id) ORDER BY x.id DESC LIMIT ` + n + `
			) c
			WHERE (SELECT count(*) FROM fast) < ` + n + `
			ORDER BY c.id DESC LIMIT ` + n + `)
		)
		SELECT ` + columns + ` FROM top JOIN posts p ON p.id = top.id JOIN users u ON u.id = p.user_id
		ORDER BY p.id DESC`
	posts, err := query(ctx, q, sql, args...)
	if err != nil {
		return nil, "", err
	}
	if pg.Offset > 0 {
		if pg.Offset >= len(posts) {
			posts = nil
		} else {
			posts = posts[pg.Offset:]
		}
	}
	return cut(posts, pg.Limit)
}

// pageQuery finishes a `SELECT p.id FROM posts p WHERE …` in sb with the
// cursor, order and limit, then renders only the page's rows: skipped
// offset rows never touch users or post_likes.
func pageQuery(ctx context.Context, q db.Querier, sb *strings.Builder, args []any, pg Page) ([]*postv1.Post, string, error) {
	if !pg.After.IsZero() {
		args = append(args, pg.After)
		sb.WriteString(` AND p.id < $` + strconv.Itoa(len(args)))
	}
	args = append(args, pg.Limit+1)
	sb.WriteString(` ORDER BY p.id DESC LIMIT $` + strconv.Itoa(len(args)))
	if pg.Offset > 0 {
		args = append(args, pg.Offset)
		sb.WriteString(` OFFSET $` + strconv.Itoa(len(args)))
	}
	sql := `SELECT ` + columns + ` FROM (` + sb.String() + `) page
		JOIN posts p ON p.id = page.id JOIN users u ON u.id = p.user_id ORDER BY p.id DESC`
	posts, err := query(ctx, q, sql, args...)
	if err != nil {
		return nil, "", err
	}
	return cut(posts, pg.Limit)
}

// cut trims a limit+1 result to limit and makes the next cursor.
func cut(posts []*postv1.Post, limit int) ([]*postv1.Post, string, error) {
	if len(posts) <= limit {
		return posts, "", nil
	}
	posts = posts[:limit]
	last, _ := id.Parse(posts[limit-1].Id)
	return posts, EncodeCursor(last), nil
}

func query(ctx context.Context, q db.Querier, sql string, args ...any) ([]*postv1.Post, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	defer rows.Close()
	var out []*postv1.Post
	for rows.Next() {
		p, err := scan(rows)
		if err != nil {
			return nil, apperr.Internal(err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Internal(err)
	}
	return out, nil
}

// Columns selects one rendered post from posts p joined with users u; $1
// is the viewer. Scan the row with ScanPost.
const Columns = columns

// ScanPost scans a row selected with Columns; extra destinations follow the
// post's columns.
func ScanPost(row pgx.Row, extra ...any) (*postv1.Post, error) { return scan(row, extra...) }

func scan(row pgx.Row, extra ...any) (*postv1.Post, error) {
	var (
		p                       postv1.Post
		a                       commonv1.UserSummary
		typ, mediaType          string
		likes, comments, shares int32
		views                   int64
		created                 time.Time
		likers                  []string
		recent                  []byte
	)
	dest := append([]any{&p.Id, &typ, &p.Content, &p.MediaUrl, &mediaType, &p.ThumbnailUrl,
		&likes, &comments, &views, &shares, &created,
		&a.Id, &a.Name, &a.ProfilePicture, &a.IsVerified, &p.IsLiked, &likers, &recent}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	p.Type = PostType(typ)
	p.MediaType = MediaType(mediaType)
	p.LikesCount, p.CommentsCount, p.ViewsCount, p.SharesCount = likes, comments, views, shares
	p.CreatedAt = timestamppb.New(created)
	p.Author = &a
	p.LikerIds = likers
	if len(recent) > 0 {
		var err error
		if p.RecentComments, err = decodeComments(p.Id, recent); err != nil {
			return nil, err
		}
	}
	return &p, nil
}

// recentComment is one element of the recent_comments JSON column.
type recentComment struct {
	ID   string    `json:"id"`
	Text string    `json:"text"`
	At   time.Time `json:"at"`
	UID  string    `json:"uid"`
	Name string    `json:"name"`
	Pic  string    `json:"pic"`
	V    bool      `json:"v"`
}

func decodeComments(postID string, raw []byte) ([]*postv1.Comment, error) {
	var rcs []recentComment
	if err := json.Unmarshal(raw, &rcs); err != nil {
		return nil, err
	}
	out := make([]*postv1.Comment, len(rcs))
	for i, c := range rcs {
		out[i] = &postv1.Comment{
			Id: c.ID, PostId: postID, Text: c.Text, CreatedAt: timestamppb.New(c.At),
			Author: &commonv1.UserSummary{Id: c.UID, Name: c.Name, ProfilePicture: c.Pic, IsVerified: c.V},
		}
	}
	return out, nil
}

// PostType maps the stored type to the enum.
func PostType(s string) postv1.PostType {
	if s == "reel" {
		return postv1.PostType_POST_TYPE_REEL
	}
	return postv1.PostType_POST_TYPE_POST
}

// PostTypeName maps the enum to the stored type (unspecified is a post).
func PostTypeName(t postv1.PostType) string {
	if t == postv1.PostType_POST_TYPE_REEL {
		return "reel"
	}
	return "post"
}

// MediaType maps the stored media type to the enum.
func MediaType(s string) postv1.MediaType {
	switch s {
	case "image":
		return postv1.MediaType_MEDIA_TYPE_IMAGE
	case "video":
		return postv1.MediaType_MEDIA_TYPE_VIDEO
	}
	return postv1.MediaType_MEDIA_TYPE_UNSPECIFIED
}

// MediaTypeName maps the enum to the stored media type ("" when unspecified).
func MediaTypeName(t postv1.MediaType) string {
	switch t {
	case postv1.MediaType_MEDIA_TYPE_IMAGE:
		return "image"
	case postv1.MediaType_MEDIA_TYPE_VIDEO:
		return "video"
	}
	return ""
}
