package post

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/backend/post/posttest"
)

// BenchmarkToggleLikeHotPost measures the like statement on one post from
// parallel users (the store call, without the RPC layer).
func BenchmarkToggleLikeHotPost(b *testing.B) {
	pool := pgtest.New(b)
	owner := posttest.User(b, pool, "owner")
	hot := posttest.Post(b, pool, owner, "post", "hot")
	users := make([]id.ID, 64)
	for i := range users {
		users[i] = posttest.User(b, pool, fmt.Sprint("u", i))
	}
	ctx := context.Background()
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(7))
		for pb.Next() {
			if _, err := setLike(ctx, pool, users[i%len(users)], hot, likeToggle); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.StopTimer()
	if counter, rows := likeCounts(b, pool, hot); counter != rows {
		b.Fatalf("like count %d != rows %d", counter, rows)
	}
}
