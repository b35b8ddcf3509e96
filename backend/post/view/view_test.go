package view

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/backend/post/posttest"
)

// seedPosts inserts n posts by random authors, oldest first, in one statement.
func seedPosts(tb testing.TB, pool *pgxpool.Pool, authors []id.ID, n int, rng *rand.Rand) {
	tb.Helper()
	ids := make([]string, n)
	users := make([]string, n)
	types := make([]string, n)
	start := time.Now().Add(-time.Duration(n) * time.Second)
	for i := range n {
		ids[i] = id.NewAt(start.Add(time.Duration(i) * time.Second)).String()
		users[i] = authors[rng.IntN(len(authors))].String()
		types[i] = "post"
		if i%5 == 0 {
			types[i] = "reel"
		}
	}
	if _, err := pool.Exec(context.Background(), `INSERT INTO posts (id, user_id, type, content)
		SELECT i, u, t, 'seeded' FROM unnest($1::text[], $2::text[], $3::text[]) AS s(i, u, t)`, ids, users, types); err != nil {
		tb.Fatal(err)
	}
	if _, err := pool.Exec(context.Background(), `ANALYZE posts`); err != nil {
		tb.Fatal(err)
	}
}

// naiveHome is the obviously-correct home feed.
func naiveHome(t *testing.T, pool *pgxpool.Pool, me id.ID) []string {
	rows, err := pool.Query(context.Background(), `SELECT p.id FROM posts p
		WHERE (p.user_id = $1 OR p.user_id IN (SELECT followee_id FROM follows WHERE follower_id = $1))
		  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.blocker_id = $1 AND b.blocked_id = p.user_id) OR (b.blocker_id = p.user_id AND b.blocked_id = $1))
		ORDER BY p.id DESC`, me)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		out = append(out, s)
	}
	return out
}

// Both plans of Home (the recent-window fast path and the per-followee
// slow path) return exactly the naive result, page by page.
func TestHomeMatchesNaiveQuery(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	authors := make([]id.ID, 40)
	for i := range authors {
		authors[i] = posttest.User(t, pool, "author")
	}
	heavy := posttest.User(t, pool, "heavy") // follows 8 of 40: fast path fills early pages
	light := posttest.User(t, pool, "light") // follows 1: slow path
	for _, a := range authors[:8] {
		posttest.Follow(t, pool, heavy, a)
	}
	posttest.Follow(t, pool, light, authors[39])
	posttest.Follow(t, pool, heavy, authors[39])
	posttest.Block(t, pool, authors[0], heavy) // a followee blocking heavy
	seedPosts(t, pool, append(authors, heavy), 2500, rng)

	for _, me := range []id.ID{heavy, light} {
		want := naiveHome(t, pool, me)
		for _, limit := range []int{1, 7, 50} {
			var got []string
			pg := Page{Limit: limit}
			for {
				posts, next, err := Home(ctx, pool, me, pg)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range posts {
					got = append(got, p.Id)
				}
				if next == "" {
					break
				}
				if pg.After, err = DecodeCursor(next); err != nil {
					t.Fatal(err)
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("limit %d: got %d posts, want %d", limit, len(got), len(want))
			}
		}
		// Legacy offsets agree with the naive list too.
		posts, _, err := Home(ctx, pool, me, Page{Limit: 10, Offset: 30})
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range posts {
			if p.Id != want[30+i] {
				t.Fatalf("offset page differs at %d", i)
			}
		}
	}
}

// benchDB seeds 2,000 users, 40,000 posts and a viewer following 500.
func benchDB(b *testing.B) (*pgxpool.Pool, id.ID) {
	pool := pgtest.New(b)
	rng := rand.New(rand.NewPCG(3, 4))
	users := make([]id.ID, 2000)
	ids := make([]string, len(users))
	for i := range users {
		users[i] = id.New()
		ids[i] = users[i].String()
	}
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO users (id, name) SELECT i, 'user' FROM unnest($1::text[]) AS s(i)`, ids); err != nil {
		b.Fatal(err)
	}
	me := users[0]
	if _, err := pool.Exec(ctx, `INSERT INTO follows (follower_id, followee_id) SELECT $1, i FROM unnest($2::text[]) AS s(i)`, me, ids[1:501]); err != nil {
		b.Fatal(err)
	}
	seedPosts(b, pool, users, 40000, rng)
	for _, t := range []string{"users", "follows", "posts"} {
		if _, err := pool.Exec(ctx, "VACUUM ANALYZE "+t); err != nil {
			b.Fatal(err)
		}
	}
	return pool, me
}

func BenchmarkFeedQueries(b *testing.B) {
	pool, me := benchDB(b)
	ctx := context.Background()
	b.Run("HomeFollowing500", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := Home(ctx, pool, me, Page{Limit: 10}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Global", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := Global(ctx, pool, me, "", Page{Limit: 10}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GlobalHotSnapshot", func(b *testing.B) {
		hot := NewHotFeed(time.Second, nil)
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := hot.Global(ctx, pool, me, "", Page{Limit: 10}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Reels", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := Global(ctx, pool, me, "reel", Page{Limit: 10}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GlobalOffset1000", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := Global(ctx, pool, me, "", Page{Limit: 10, Offset: 1000}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// The hot snapshot gives the same pages as the database path, with exact
// per-viewer block filtering and isLiked, and falls back when needed.
func TestHotFeedMatchesGlobal(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	authors := make([]id.ID, 10)
	for i := range authors {
		authors[i] = posttest.User(t, pool, "a")
	}
	me := posttest.User(t, pool, "me")
	seedPosts(t, pool, authors, 400, rng)
	posttest.Block(t, pool, me, authors[1])
	posttest.Block(t, pool, authors[2], me)
	hot := NewHotFeed(time.Hour, nil)
	compare := func(postType string, pg Page) {
		t.Helper()
		want, wantNext, err := Global(ctx, pool, me, postType, pg)
		if err != nil {
			t.Fatal(err)
		}
		got, gotNext, err := hot.Global(ctx, pool, me, postType, pg)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || gotNext != wantNext {
			t.Fatalf("%q %+v: got %d posts next %q, want %d next %q", postType, pg, len(got), gotNext, len(want), wantNext)
		}
		for i := range got {
			if got[i].Id != want[i].Id || got[i].IsLiked != want[i].IsLiked || got[i].Author.GetId() != want[i].Author.GetId() {
				t.Fatalf("%q %+v: post %d differs", postType, pg, i)
			}
		}
	}
	// Like a few of the newest posts as me.
	if _, err := pool.Exec(ctx, `INSERT INTO post_likes (post_id, user_id) SELECT id, $1 FROM posts ORDER BY id DESC LIMIT 5`, me); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"", "reel"} {
		for _, pg := range []Page{{Limit: 10}, {Limit: 10, Offset: 10}, {Limit: 50}, {Limit: 3, Offset: 40}, {Limit: 20, Offset: 55}} {
			compare(typ, pg)
		}
	}
	// isLiked is exact even when the snapshot is older than the like.
	newest, _, _ := Global(ctx, pool, me, "", Page{Limit: 10})
	if _, err := pool.Exec(ctx, `DELETE FROM post_likes WHERE user_id = $1 AND post_id = $2`, me, newest[0].Id); err != nil {
		t.Fatal(err)
	}
	compare("", Page{Limit: 10})
	// The viewer's own new post shows at once despite the hour-long TTL.
	mine := posttest.Post(t, pool, me, "post", "just now")
	if got, _, err := hot.Global(ctx, pool, me, "", Page{Limit: 10}); err != nil || got[0].Id != mine.String() {
		t.Fatalf("own new post missing: %v", err)
	}
	compare("", Page{Limit: 10})
	// A viewer blocking most authors forces the database fallback.
	for _, a := range authors[3:] {
		posttest.Block(t, pool, me, a)
	}
	compare("", Page{Limit: 50})
}

// The Home snapshot gives the database path's pages, with follows, blocks
// and isLiked exact per request, and falls back when the window is thin.
func TestHotFeedMatchesHome(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 8))
	authors := make([]id.ID, 20)
	for i := range authors {
		authors[i] = posttest.User(t, pool, "a")
	}
	me := posttest.User(t, pool, "me")
	light := posttest.User(t, pool, "light")
	for _, a := range authors[:8] {
		posttest.Follow(t, pool, me, a)
	}
	posttest.Follow(t, pool, light, authors[19])
	posttest.Block(t, pool, me, authors[1])
	posttest.Block(t, pool, authors[2], me)
	seedPosts(t, pool, append(authors, me), 1500, rng)
	if _, err := pool.Exec(ctx, `INSERT INTO post_likes (post_id, user_id) SELECT id, $1 FROM posts ORDER BY id DESC LIMIT 40`, me); err != nil {
		t.Fatal(err)
	}
	hot := NewHotFeed(time.Hour, nil)
	compare := func(viewer id.ID, pg Page) {
		t.Helper()
		want, wantNext, err := Home(ctx, pool, viewer, pg)
		if err != nil {
			t.Fatal(err)
		}
		got, gotNext, err := hot.Home(ctx, pool, viewer, pg)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || gotNext != wantNext {
			t.Fatalf("%+v: got %d posts next %q, want %d next %q", pg, len(got), gotNext, len(want), wantNext)
		}
		for i := range got {
			if got[i].Id != want[i].Id || got[i].IsLiked != want[i].IsLiked || got[i].LikesCount != want[i].LikesCount {
				t.Fatalf("%+v: post %d differs", pg, i)
			}
		}
	}
	pages := []Page{{Limit: 10}, {Limit: 10, Offset: 10}, {Limit: 50}, {Limit: 3, Offset: 40}, {Limit: 20, Offset: 79}}
	for _, pg := range pages {
		compare(me, pg)
		compare(light, pg) // one followee: the window is thin, database path
	}
	// Follows, blocks and likes changed after the snapshot apply at once.
	posttest.Follow(t, pool, me, authors[9])
	posttest.Block(t, pool, authors[3], me)
	if _, err := pool.Exec(ctx, `DELETE FROM post_likes WHERE user_id = $1 AND post_id IN (SELECT id FROM posts ORDER BY id DESC LIMIT 5)`, me); err != nil {
		t.Fatal(err)
	}
	for _, pg := range pages {
		compare(me, pg)
	}
	// The viewer's own new post shows at once despite the hour-long TTL.
	mine := posttest.Post(t, pool, me, "post", "just now")
	if got, _, err := hot.Home(ctx, pool, me, Page{Limit: 10}); err != nil || got[0].Id != mine.String() {
		t.Fatalf("own new post missing: %v", err)
	}
	compare(me, Page{Limit: 10})
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(EncodeCursor(id.New()))
	f.Add("")
	f.Add("!!!!")
	f.Add("AAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := DecodeCursor(s)
		if err != nil {
			return
		}
		// Every accepted cursor round-trips to the same id.
		again, err := DecodeCursor(EncodeCursor(got))
		if err != nil || again != got {
			t.Fatalf("round trip of %q", s)
		}
	})
}

// idSet holds exactly the ids of its list, duplicates and order aside.
func TestIDSet(t *testing.T) {
	ids := make([]string, 300)
	for i := range ids {
		ids[i] = id.New().String()
	}
	other := id.New().String()
	for _, list := range [][]string{nil, ids[:1], ids, append(slices.Clone(ids), ids[7], "")} {
		l := slices.Clone(list)
		rand.Shuffle(len(l), func(i, j int) { l[i], l[j] = l[j], l[i] })
		s := newIDSet(strings.Join(l, ","))
		for _, v := range l {
			if v != "" && !s.has(v) {
				t.Fatalf("%d ids: %s missing", len(l), v)
			}
		}
		if s.has(other) || s.has("") || s.has(other[:10]) {
			t.Fatalf("%d ids: has an id not listed", len(l))
		}
		s.release()
	}
}

// BenchmarkFollowees is Home's per-request followee check: 500 followees,
// the authors of 220 posts looked up (a page of 11 at 5% followed).
func BenchmarkFollowees(b *testing.B) {
	ids := make([]string, 500)
	for i := range ids {
		ids[i] = id.New().String()
	}
	slices.Sort(ids)
	list := strings.Join(ids, ",")
	authors := make([]string, 220)
	for i := range authors {
		authors[i] = id.New().String()
		if i%20 == 0 {
			authors[i] = ids[i]
		}
	}
	b.Run("idSet", func(b *testing.B) {
		for b.Loop() {
			s := newIDSet(list)
			for _, a := range authors {
				s.has(a)
			}
			s.release()
		}
	})
	b.Run("map", func(b *testing.B) {
		for b.Loop() {
			m := make(map[string]struct{}, len(ids))
			for f := range strings.SplitSeq(list, ",") {
				m[f] = struct{}{}
			}
			for _, a := range authors {
				_ = m[a]
			}
		}
	})
}
