package post

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"

	postv1 "github.com/infliq/infliq/backend/gen/infliq/post/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/post/view"
)

// Group commit of likes, as chat does for messages (backend/chat/batch.go).
// A like is one durable commit, and on a hot post most of its cost was
// PostgreSQL's per-transaction work: the commit's WAL flush, a key-share lock
// on the post's row for the foreign key, and rendering the post. So
// concurrent likes are queued, and committers each take whatever is
// queued and apply it in one transaction: one set-based statement for all
// the like rows and one counter update per post, then one render per post.
// Each caller is answered after that commit, with its own result. Nothing
// waits for a batch to fill: a lone like is applied at once.
//
// A batch holds at most one operation per (user, post): a set-based
// statement cannot apply two changes of one row in order. A later operation
// on a key that is in a batch not yet committed waits (held, in arrival
// order) for that commit, so one user's operations on a post apply in the
// order they arrived, and concurrent batches never touch the same like row.

// Two committers: one batch collects while the other commits, and a
// committer whose backend is descheduled does not stall every like. More
// committers make batches smaller, and PostgreSQL's CPU per like grows with
// smaller batches (BenchmarkToggleLikeHotPost, 64 callers: about 11 likes
// a batch with 4 committers, 19 with 2, 32 with 1).
const (
	likeMaxBatch   = 128
	likeQueue      = 4096
	likeCommitters = 2
)

type likeKey struct{ user, post id.ID }

// likeReq is one like operation waiting for its batch.
type likeReq struct {
	key  likeKey
	op   likeOp
	done chan struct{} // closed once res and err are set
	res  likeResult
	err  error
}

type liker struct {
	db   *pgxpool.Pool
	pub  bus.Publisher
	log  *slog.Logger
	reqs chan *likeReq
	wake chan struct{} // a key with held operations was freed

	form sync.Mutex // one batch formed at a time
	mu   sync.Mutex // guards busy and held
	busy map[likeKey]bool
	held []*likeReq // operations whose key was busy, oldest first

	batches atomic.Int64 // batches run, for the benchmark's ops/batch
}

// newLiker starts a liker with n committers (tests start none and drive
// it with next and run).
func newLiker(db *pgxpool.Pool, pub bus.Publisher, log *slog.Logger, n int) *liker {
	l := &liker{db: db, pub: pub, log: log, reqs: make(chan *likeReq, likeQueue),
		wake: make(chan struct{}, 1), busy: map[likeKey]bool{}}
	for range n {
		go func() {
			for {
				l.run(l.next())
			}
		}()
	}
	return l
}

// do applies op by me on postID and returns the result once it committed
// and its notification was published. If ctx ends first the operation may
// still be applied.
func (l *liker) do(ctx context.Context, me, postID id.ID, op likeOp) (likeResult, error) {
	r := &likeReq{key: likeKey{me, postID}, op: op, done: make(chan struct{})}
	select {
	case l.reqs <- r:
	case <-ctx.Done():
		return likeResult{}, apperr.Internal(ctx.Err())
	}
	select {
	case <-r.done:
		return r.res, r.err
	case <-ctx.Done():
		return likeResult{}, apperr.Internal(ctx.Err())
	}
}

// run commits a batch, frees its keys for the operations held on them,
// publishes its notifications and answers its callers.
func (l *liker) run(b []*likeReq) {
	l.batches.Add(1)
	l.commit(b)
	l.mu.Lock()
	for _, r := range b {
		delete(l.busy, r.key)
	}
	if len(l.held) > 0 {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
	l.mu.Unlock()
	l.publish(b)
	for _, r := range b {
		close(r.done)
	}
}

// next forms a batch: the held operations whose key is free, then whatever
// is queued, waiting only when there is nothing to apply.
func (l *liker) next() []*likeReq {
	l.form.Lock()
	defer l.form.Unlock()
	var b []*likeReq
	for {
		l.mu.Lock()
		held := l.held
		l.held = nil
		for _, r := range held {
			b = l.add(b, r)
		}
	fill:
		for len(b) < likeMaxBatch {
			select {
			case r := <-l.reqs:
				b = l.add(b, r)
			default:
				break fill
			}
		}
		l.mu.Unlock()
		if len(b) > 0 {
			return b
		}
		select {
		case r := <-l.reqs:
			l.mu.Lock()
			b = l.add(b, r)
			l.mu.Unlock()
		case <-l.wake:
		}
	}
}

// add appends r to b, or holds it when its key is busy (or b is full: only
// held operations are added to a full batch, so order is kept). l.mu is held.
func (l *liker) add(b []*likeReq, r *likeReq) []*likeReq {
	if l.busy[r.key] || len(b) >= likeMaxBatch {
		l.held = append(l.held, r)
		return b
	}
	l.busy[r.key] = true
	return append(b, r)
}

// commit applies a batch and sets each operation's result. If the batch
// fails (a post deleted meanwhile fails the foreign key, say) nothing of it
// was applied, and each operation is applied alone, so a bad one fails only
// itself.
func (l *liker) commit(b []*likeReq) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if len(b) > 1 {
		err := applyLikes(ctx, l.db, b)
		if err == nil {
			return
		}
		l.log.Warn("post: batched likes failed, applying one by one", "n", len(b), "err", err)
	}
	for _, r := range b {
		r.res, r.err = setLike(ctx, l.db, r.key.user, r.key.post, r.op)
	}
}

// likeBatchSQL applies the operations ($1 users, $2 posts, $3 ops: one per
// (user, post)) as likeSQL does one, in one statement: the like rows, one
// ±n on shard $4 of each post's counter, and for each operation that found
// its post visible: its index, the post's owner, +1/-1 when it inserted or
// deleted a like, and the caller's name and picture for the notification.
// Rows are inserted and counters updated in key order, so concurrent batches
// lock them in the same order.
const likeBatchSQL = `WITH o AS (
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS o(user_id, post_id, op, i)
	), t AS (
		SELECT o.*, p.user_id AS owner FROM o JOIN posts p ON p.id = o.post_id
		WHERE NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = o.user_id AND b.blocked_id = p.user_id)
		  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = p.user_id AND b.blocked_id = o.user_id)
	), del AS (
		DELETE FROM post_likes l USING t
		WHERE t.op IN ('off', 'toggle') AND l.post_id = t.post_id AND l.user_id = t.user_id
		RETURNING l.post_id, l.user_id
	), ins AS (
		INSERT INTO post_likes (post_id, user_id)
		SELECT t.post_id, t.user_id FROM t
		WHERE t.op IN ('on', 'toggle')
		  AND NOT EXISTS (SELECT 1 FROM del d WHERE d.post_id = t.post_id AND d.user_id = t.user_id)
		ORDER BY t.post_id, t.user_id
		ON CONFLICT DO NOTHING
		RETURNING post_id, user_id
	), d AS (
		SELECT post_id, user_id, 1 AS n FROM ins UNION ALL SELECT post_id, user_id, -1 FROM del
	), cnt AS (
		INSERT INTO post_like_counts AS c (post_id, shard, n)
		SELECT post_id, $4::smallint, sum(n) FROM d GROUP BY post_id HAVING sum(n) <> 0 ORDER BY post_id
		ON CONFLICT (post_id, shard) DO UPDATE SET n = c.n + excluded.n
	)
	SELECT t.i, t.owner, COALESCE(d.n, 0), COALESCE(me.name, ''), COALESCE(me.profile_picture, '')
	FROM t LEFT JOIN d ON d.post_id = t.post_id AND d.user_id = t.user_id
	LEFT JOIN users me ON me.id = t.user_id`

// likedPostsSQL renders posts $2 after the batch's change, for no viewer
// ($1 is an id no user has): each caller's own view is set by personalize.
const likedPostsSQL = `SELECT ` + view.Columns + ` FROM posts p JOIN users u ON u.id = p.user_id WHERE p.id = ANY($2::text[])`

// applyLikes applies b (one operation per key) in one transaction: pgx sends
// both statements in one pipeline ending in one Sync, so they commit
// together. On success it sets every operation's result.
func applyLikes(ctx context.Context, pool *pgxpool.Pool, b []*likeReq) error {
	users, posts, ops := make([]string, len(b)), make([]string, len(b)), make([]string, len(b))
	var distinct []string
	for i, r := range b {
		users[i], posts[i], ops[i] = r.key.user.String(), r.key.post.String(), string(r.op)
		if !slices.Contains(distinct, posts[i]) {
			distinct = append(distinct, posts[i])
		}
	}
	batch := &pgx.Batch{}
	batch.Queue(likeBatchSQL, users, posts, ops, likeShard())
	batch.Queue(likedPostsSQL, id.Nil, distinct)
	br := pool.SendBatch(ctx, batch)
	defer br.Close()

	res := make([]likeResult, len(b))
	delta := make([]int, len(b))
	found := make([]bool, len(b))
	rows, err := br.Query()
	if err != nil {
		return err
	}
	for rows.Next() {
		var (
			i, n int
			r    likeResult
		)
		if err := rows.Scan(&i, &r.owner, &n, &r.actorName, &r.actorPicture); err != nil {
			rows.Close()
			return err
		}
		res[i-1], delta[i-1], found[i-1] = r, n, true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rendered := make(map[string]*postv1.Post, len(distinct))
	if rows, err = br.Query(); err != nil {
		return err
	}
	for rows.Next() {
		p, err := view.ScanPost(rows)
		if err != nil {
			rows.Close()
			return err
		}
		rendered[p.Id] = p
	}
	if err := rows.Err(); err != nil {
		return err
	}
	// Close reads up to ReadyForQuery: the transaction has committed.
	if err := br.Close(); err != nil {
		return err
	}
	for i, r := range b {
		p := rendered[posts[i]]
		if !found[i] || p == nil {
			r.err = apperr.NotFound("Post not found")
			continue
		}
		r.res = res[i]
		r.res.changed = delta[i] != 0
		r.res.liked = r.op == likeOn || (r.op == likeToggle && delta[i] >= 0)
		r.res.post = proto.Clone(p).(*postv1.Post)
		personalize(r.res.post, r.key.user, r.res.liked)
	}
	return nil
}

// publish appends the records of a committed batch's likes and unlikes
// (for the notify tier) in one round trip. A bus failure does not fail the
// likes.
func (l *liker) publish(b []*likeReq) {
	if l.pub == nil {
		return
	}
	var recs []bus.Record
	for _, r := range b {
		if r.err != nil {
			continue
		}
		if rec, ok := likeRecord(r.res.owner, r.key.user, r.key.post, r.res.changed, r.res.liked); ok {
			recs = append(recs, rec)
		}
	}
	if len(recs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.PublishAll(ctx, l.pub, []bus.Publication{{Records: recs}}); err != nil {
		l.log.Warn("notification records not appended", "kind", "like", "n", len(recs), "err", err)
	}
}
