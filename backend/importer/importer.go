// Package importer copies the legacy MongoDB into the services' PostgreSQL
// tables (`infliq import-mongo`). It is an offline tool run before cutover
// and the one documented exception to single-writer table ownership: it
// writes users, auth_credentials, follows, blocks, posts, post_likes,
// post_comments, post_reports, stories, story_views, chats, chat_members,
// messages, calls, user_reports and media_audit_logs directly.
//
// Each collection streams through a cursor in batches; a reader goroutine
// decodes and normalises one batch while the writer COPYs the previous one
// into temporary tables and upserts it in one transaction, keyed on the
// preserved ObjectIds, so a re-run changes nothing.
package importer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"golang.org/x/sync/errgroup"

	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/mediaurl"
)

// Options configure one run.
type Options struct {
	Mongo     *mongo.Database
	DB        *pgxpool.Pool // unused (may be nil) in a dry run
	Media     *mediaurl.Resolver
	DefaultCC string    // country code for national phone numbers, "+91"
	Since     time.Time // zero: everything
	Batch     int       // documents per transaction; default 1000
	Parallel  int       // collections imported at once after users; default 2
	DryRun    bool
	Log       *slog.Logger
	Progress  Progress // nil: none
	Now       func() time.Time
	// RingTimeout is the call service's ring timeout: legacy calls still
	// ringing (or active) and older than it are over, and are imported as
	// missed (or ended) with their own times. Default 45 s.
	RingTimeout time.Duration
}

// PoolSize is the number of PostgreSQL connections Run needs with
// parallel collections at once: the advisory lock's, and each job's
// writers (two at most). A smaller pool is refused, never waited on.
func PoolSize(parallel int) int32 {
	if parallel <= 0 {
		parallel = defaultParallel
	}
	return int32(1 + parallel*maxWriters)
}

const (
	defaultParallel = 2
	maxWriters      = 2
)

// Progress receives per-collection progress, from several collections at
// once; total is -1 when unknown.
type Progress interface {
	Start(name string, total int64)
	Total(name string, total int64) // the estimate, once known
	Add(name string, n int)
	Done(name string)
}

// job is one pass over one collection.
type job struct {
	name  string   // summary row of the documents
	coll  string   // Mongo collection
	since []string // date fields a --since pass filters on; nil: always full
	// tables that must exist (checked with to_regclass); when one is
	// missing the collection is skipped and reported.
	tables []string
	build  func(r *run, b *batch, d *doc, x id.ID) // turns a valid document into rows
	write  func(ctx context.Context, r *run, tx pgx.Tx, b *batch) error
	// writers is how many batches are written at once (default 1); more
	// only where batches never touch the same rows.
	writers int
	// unordered jobs read in the server's natural order: their rows do not
	// depend on which document comes first. Sorting by _id is an index walk
	// in MongoDB, but FerretDB loads and sorts the whole collection before
	// sending the first batch (memory, and no overlap with the writes).
	unordered bool
	// finish runs on the job's first connection after its last batch.
	finish func(ctx context.Context, r *run, conn *pgxpool.Conn) error
}

type run struct {
	Options
	sum *Summary
	now time.Time
	mu  sync.Mutex // guards the summary's conflict lists and totals

	// plan is the users pre-pass: which users this run imports (every
	// reference is checked against it, in dry runs too) and who keeps a
	// phone or email several accounts share. Read-only once built.
	plan *userPlan
	// replica: sessions may skip the per-row foreign-key triggers.
	replica bool
}

// Run imports every collection and returns the summary. Only a failure of
// MongoDB or PostgreSQL themselves is an error; bad documents are counted.
func Run(ctx context.Context, o Options) (*Summary, error) {
	if o.Batch <= 0 {
		o.Batch = 1000
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.DefaultCC == "" {
		o.DefaultCC = "+91"
	}
	if o.Media == nil {
		return nil, errors.New("importer: Media resolver is required")
	}
	if o.Parallel <= 0 {
		o.Parallel = defaultParallel
	}
	if o.RingTimeout <= 0 {
		o.RingTimeout = 45 * time.Second
	}
	if !o.DryRun && o.DB == nil {
		return nil, errors.New("importer: DB is required unless dry run")
	}
	if !o.DryRun && o.DB.Config().MaxConns < PoolSize(o.Parallel) {
		return nil, fmt.Errorf("importer: the PostgreSQL pool has %d connections, an import with %d collections at once needs %d",
			o.DB.Config().MaxConns, o.Parallel, PoolSize(o.Parallel))
	}
	r := &run{Options: o, sum: &Summary{DryRun: o.DryRun}, now: o.Now()}
	if !o.DryRun {
		release, err := r.lock(ctx)
		if err != nil {
			return nil, err
		}
		defer release()
	}
	// Users first (everything references them); then the other
	// collections, which depend only on users, a few at a time: the
	// pipeline waits on MongoDB and PostgreSQL more than on this process.
	all := jobs()
	for _, n := range summaryOrder {
		r.sum.Get(n)
	}
	if err := r.planUsers(ctx); err != nil {
		return r.sum, fmt.Errorf("importer: users: %w", err)
	}
	if err := r.job(ctx, all[0]); err != nil {
		return r.sum, fmt.Errorf("importer: %s: %w", all[0].name, err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.Parallel)
	for _, j := range all[1:] {
		g.Go(func() error {
			if err := r.job(gctx, j); err != nil {
				return fmt.Errorf("importer: %s: %w", j.name, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return r.sum, err
	}
	if !o.DryRun {
		start := time.Now()
		if err := r.recount(ctx); err != nil {
			return r.sum, fmt.Errorf("importer: counters: %w", err)
		}
		o.Log.Info("import: follower counters checked", "seconds", time.Since(start).Seconds())
	}
	return r.sum, nil
}

// summaryOrder fixes the summary's rows whatever order parallel jobs finish in.
var summaryOrder = []string{"users", "users.credentials", "follows", "blocks", "posts", "posts.likes", "posts.comments",
	"stories", "stories.views", "chats", "chats.members", "chats.messages", "calls", "mediauploadaudits", "contentreports"}

func jobs() []job {
	return []job{
		usersJob(), edgesJob(), postsJob(), storiesJob(), chatsJob(), callsJob(), auditsJob(), reportsJob(),
	}
}

// batch is one transaction's worth of rows, with the reader's counts.
type batch struct {
	docs  int
	rows  int
	data  map[string][][]any // temp table → rows
	stats map[string]*Stats  // reader-side counts, merged by the writer
	// ids dedupes across the whole job (direct keys, room names, comment
	// ids, reports): shared by the job's batches, used only by its one
	// reader goroutine, so a dry run finds every repeat a real run would.
	ids   map[string]string
	conf  [][3]string // conflicts found while writing (kind, kept, lost)
	rejs  []Rejection
	reset int64
}

func newBatch(ids map[string]string) *batch {
	return &batch{data: map[string][][]any{}, stats: map[string]*Stats{}, ids: ids}
}

// reject rejects one document or embedded item, naming it in the summary.
func (b *batch) reject(name, itemID, reason string) {
	b.st(name).reject(reason, 1)
	b.rejs = append(b.rejs, Rejection{Collection: name, ID: itemID, Reason: reason})
}

// normalised counts an imported item's normalisations (none: nothing).
func (b *batch) normalised(name string, d *doc) {
	if len(d.fixes) == 0 {
		return
	}
	st := b.st(name)
	st.Normalised++
	for _, f := range d.fixes {
		st.note("normalised "+f, 1)
	}
}

func (b *batch) add(table string, row ...any) {
	b.data[table] = append(b.data[table], row)
	b.rows++
}

func (b *batch) st(name string) *Stats {
	s, ok := b.stats[name]
	if !ok {
		s = &Stats{Name: name}
		b.stats[name] = s
	}
	return s
}

func (r *run) filter(j job) bson.D {
	if r.Since.IsZero() || j.since == nil {
		return bson.D{}
	}
	or := bson.A{bson.D{{Key: "_id", Value: bson.D{{Key: "$gte", Value: bson.NewObjectIDFromTimestamp(r.Since)}}}}}
	for _, f := range j.since {
		or = append(or, bson.D{{Key: f, Value: bson.D{{Key: "$gte", Value: r.Since}}}})
	}
	return bson.D{{Key: "$or", Value: or}}
}

func (r *run) job(ctx context.Context, j job) error {
	st := r.sum.Get(j.name)
	var conns []*pgxpool.Conn
	if !r.DryRun {
		for range max(j.writers, 1) {
			c, err := r.session(ctx)
			if err != nil {
				return err
			}
			defer r.endSession(ctx, c)
			conns = append(conns, c)
		}
		conn := conns[0]
		for _, t := range j.tables {
			var ok bool
			if err := conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, t).Scan(&ok); err != nil {
				return err
			}
			if !ok {
				n, _ := r.Mongo.Collection(j.coll).EstimatedDocumentCount(ctx)
				r.mu.Lock()
				st.Read += n
				st.skip("table "+t+" missing in PostgreSQL (its migration is not applied)", n)
				r.mu.Unlock()
				r.Log.Warn("import: collection skipped", "collection", j.coll, "missing_table", t, "documents", n)
				return nil
			}
		}
	}
	if j.coll == "" { // no collection of its own: only the finishing step
		if j.finish == nil || r.DryRun {
			return nil
		}
		start := time.Now()
		err := j.finish(ctx, r, conns[0])
		r.Log.Info("import: step done", "step", j.name, "seconds", time.Since(start).Seconds())
		return err
	}
	coll := r.Mongo.Collection(j.coll)
	f := r.filter(j)
	if r.Progress != nil {
		r.Progress.Start(j.name, -1)
		defer r.Progress.Done(j.name)
		if len(f) == 0 {
			// The estimate is metadata in MongoDB but a scan elsewhere
			// (FerretDB): never wait for it.
			go func() {
				if n, err := coll.EstimatedDocumentCount(ctx); err == nil {
					r.Progress.Total(j.name, n)
				}
			}()
		}
	}
	start := time.Now()
	r.Log.Info("import: collection start", "collection", j.name)
	fo := options.Find().SetBatchSize(int32(r.Batch))
	if !j.unordered {
		fo.SetSort(bson.D{{Key: "_id", Value: 1}})
	}
	cur, err := coll.Find(ctx, f, fo)
	if err != nil {
		return err
	}
	defer cur.Close(ctx)

	// The reader decodes the next batch while the writer stores this one;
	// two batches in flight bound memory whatever the collection size.
	ch := make(chan *batch, 1)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var rerr error
	ids := map[string]string{}
	go func() {
		defer close(ch)
		b := newBatch(ids)
		for cur.Next(rctx) {
			r.decode(j, b, cur.Current)
			if b.docs >= r.Batch || b.rows >= 20*r.Batch {
				select {
				case ch <- b:
				case <-rctx.Done():
					return
				}
				b = newBatch(ids)
			}
		}
		if rerr = cur.Err(); rerr != nil {
			return
		}
		if b.docs > 0 {
			select {
			case ch <- b:
			case <-rctx.Done():
			}
		}
	}()
	// Writers take batches in turn, each on its own session; only jobs
	// whose batches never touch the same rows have more than one.
	var writing atomic.Int64
	wg, wctx := errgroup.WithContext(ctx)
	for w := range max(len(conns), 1) {
		wg.Go(func() error {
			for b := range ch {
				if !r.DryRun && len(b.data) > 0 {
					ws := time.Now()
					if err := pgx.BeginFunc(wctx, conns[w], func(tx pgx.Tx) error {
						if r.replica {
							if _, err := tx.Exec(wctx, `SET LOCAL session_replication_role = replica`); err != nil {
								return err
							}
						}
						return j.write(wctx, r, tx, b)
					}); err != nil {
						cancel()
						for range ch {
						}
						return err
					}
					writing.Add(int64(time.Since(ws)))
				}
				r.merge(b)
				if r.Progress != nil {
					r.Progress.Add(j.name, b.docs)
				}
			}
			return nil
		})
	}
	if err := wg.Wait(); err != nil {
		return err
	}
	if rerr != nil {
		return rerr
	}
	if j.finish != nil && !r.DryRun {
		if err := j.finish(ctx, r, conns[0]); err != nil {
			return err
		}
	}
	el := time.Since(start)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Log.Info("import: collection done", "collection", j.name, "read", st.Read, "inserted", st.Inserted,
		"updated", st.Updated, "skipped", st.Skipped, "rejected", st.Rejected, "seconds", el.Seconds(),
		"docs_per_s", int(float64(st.Read)/max(el.Seconds(), 1e-3)), "postgres_seconds", time.Duration(writing.Load()).Seconds())
	return nil
}

// lock makes sure one import runs at a time and creates the table where
// the users pass stages follow/block edges (a regular unlogged table, so
// the edges job reads it from its own session); release drops it.
func (r *run) lock(ctx context.Context) (func(), error) {
	c, err := r.DB.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	var ok bool
	if err := c.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtext('infliq-import-mongo'))`).Scan(&ok); err != nil {
		c.Release()
		return nil, err
	}
	if !ok {
		c.Release()
		return nil, errors.New("importer: another import-mongo is running against this database")
	}
	release := func() {
		bg := context.WithoutCancel(ctx)
		_, _ = c.Exec(bg, `DROP TABLE IF EXISTS import_edges`)
		_, _ = c.Exec(bg, `SELECT pg_advisory_unlock(hashtext('infliq-import-mongo'))`)
		c.Release()
	}
	if _, err := c.Exec(ctx, `DROP TABLE IF EXISTS import_edges; CREATE UNLOGGED TABLE import_edges (kind text, a text, b text)`); err != nil {
		release()
		return nil, err
	}
	if r.replica = r.canSkipTriggers(ctx, c); !r.replica {
		r.Log.Info("import: foreign-key triggers stay on (the role may not set session_replication_role)")
	}
	return release, nil
}

// session opens a connection set up for importing: its own temp tables,
// and no wait for each batch's WAL flush (a lost tail of commits after a
// crash is harmless to an idempotent, re-runnable import).
func (r *run) session(ctx context.Context) (*pgxpool.Conn, error) {
	c, err := r.DB.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	// Each batch probes a few thousand keys of users and posts, whose
	// index pages are hot: at the default random_page_cost the planner
	// hashed the whole users table (a sequential scan per batch, growing
	// with the user count) instead.
	if _, err := c.Exec(ctx, `SET synchronous_commit = off; SET random_page_cost = 1.1`); err != nil {
		c.Release()
		return nil, err
	}
	if _, err := c.Exec(ctx, tempDDL); err != nil {
		r.endSession(ctx, c)
		return nil, fmt.Errorf("temp tables: %w", err)
	}
	return c, nil
}

// canSkipTriggers reports whether this role may set
// session_replication_role. Every insert joins its parents (users, posts,
// stories, the batch's own chats), so the per-row foreign-key triggers
// only repeat that check, each with an SPI lookup and a row lock that
// dirties the parent's page. A superuser, or a role granted SET on the
// parameter (PostgreSQL 15+), sets it per transaction (SET LOCAL: nothing
// to reset); the advisory lock and the frozen writes of the cutover keep
// parents from vanishing meanwhile. Any other role keeps the triggers.
func (r *run) canSkipTriggers(ctx context.Context, c *pgxpool.Conn) bool {
	var ok bool
	if err := c.QueryRow(ctx, `SELECT current_setting('is_superuser') = 'on'`).Scan(&ok); err == nil && ok {
		return true
	}
	// has_parameter_privilege is PostgreSQL 15+; older servers answer
	// with an error, which means no.
	err := c.QueryRow(ctx, `SELECT has_parameter_privilege('session_replication_role', 'SET')`).Scan(&ok)
	return err == nil && ok
}

// endSession drops the session's temp tables and settings before the
// connection goes back to the pool: one statement each, so one that fails
// cannot keep the others from running. A connection that still fails is
// destroyed rather than returned with this session's temp tables.
func (r *run) endSession(ctx context.Context, c *pgxpool.Conn) {
	bg := context.WithoutCancel(ctx)
	for _, q := range []string{`DISCARD TEMP`, `RESET synchronous_commit`, `RESET random_page_cost`} {
		if _, err := c.Exec(bg, q); err != nil {
			r.Log.Warn("import: session not reset; connection closed", "statement", q, "err", err)
			_ = c.Conn().Close(bg)
			break
		}
	}
	c.Release()
}

// decode turns one raw document into rows, rejecting it with a reason when
// it is malformed.
func (r *run) decode(j job, b *batch, raw bson.Raw) {
	b.docs++
	st := b.st(j.name)
	st.Read++
	if err := raw.Validate(); err != nil {
		st.reject("invalid BSON", 1)
		return
	}
	d := &doc{raw: raw}
	x, ok := d.docID()
	if !ok {
		b.reject(j.name, fmt.Sprint(raw.Lookup("_id")), "_id is not an ObjectId")
		return
	}
	rejected := st.Rejected
	j.build(r, b, d, x)
	if st.Rejected == rejected {
		b.normalised(j.name, d)
	}
}

func (r *run) merge(b *batch) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, s := range b.stats {
		t := r.sum.Get(name)
		t.Read += s.Read
		t.Inserted += s.Inserted
		t.Updated += s.Updated
		t.Skipped += s.Skipped
		t.Rejected += s.Rejected
		t.Normalised += s.Normalised
		for k, v := range s.Reasons {
			t.note(k, int64(v))
		}
	}
	for _, c := range b.conf {
		switch c[0] {
		case "phone":
			r.sum.PhoneConflicts = append(r.sum.PhoneConflicts, [2]string{c[1], c[2]})
		case "email":
			r.sum.EmailConflicts = append(r.sum.EmailConflicts, [2]string{c[1], c[2]})
		}
	}
	r.sum.PasswordResets += b.reset
	r.sum.mu.Lock()
	r.sum.Rejections = append(r.sum.Rejections, b.rejs...)
	r.sum.mu.Unlock()
}

// copyRows COPYs a batch's rows into a temporary table.
func copyRows(ctx context.Context, tx pgx.Tx, b *batch, table string, cols ...string) error {
	rows := b.data[table]
	if len(rows) == 0 {
		return nil
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows))
	return err
}

// upsert runs an INSERT … RETURNING (xmax = 0) and counts inserted and
// updated rows; staged rows that returned nothing were unchanged. The
// counting happens in PostgreSQL: one result row, not one per row stored.
func upsert(ctx context.Context, tx pgx.Tx, st *Stats, staged int, sql string) error {
	var ins, upd int64
	if err := tx.QueryRow(ctx, `WITH w (inserted) AS (`+sql+`)
		SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM w`).Scan(&ins, &upd); err != nil {
		return err
	}
	st.Inserted += ins
	st.Updated += upd
	st.skip("unchanged", int64(staged)-ins-upd)
	return nil
}

// count runs a query returning one number.
func count(ctx context.Context, tx pgx.Tx, sql string) (int64, error) {
	var n int64
	err := tx.QueryRow(ctx, sql).Scan(&n)
	return n, err
}

// recount corrects the follower counters where the edges actually stored
// differ from the counts taken from the documents' arrays (dangling or
// one-sided references); consistent legacy data updates no row. postsCount
// stays as legacy left it: nothing maintained it there or here.
func (r *run) recount(ctx context.Context) error {
	_, err := r.DB.Exec(ctx, `
		WITH fe AS (SELECT followee_id AS id, count(*) AS n FROM follows GROUP BY 1),
		fr AS (SELECT follower_id AS id, count(*) AS n FROM follows GROUP BY 1),
		c AS (
		  SELECT u.id, coalesce(fe.n, 0) AS followers, coalesce(fr.n, 0) AS following
		  FROM users u LEFT JOIN fe ON fe.id = u.id LEFT JOIN fr ON fr.id = u.id)
		UPDATE users u SET followers_count = c.followers, following_count = c.following
		FROM c WHERE c.id = u.id
		  AND (u.followers_count, u.following_count) IS DISTINCT FROM (c.followers, c.following)`)
	return err
}

// Open connects to the legacy MongoDB and pings it.
func Open(ctx context.Context, uri, database string) (*mongo.Database, func(), error) {
	c, err := mongo.Connect(options.Client().ApplyURI(uri).SetAppName("infliq-import"))
	if err != nil {
		return nil, nil, err
	}
	closeFn := func() { _ = c.Disconnect(context.WithoutCancel(ctx)) }
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := c.Ping(pctx, nil); err != nil {
		closeFn()
		return nil, nil, fmt.Errorf("mongo ping: %w", err)
	}
	return c.Database(database), closeFn, nil
}
