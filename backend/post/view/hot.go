package view

import (
	"context"
	"strconv"
	"sync"
	"time"

	postv1 "github.com/infliq/infliq/backend/gen/infliq/post/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/db"
	"github.com/infliq/infliq/backend/platform/id"
)

// HotSize is how many of the newest posts (per type filter) HotFeed keeps.
const HotSize = 120

// HotFeed serves the first pages of the global and reels feeds, which every
// user opens, from a shared snapshot of the newest HotSize posts refreshed
// at most every TTL. Per request it runs one small query for the viewer's
// block set and likes among the candidates, so block filters and isLiked are
// always exact, and the viewer's own new posts show at once; others' new
// posts and counters may lag by up to TTL. Requests with a
// cursor, deep offsets, or too many blocked authors fall back to Global.
type HotFeed struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]*hotEntry
}

type hotEntry struct {
	mu    sync.Mutex // held while refreshing
	at    time.Time
	posts []*postv1.Post
}

// NewHotFeed returns a cache whose snapshots live ttl.
func NewHotFeed(ttl time.Duration) *HotFeed { return &HotFeed{ttl: ttl, m: map[string]*hotEntry{}} }

// Global is Global served from the snapshot when possible.
func (h *HotFeed) Global(ctx context.Context, q db.Querier, viewer id.ID, postType string, pg Page) ([]*postv1.Post, string, error) {
	need := pg.Offset + pg.Limit + 1
	if h == nil || !pg.After.IsZero() || need > HotSize/2 {
		return Global(ctx, q, viewer, postType, pg)
	}
	snap, err := h.snapshot(ctx, q, postType)
	if err != nil {
		return nil, "", err
	}
	var (
		blocked, liked []string
		ownNewer       bool
		newest         string
	)
	ids := make([]string, len(snap))
	for i, p := range snap {
		ids[i] = p.Id
	}
	if len(ids) > 0 {
		newest = ids[0]
	}
	// The viewer's own post newer than the snapshot (posted a moment ago)
	// must show at once, so it sends the request to the database path.
	if err := q.QueryRow(ctx, `SELECT
			ARRAY(SELECT blocked_id::text FROM blocks WHERE blocker_id = $1
			      UNION ALL SELECT blocker_id::text FROM blocks WHERE blocked_id = $1),
			ARRAY(SELECT post_id::text FROM post_likes WHERE user_id = $1 AND post_id = ANY($2::text[])),
			EXISTS (SELECT 1 FROM posts WHERE user_id = $1 AND id > $3)`,
		viewer, ids, newest).Scan(&blocked, &liked, &ownNewer); err != nil {
		return nil, "", apperr.Internal(err)
	}
	if ownNewer {
		return Global(ctx, q, viewer, postType, pg)
	}
	out := make([]*postv1.Post, 0, need)
	for _, p := range snap {
		if contains(blocked, p.Author.GetId()) {
			continue
		}
		out = append(out, withLike(p, contains(liked, p.Id)))
		if len(out) == need {
			break
		}
	}
	if len(out) < need && len(snap) == HotSize {
		// Blocked authors thinned the snapshot below a page: ask the database.
		return Global(ctx, q, viewer, postType, pg)
	}
	if pg.Offset >= len(out) {
		return nil, "", nil
	}
	return cut(out[pg.Offset:], pg.Limit)
}

func (h *HotFeed) snapshot(ctx context.Context, q db.Querier, postType string) ([]*postv1.Post, error) {
	h.mu.Lock()
	e := h.m[postType]
	if e == nil {
		e = &hotEntry{}
		h.m[postType] = e
	}
	h.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.posts != nil && time.Since(e.at) < h.ttl {
		return e.posts, nil
	}
	sql := `SELECT ` + columns + ` FROM posts p JOIN users u ON u.id = p.user_id`
	args := []any{id.Nil} // no viewer: is_liked is filled per request
	if postType != "" {
		sql += ` WHERE p.type = $2`
		args = append(args, postType)
	}
	sql += ` ORDER BY p.id DESC LIMIT ` + strconv.Itoa(HotSize)
	posts, err := query(ctx, q, sql, args...)
	if err != nil {
		if e.posts != nil {
			return e.posts, nil // serve the stale snapshot rather than fail
		}
		return nil, err
	}
	if posts == nil {
		posts = []*postv1.Post{}
	}
	e.posts, e.at = posts, time.Now()
	return posts, nil
}

// withLike copies p (shared, read-only) with the viewer's is_liked.
func withLike(p *postv1.Post, liked bool) *postv1.Post {
	return &postv1.Post{
		Id: p.Id, Author: p.Author, Type: p.Type, Content: p.Content, MediaUrl: p.MediaUrl, MediaType: p.MediaType,
		ThumbnailUrl: p.ThumbnailUrl, LikesCount: p.LikesCount, CommentsCount: p.CommentsCount, ViewsCount: p.ViewsCount,
		SharesCount: p.SharesCount, IsLiked: liked, LikerIds: p.LikerIds, CreatedAt: p.CreatedAt,
		RecentComments: p.RecentComments,
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
