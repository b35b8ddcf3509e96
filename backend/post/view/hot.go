package view

import (
	"context"
	"hash/maphash"
	"strconv"
	"strings"
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
//
// Home is served the same way from a snapshot of the newest homeWindow posts
// (the window Home's fast path scans): per request one query reads the
// viewer's followees, blocks, likes in the window and whether the viewer
// posted since, and the page is cut in Go. Follows and blocks are exact;
// followees' new posts and counters lag by up to TTL, as on the global feed.
//
// Snapshot posts are shared by concurrent requests and never written after
// loading: pages hold them, or copies with the viewer's like (withLike),
// and are only read on the way out (TestSnapshotPagesAreNotShared).
type HotFeed struct {
	ttl     time.Duration
	prepare func([]*postv1.Post)
	mu      sync.Mutex
	m       map[string]*hotEntry
}

type hotEntry struct {
	loading sync.Mutex // held by the caller loading the snapshot
	mu      sync.Mutex // guards at and posts
	at      time.Time
	posts   []*postv1.Post
}

// NewHotFeed returns a cache whose snapshots live ttl. prepare, if not nil,
// finishes every post list HotFeed reads from the database (snapshots and
// the fallback pages) before it is used, e.g. resolving media URLs once per
// snapshot instead of once per page; it must not keep the slice.
func NewHotFeed(ttl time.Duration, prepare func([]*postv1.Post)) *HotFeed {
	return &HotFeed{ttl: ttl, prepare: prepare, m: map[string]*hotEntry{}}
}

// fromDB finishes a page read by the database path.
func (h *HotFeed) fromDB(posts []*postv1.Post, next string, err error) ([]*postv1.Post, string, error) {
	if err == nil && h.prepare != nil {
		h.prepare(posts)
	}
	return posts, next, err
}

// Global is Global served from the snapshot when possible.
func (h *HotFeed) Global(ctx context.Context, q db.Querier, viewer id.ID, postType string, pg Page) ([]*postv1.Post, string, error) {
	need := pg.Offset + pg.Limit + 1
	if h == nil {
		return Global(ctx, q, viewer, postType, pg)
	}
	if !pg.After.IsZero() || need > HotSize/2 {
		return h.fromDB(Global(ctx, q, viewer, postType, pg))
	}
	snap, err := h.snapshot(ctx, q, postType, postType, HotSize)
	if err != nil {
		return nil, "", err
	}
	var (
		blocked, liked, hidden []string
		ownNewer               bool
		oldest, newest         string
	)
	if len(snap) > 0 {
		oldest, newest = snap[len(snap)-1].Id, snap[0].Id
	}
	// The viewer's likes between the snapshot's oldest and newest post (one
	// post_likes_user_idx range; likes of posts not in the snapshot are
	// ignored below) rather than sending its HotSize ids per request. The
	// viewer's own post newer than the snapshot (posted a moment ago) must
	// show at once, so it sends the request to the database path.
	if err := q.QueryRow(ctx, `SELECT
			ARRAY(SELECT blocked_id::text FROM blocks WHERE blocker_id = $1
			      UNION ALL SELECT blocker_id::text FROM blocks WHERE blocked_id = $1),
			ARRAY(SELECT post_id::text FROM post_likes WHERE user_id = $1 AND post_id >= $2 AND post_id <= $3),
			EXISTS (SELECT 1 FROM posts WHERE user_id = $1 AND id > $3),
			`+hiddenInWindow,
		viewer, oldest, newest).Scan(&blocked, &liked, &ownNewer, &hidden); err != nil {
		return nil, "", apperr.Internal(err)
	}
	if ownNewer {
		return h.fromDB(Global(ctx, q, viewer, postType, pg))
	}
	isLiked, isHidden := inSet(liked), inSet(hidden)
	out := make([]*postv1.Post, 0, need)
	for _, p := range snap {
		if contains(blocked, p.Author.GetId()) || isHidden(p.Id) {
			continue
		}
		out = append(out, withLike(p, isLiked(p.Id)))
		if len(out) == need {
			break
		}
	}
	if len(out) < need && len(snap) == HotSize {
		// Blocked authors thinned the snapshot below a page: ask the database.
		return h.fromDB(Global(ctx, q, viewer, postType, pg))
	}
	if pg.Offset >= len(out) {
		return nil, "", nil
	}
	return cut(out[pg.Offset:], pg.Limit)
}

// hiddenInWindow lists the posts moderation hid between the snapshot's
// oldest ($2) and newest ($3) post (a post_hidden primary-key range), so a
// removed post leaves the snapshot pages at once, not after the TTL.
const hiddenInWindow = `ARRAY(SELECT DISTINCT post_id::text FROM post_hidden WHERE post_id >= $2 AND post_id <= $3)`

// homeKey names the Home snapshot (the other keys are post types).
const homeKey = "home"

// homeSnapshotMax bounds the pages Home serves from its snapshot; deeper
// offsets go to the database.
const homeSnapshotMax = 100

// Home is Home served from the snapshot when possible.
func (h *HotFeed) Home(ctx context.Context, q db.Querier, viewer id.ID, pg Page) ([]*postv1.Post, string, error) {
	need := pg.Offset + pg.Limit + 1
	if h == nil {
		return Home(ctx, q, viewer, pg)
	}
	if !pg.After.IsZero() || need > homeSnapshotMax {
		return h.fromDB(Home(ctx, q, viewer, pg))
	}
	snap, err := h.snapshot(ctx, q, homeKey, "", homeWindow)
	if err != nil {
		return nil, "", err
	}
	if len(snap) == 0 {
		return h.fromDB(Home(ctx, q, viewer, pg))
	}
	var (
		followees              string
		blocked, liked, hidden []string
		ownNewer               bool
	)
	// One round trip: followees (follows_pkey; one comma-separated string,
	// not an array of hundreds of strings to decode), blocks both ways, the
	// viewer's likes within the window (post_likes_user_idx range) and
	// whether the viewer posted after the snapshot.
	if err := q.QueryRow(ctx, `SELECT
			COALESCE((SELECT string_agg(followee_id, ',') FROM follows WHERE follower_id = $1), ''),
			ARRAY(SELECT blocked_id::text FROM blocks WHERE blocker_id = $1
			      UNION ALL SELECT blocker_id::text FROM blocks WHERE blocked_id = $1),
			ARRAY(SELECT post_id::text FROM post_likes WHERE user_id = $1 AND post_id >= $2),
			EXISTS (SELECT 1 FROM posts WHERE user_id = $1 AND id > $3),
			`+hiddenInWindow,
		viewer, snap[len(snap)-1].Id, snap[0].Id).Scan(&followees, &blocked, &liked, &ownNewer, &hidden); err != nil {
		return nil, "", apperr.Internal(err)
	}
	if ownNewer {
		return h.fromDB(Home(ctx, q, viewer, pg))
	}
	follows := newIDSet(followees)
	defer follows.release()
	isBlocked, isLiked, isHidden := inSet(blocked), inSet(liked), inSet(hidden)
	me := viewer.String()
	out := make([]*postv1.Post, 0, need)
	for _, p := range snap {
		if a := p.Author.GetId(); (a != me && (!follows.has(a) || isBlocked(a))) || isHidden(p.Id) {
			continue
		}
		out = append(out, withLike(p, isLiked(p.Id)))
		if len(out) == need {
			break
		}
	}
	if len(out) < need {
		// The window holds less than a page: Home's per-followee path.
		return h.fromDB(Home(ctx, q, viewer, pg))
	}
	return cut(out[pg.Offset:], pg.Limit)
}

// snapshot returns the newest size posts (of postType, "" for all) under
// key, refreshed at most every TTL. While one caller refreshes an expired
// snapshot the others keep serving it, so a refresh never stalls them.
func (h *HotFeed) snapshot(ctx context.Context, q db.Querier, key, postType string, size int) ([]*postv1.Post, error) {
	h.mu.Lock()
	e := h.m[key]
	if e == nil {
		e = &hotEntry{}
		h.m[key] = e
	}
	h.mu.Unlock()
	posts, fresh := e.get(h.ttl)
	if fresh {
		return posts, nil
	}
	if posts == nil {
		e.loading.Lock() // the first load: wait for it
	} else if !e.loading.TryLock() {
		return posts, nil // another caller is refreshing
	}
	defer e.loading.Unlock()
	if posts, fresh = e.get(h.ttl); fresh {
		return posts, nil // loaded while this caller waited
	}
	// Hidden posts stay in the snapshot: each request drops them
	// (hiddenInWindow), so a removal and a restore both show at once.
	sql := `SELECT ` + columns + ` FROM posts p JOIN users u ON u.id = p.user_id`
	args := []any{id.Nil} // no viewer: is_liked is filled per request
	if postType != "" {
		sql += ` WHERE p.type = $2`
		args = append(args, postType)
	}
	sql += ` ORDER BY p.id DESC LIMIT ` + strconv.Itoa(size)
	loaded, err := query(ctx, q, sql, args...)
	if err != nil {
		if posts != nil {
			return posts, nil // serve the stale snapshot rather than fail
		}
		return nil, err
	}
	if loaded == nil {
		loaded = []*postv1.Post{}
	}
	if h.prepare != nil {
		h.prepare(loaded)
	}
	e.mu.Lock()
	e.posts, e.at = loaded, time.Now()
	e.mu.Unlock()
	return loaded, nil
}

// get returns the snapshot and whether it is younger than ttl.
func (e *hotEntry) get(ttl time.Duration) ([]*postv1.Post, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.posts, e.posts != nil && time.Since(e.at) < ttl
}

// withLike is p (shared, read-only) with the viewer's is_liked: p itself
// when the viewer has not liked it (snapshots are loaded with no viewer,
// so is_liked is false), else a copy.
func withLike(p *postv1.Post, liked bool) *postv1.Post {
	if liked == p.IsLiked {
		return p
	}
	return &postv1.Post{
		Id: p.Id, Author: p.Author, Type: p.Type, Content: p.Content, MediaUrl: p.MediaUrl, MediaType: p.MediaType,
		ThumbnailUrl: p.ThumbnailUrl, LikesCount: p.LikesCount, CommentsCount: p.CommentsCount, ViewsCount: p.ViewsCount,
		SharesCount: p.SharesCount, IsLiked: liked, LikerIds: p.LikerIds, CreatedAt: p.CreatedAt,
		RecentComments: p.RecentComments,
	}
}

// idSet is the set of ids in a comma-separated list (Home's followees),
// looked up in place: an open-addressed table of seeded hashes and offsets
// into the list, pooled. Building or probing a Go map of ~500 string keys,
// or binary-searching the list, cost several times more per request.
type idSet struct {
	list  string
	slots []idSlot
	mask  uint64
	pool  *[]idSlot
}

type idSlot struct {
	h      uint64 // 0: empty
	off, n int32
}

var (
	idSeed   = maphash.MakeSeed()
	idSeed64 = maphash.Comparable(idSeed, 0)
	idSlots  = sync.Pool{New: func() any { return new([]idSlot) }}
)

func newIDSet(list string) idSet {
	size := 16
	for n := strings.Count(list, ",") + 1; size < 2*n; {
		size *= 2
	}
	sp := idSlots.Get().(*[]idSlot)
	if cap(*sp) < size {
		*sp = make([]idSlot, size)
	}
	s := idSet{list: list, slots: (*sp)[:size], mask: uint64(size - 1), pool: sp}
	clear(s.slots)
	for off := 0; off < len(list); {
		n := idLen // object ids: skip the search for the comma
		if off+n > len(list) || (off+n < len(list) && list[off+n] != ',') {
			if n = strings.IndexByte(list[off:], ','); n < 0 {
				n = len(list) - off
			}
		}
		if n > 0 {
			if i, h, found := s.find(list[off : off+n]); !found {
				s.slots[i] = idSlot{h: h, off: int32(off), n: int32(n)}
			}
		}
		off += n + 1
	}
	return s
}

// release returns the table to the pool (unless outsized); s is unusable
// afterwards.
func (s *idSet) release() {
	if cap(*s.pool) <= 1<<14 {
		idSlots.Put(s.pool)
	}
	s.slots, s.pool = nil, nil
}

const idLen = 24

// hashID is a seeded hash of an id, never 0. Object ids (24 hex
// characters) take three multiplies instead of maphash.
func hashID(v string) uint64 {
	if len(v) != idLen {
		return maphash.String(idSeed, v) | 1
	}
	h := idSeed64
	for i := 0; i < idLen; i += 8 {
		w := uint64(v[i]) | uint64(v[i+1])<<8 | uint64(v[i+2])<<16 | uint64(v[i+3])<<24 |
			uint64(v[i+4])<<32 | uint64(v[i+5])<<40 | uint64(v[i+6])<<48 | uint64(v[i+7])<<56
		h = (h ^ w) * 0x9e3779b97f4a7c15
		h ^= h >> 32
	}
	// murmur3's finalizer: the table indexes by the low bits.
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h | 1
}

// find returns v's slot and hash, or the empty slot where v would go.
func (s *idSet) find(v string) (uint64, uint64, bool) {
	h := hashID(v)
	for i := h & s.mask; ; i = (i + 1) & s.mask {
		sl := s.slots[i]
		if sl.h == 0 {
			return i, h, false
		}
		if sl.h == h && s.list[sl.off:sl.off+sl.n] == v {
			return i, h, true
		}
	}
}

func (s *idSet) has(v string) bool {
	_, _, found := s.find(v)
	return found
}

// inSet is membership in s: a scan for the usual few ids, a map for more.
func inSet(s []string) func(string) bool {
	if len(s) <= 16 {
		return func(v string) bool { return contains(s, v) }
	}
	m := make(map[string]struct{}, len(s))
	for _, v := range s {
		m[v] = struct{}{}
	}
	return func(v string) bool { _, ok := m[v]; return ok }
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
