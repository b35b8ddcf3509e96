//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/post/view"
)

// The post scenarios share one seeded data set: 10k users, 200k posts
// (20% reels) spread over 30 days, 1M follows (users 0–99 follow 500 each,
// the rest ~100), loaded with COPY.
const (
	seedUsers       = 10_000
	seedPosts       = 200_000
	seedHeavy       = 100 // users following 500
	seedHeavyFollow = 500
	seedFollow      = 100
)

type postSeed struct {
	users []id.ID
	hot   id.ID
}

var (
	seedOnce sync.Once
	seed     *postSeed
	seedErr  error
)

// seedID makes a deterministic ObjectId-shaped id at time t.
func seedID(t time.Time, kind byte, n uint64) id.ID {
	var b id.ID
	binary.BigEndian.PutUint32(b[0:4], uint32(t.Unix()))
	binary.BigEndian.PutUint64(b[4:12], uint64(kind)<<56|n)
	return b
}

// copyLines streams lines produced by gen into COPY … FROM STDIN (text format).
func copyLines(ctx context.Context, pool *pgxpool.Pool, sql string, gen func(w *bufio.Writer)) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 1<<16)
		gen(bw)
		_ = bw.Flush()
		_ = pw.Close()
	}()
	_, err = conn.Conn().PgConn().CopyFrom(ctx, pr, sql)
	_ = pr.Close()
	return err
}

func seedPostData(ctx context.Context, env *Env) (*postSeed, error) {
	seedOnce.Do(func() {
		start := time.Now()
		s := &postSeed{users: make([]id.ID, seedUsers)}
		base := time.Now().Add(-30 * 24 * time.Hour)
		for i := range s.users {
			s.users[i] = seedID(base, 1, uint64(i))
		}
		if seedErr = copyLines(ctx, env.DB, "COPY users (id, name, profile_picture, is_verified) FROM STDIN", func(w *bufio.Writer) {
			for i, u := range s.users {
				fmt.Fprintf(w, "%s\tuser %d\thttps://cdn.example.com/u/%d.jpg\t%t\n", u, i, i, i%10 == 0)
			}
		}); seedErr != nil {
			return
		}
		if seedErr = copyLines(ctx, env.DB, "COPY follows (follower_id, followee_id) FROM STDIN", func(w *bufio.Writer) {
			for u := range seedUsers {
				n := seedFollow
				if u < seedHeavy {
					n = seedHeavyFollow
				}
				// 97 is coprime with 10,000, so the followees are distinct.
				for k := 1; k <= n; k++ {
					f := (u + 97*k + 1) % seedUsers
					if f != u {
						fmt.Fprintf(w, "%s\t%s\n", s.users[u], s.users[f])
					}
				}
			}
		}); seedErr != nil {
			return
		}
		step := 30 * 24 * time.Hour / seedPosts
		if seedErr = copyLines(ctx, env.DB, "COPY posts (id, user_id, type, content, media_url, media_type, created_at) FROM STDIN", func(w *bufio.Writer) {
			var buf [24]byte
			for i := range seedPosts {
				at := base.Add(time.Duration(i) * step)
				pid := seedID(at, 2, uint64(i))
				hex.Encode(buf[:], pid[:])
				typ, media := "post", "image"
				if i%5 == 0 {
					typ, media = "reel", "video"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\tpost number %d\thttps://cdn.example.com/p/%d.jpg\t%s\t%s\n",
					buf[:], s.users[(i*7919)%seedUsers], typ, i, i, media, at.UTC().Format(time.RFC3339))
			}
		}); seedErr != nil {
			return
		}
		s.hot = seedID(base.Add(30*24*time.Hour), 2, seedPosts)
		if _, seedErr = env.DB.Exec(ctx, `INSERT INTO posts (id, user_id, content) VALUES ($1, $2, 'hot post')`, s.hot, s.users[0]); seedErr != nil {
			return
		}
		// Freshly loaded tables have no visibility map yet; production's
		// autovacuum would have set it, so do what it does.
		for _, t := range []string{"users", "follows", "posts", "blocks", "post_likes"} {
			if _, seedErr = env.DB.Exec(ctx, "VACUUM ANALYZE "+t); seedErr != nil {
				return
			}
		}
		fmt.Printf("post seed: %d users, %d posts, follows loaded in %s\n", seedUsers, seedPosts, time.Since(start).Round(time.Millisecond))
		seed = s
	})
	return seed, seedErr
}

// hotLikers is how many users already like the hot post when the like
// scenario starts.
const hotLikers = 2000

// preLike makes the hot post hot: hotLikers like rows with the matching
// base count (as the importer writes them), then ANALYZE, as autovacuum
// does after that many inserts. Without it the planner still believes
// post_likes is the empty table the seed analyzed, and renders the liker
// sample with a bitmap scan and a sort of every like of the post instead of
// reading the first 100 from the primary key.
func preLike(ctx context.Context, env *Env, s *postSeed) error {
	likers := make([]string, hotLikers)
	for i, u := range s.users[len(s.users)-hotLikers:] {
		likers[i] = u.String()
	}
	if _, err := env.DB.Exec(ctx, `WITH l AS (
			INSERT INTO post_likes (post_id, user_id) SELECT $1, u FROM unnest($2::text[]) u RETURNING 1
		) UPDATE posts SET likes_count = likes_count + (SELECT count(*) FROM l) WHERE id = $1`, s.hot, likers); err != nil {
		return err
	}
	_, err := env.DB.Exec(ctx, `ANALYZE post_likes`)
	return err
}

// tokens mints one token per user (they are reused across requests).
func tokens(env *Env, users []id.ID) []string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = env.Token(u)
	}
	return out
}

func init() {
	register(Scenario{
		Name:        "posts.global-feed",
		Description: "GET /api/posts/feed?page=1&limit=10 (legacy, 200k posts, authors populated, block filter)",
		Connections: 64,
		Prepare: func(ctx context.Context, env *Env) (func(uint64) Request, error) {
			s, err := seedPostData(ctx, env)
			if err != nil {
				return nil, err
			}
			toks := tokens(env, s.users[:512])
			return func(i uint64) Request {
				return Request{Method: "GET", Path: "/api/posts/feed?page=1&limit=10", Header: jsonHeader(toks[i%uint64(len(toks))])}
			}, nil
		},
	})
	register(Scenario{
		Name:        "posts.home-feed",
		Description: "FeedService.HomeFeed (Connect JSON, limit 10, gzip accepted) for users following 500",
		Connections: 64,
		Prepare: func(ctx context.Context, env *Env) (func(uint64) Request, error) {
			s, err := seedPostData(ctx, env)
			if err != nil {
				return nil, err
			}
			toks := tokens(env, s.users[:seedHeavy])
			body := []byte(`{"page":{"limit":10}}`)
			return func(i uint64) Request {
				h := jsonHeader(toks[i%uint64(len(toks))])
				// The app's fetch (React Native) always asks for gzip; the feed tier honours it.
				h.Set("Accept-Encoding", "gzip")
				return Request{Method: "POST", Path: "/infliq.feed.v1.FeedService/HomeFeed", Header: h, Body: body}
			}, nil
		},
	})
	register(Scenario{
		Name:        "posts.like-toggle-hot",
		Description: "POST /api/posts/:id/like (toggle) on one hot post (2,000 likes) from 64 connections; verifies the like count = like rows",
		Connections: 64,
		Prepare: func(ctx context.Context, env *Env) (func(uint64) Request, error) {
			s, err := seedPostData(ctx, env)
			if err != nil {
				return nil, err
			}
			if err := preLike(ctx, env, s); err != nil {
				return nil, err
			}
			toks := tokens(env, s.users)
			path := "/api/posts/" + s.hot.String() + "/like"
			return func(i uint64) Request {
				return Request{Method: "POST", Path: path, Header: jsonHeader(toks[i%uint64(len(toks))])}
			}, nil
		},
		Verify: func(ctx context.Context, env *Env) error {
			if seed == nil {
				return fmt.Errorf("not seeded")
			}
			// The count every read renders (base + sharded deltas) against the rows.
			var counter, rows int
			if err := env.DB.QueryRow(ctx, `SELECT `+view.LikesCount+`, (SELECT count(*) FROM post_likes WHERE post_id = $1) FROM posts p WHERE p.id = $1`, seed.hot).Scan(&counter, &rows); err != nil {
				return err
			}
			if counter != rows {
				return fmt.Errorf("hot post like count %d != %d like rows", counter, rows)
			}
			fmt.Printf("posts.like-toggle-hot: like count = like rows = %d (exact)\n", rows)
			return nil
		},
	})
}
