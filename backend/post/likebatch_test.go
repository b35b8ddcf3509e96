package post

import (
	"context"
	"errors"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/logx"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/backend/post/posttest"
)

// queued is one operation a test queued on a liker without committers.
type queued struct {
	res  likeResult
	err  error
	done chan struct{}
}

// enqueue queues op and waits until it is in the queue, so operations are
// queued in the order of the calls.
func enqueue(t *testing.T, l *liker, me, postID id.ID, op likeOp) *queued {
	t.Helper()
	q := &queued{done: make(chan struct{})}
	n := len(l.reqs)
	go func() {
		defer close(q.done)
		q.res, q.err = l.do(context.Background(), me, postID, op)
	}()
	for len(l.reqs) == n {
		time.Sleep(time.Millisecond)
	}
	return q
}

func (q *queued) wait(t *testing.T) (likeResult, error) {
	t.Helper()
	select {
	case <-q.done:
		return q.res, q.err
	case <-time.After(10 * time.Second):
		t.Fatal("no answer")
		return likeResult{}, nil
	}
}

// One batch applies many operations; a user's second and third operation on
// a post wait for the batches after the first, so they apply in order; an
// operation on a missing or blocked post fails alone.
func TestLikeBatchOrderAndPerOperationErrors(t *testing.T) {
	pool := pgtest.New(t)
	l := newLiker(pool, nil, logx.Discard(), 0)
	owner := posttest.User(t, pool, "owner")
	hot := posttest.Post(t, pool, owner, "post", "hot")
	u, v, w := posttest.User(t, pool, "u"), posttest.User(t, pool, "v"), posttest.User(t, pool, "w")
	posttest.Block(t, pool, owner, w)

	u1 := enqueue(t, l, u, hot, likeToggle)
	v1 := enqueue(t, l, v, hot, likeOn)
	u2 := enqueue(t, l, u, hot, likeToggle)
	missing := enqueue(t, l, v, id.New(), likeOn)
	blocked := enqueue(t, l, w, hot, likeToggle)
	u3 := enqueue(t, l, u, hot, likeOff)
	v2 := enqueue(t, l, v, hot, likeOn)

	b := l.next()
	if len(b) != 4 || b[0].key.user != u || b[1].key.user != v || b[2].key.user != v || b[3].key.user != w {
		t.Fatalf("first batch: %d operations", len(b))
	}
	l.run(b)
	for _, q := range []*queued{missing, blocked} {
		if _, err := q.wait(t); !isNotFound(err) {
			t.Fatalf("missing or blocked post: %v", err)
		}
	}
	if r, err := u1.wait(t); err != nil || !r.liked || !r.changed || !r.post.IsLiked || r.post.LikerIds[0] != u.String() {
		t.Fatalf("u toggle: %+v %v", r, err)
	}
	if r, err := v1.wait(t); err != nil || !r.liked || !r.changed || r.post.LikesCount != 2 || r.owner != owner || r.actorName != "v" {
		t.Fatalf("v like: %+v %v", r, err)
	}
	// u's toggle and v's repeated like, then u's unlike.
	for i, want := range []int{2, 1} {
		b := l.next()
		if len(b) != want {
			t.Fatalf("batch %d: %d operations, want %d", i+2, len(b), want)
		}
		l.run(b)
	}
	if r, err := u2.wait(t); err != nil || r.liked || !r.changed || r.post.IsLiked || r.post.LikesCount != 1 {
		t.Fatalf("u second toggle: %+v %v", r, err)
	}
	if r, err := v2.wait(t); err != nil || !r.liked || r.changed {
		t.Fatalf("v repeated like: %+v %v", r, err)
	}
	if r, err := u3.wait(t); err != nil || r.liked || r.changed || len(r.post.LikerIds) != 1 || r.post.LikerIds[0] != v.String() {
		t.Fatalf("u unlike: %+v %v", r, err)
	}
	if count, rows := likeCounts(t, pool, hot); count != 1 || rows != 1 {
		t.Fatalf("count %d, rows %d", count, rows)
	}
}

// When the batch statement fails as a whole (a liker that does not exist
// fails the foreign key), every operation is applied alone: only the bad
// one fails.
func TestLikeBatchFailureFallsBackToSingleOperations(t *testing.T) {
	pool := pgtest.New(t)
	l := newLiker(pool, nil, logx.Discard(), 0)
	owner := posttest.User(t, pool, "owner")
	hot := posttest.Post(t, pool, owner, "post", "hot")
	u := posttest.User(t, pool, "u")
	good := enqueue(t, l, u, hot, likeToggle)
	ghost := enqueue(t, l, id.New(), hot, likeOn)
	b := l.next()
	if len(b) != 2 {
		t.Fatalf("batch of %d", len(b))
	}
	l.run(b)
	if r, err := good.wait(t); err != nil || !r.liked || !r.changed || r.post.LikesCount != 1 {
		t.Fatalf("good like: %+v %v", r, err)
	}
	if _, err := ghost.wait(t); err == nil {
		t.Fatal("like by a missing user succeeded")
	}
	if count, rows := likeCounts(t, pool, hot); count != 1 || rows != 1 {
		t.Fatalf("count %d, rows %d", count, rows)
	}
}

func isNotFound(err error) bool {
	var e *apperr.Error
	return errors.As(err, &e) && e.Code == connect.CodeNotFound
}
