package post

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/logx"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/backend/post/posttest"
	"github.com/infliq/infliq/backend/post/view"
)

// likeCounts returns a post's like count as every read computes it and the
// number of its like rows.
func likeCounts(tb testing.TB, pool *pgxpool.Pool, postID id.ID) (count, rows int) {
	tb.Helper()
	err := pool.QueryRow(context.Background(), `SELECT `+view.LikesCount+`,
		(SELECT count(*) FROM post_likes WHERE post_id = $1) FROM posts p WHERE p.id = $1`, postID).Scan(&count, &rows)
	if err != nil {
		tb.Fatal(err)
	}
	return count, rows
}

// likeFunc applies one like operation: setLike alone, or through a liker.
type likeFunc func(ctx context.Context, pool *pgxpool.Pool, me, postID id.ID, op likeOp) (likeResult, error)

func batched(l *liker) likeFunc {
	return func(ctx context.Context, _ *pgxpool.Pool, me, postID id.ID, op likeOp) (likeResult, error) {
		return l.do(ctx, me, postID, op)
	}
}

// Likes, unlikes and toggles racing on one post keep the sharded count equal
// to the like rows, each caller's own state is what it asked for, and a post
// never has more than likeShards counter rows; applied alone or in group
// commits.
func TestShardedLikeCountIsExact(t *testing.T) {
	t.Run("alone", func(t *testing.T) { testLikeCountIsExact(t, pgtest.New(t), setLike) })
	t.Run("batched", func(t *testing.T) {
		pool := pgtest.New(t)
		testLikeCountIsExact(t, pool, batched(newLiker(pool, nil, logx.Discard(), likeCommitters)))
	})
}

func testLikeCountIsExact(t *testing.T, pool *pgxpool.Pool, setLike likeFunc) {
	ctx := context.Background()
	owner := posttest.User(t, pool, "owner")
	hot := posttest.Post(t, pool, owner, "post", "hot")
	// An imported base count with its rows, as the importer writes them.
	const base = 3
	for i := range base {
		u := posttest.User(t, pool, fmt.Sprint("imported", i))
		if _, err := pool.Exec(ctx, `INSERT INTO post_likes (post_id, user_id) VALUES ($1, $2)`, hot, u); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `UPDATE posts SET likes_count = $2 WHERE id = $1`, hot, base); err != nil {
		t.Fatal(err)
	}
	users := make([]id.ID, 32)
	for i := range users {
		users[i] = posttest.User(t, pool, fmt.Sprint("u", i))
	}
	ops := []likeOp{likeOn, likeOff, likeToggle}
	var wg sync.WaitGroup
	errs := make(chan error, len(users))
	for i, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			for range 40 {
				op := ops[rng.IntN(len(ops))]
				r, err := setLike(ctx, pool, u, hot, op)
				if err != nil {
					errs <- err
					return
				}
				// Only this goroutine changes u's like: its state is what it asked for.
				if (op == likeOn && !r.liked) || (op == likeOff && r.liked) || r.post.IsLiked != r.liked {
					errs <- fmt.Errorf("%s: liked=%v isLiked=%v", op, r.liked, r.post.IsLiked)
					return
				}
				if r.liked && (r.post.LikesCount < 1 || r.post.LikerIds[0] != u.String()) {
					errs <- fmt.Errorf("%s: count %d, likers %v", op, r.post.LikesCount, r.post.LikerIds[:1])
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	count, rows := likeCounts(t, pool, hot)
	if count != rows || rows < base {
		t.Fatalf("count %d, like rows %d", count, rows)
	}
	var shards int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM post_like_counts WHERE post_id = $1`, hot).Scan(&shards); err != nil {
		t.Fatal(err)
	}
	if shards < 1 || shards > likeShards {
		t.Fatalf("%d counter rows", shards)
	}
	// With nothing racing, the count a like returns is the stored count.
	fresh := posttest.User(t, pool, "fresh")
	r, err := setLike(ctx, pool, fresh, hot, likeOn)
	if err != nil {
		t.Fatal(err)
	}
	if count, _ := likeCounts(t, pool, hot); int(r.post.LikesCount) != count || count != rows+1 {
		t.Fatalf("like returned %d, stored %d, want %d", r.post.LikesCount, count, rows+1)
	}
	// Deleting the post removes its counter rows.
	if err := deletePost(ctx, pool, owner, hot); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM post_like_counts WHERE post_id = $1`, hot).Scan(&shards); err != nil || shards != 0 {
		t.Fatalf("%d counter rows left (%v)", shards, err)
	}
}
