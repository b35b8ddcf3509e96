package importer_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"golang.org/x/sync/errgroup"

	"github.com/infliq/infliq/backend/importer"
	"github.com/infliq/infliq/backend/importer/importtest"
	"github.com/infliq/infliq/backend/platform/pgtest"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// genDataset writes users (each following 5 others), posts (2 likes, 1
// comment) and chats of msgsPerChat embedded messages, in insert batches so
// the generator's memory stays small.
func genDataset(b *testing.B, db *mongo.Database, users, posts, messages, msgsPerChat int) {
	ctx := context.Background()
	base := time.Now().Add(-365 * 24 * time.Hour)
	uids := make([]bson.ObjectID, users)
	for i := range uids {
		uids[i] = bson.NewObjectIDFromTimestamp(base.Add(time.Duration(i) * time.Second))
	}
	flush := func(coll string, docs []any) []any {
		if len(docs) > 0 {
			if _, err := db.Collection(coll).InsertMany(ctx, docs); err != nil {
				b.Fatal(err)
			}
		}
		return docs[:0]
	}
	var docs []any
	// Legacy follow wrote both sides ($addToSet on following and on the
	// followee's followers): i follows i+k*7919 for k = 1..5.
	for i, u := range uids {
		following, followers := bson.A{}, bson.A{}
		for k := 1; k <= 5; k++ {
			following = append(following, uids[(i+k*7919)%users])
			followers = append(followers, uids[((i-k*7919)%users+users)%users])
		}
		docs = append(docs, bson.D{{Key: "_id", Value: u}, {Key: "name", Value: fmt.Sprintf("user %d", i)},
			{Key: "phone", Value: fmt.Sprintf("+9198%08d", i)}, {Key: "bio", Value: "bench"},
			{Key: "profilePicture", Value: fmt.Sprintf("profiles/%d.jpg", i)}, {Key: "category", Value: "global"},
			{Key: "followers", Value: followers}, {Key: "following", Value: following}, {Key: "createdAt", Value: u.Timestamp()}})
		if len(docs) == 1000 {
			docs = flush("users", docs)
		}
	}
	docs = flush("users", docs)
	for i := range posts {
		t := base.Add(time.Duration(i) * time.Second)
		docs = append(docs, bson.D{{Key: "_id", Value: bson.NewObjectIDFromTimestamp(t)}, {Key: "userId", Value: uids[i%users]},
			{Key: "type", Value: "post"}, {Key: "caption", Value: "bench post"},
			{Key: "mediaUrl", Value: fmt.Sprintf("https://infliq-media.s3.ap-south-1.amazonaws.com/posts/%d.jpg", i)},
			{Key: "likes", Value: bson.A{uids[(i+1)%users], uids[(i+2)%users]}},
			{Key: "comments", Value: bson.A{bson.D{{Key: "_id", Value: bson.NewObjectIDFromTimestamp(t)}, {Key: "userId", Value: uids[(i+3)%users]},
				{Key: "text", Value: "nice"}, {Key: "createdAt", Value: t}}}},
			{Key: "createdAt", Value: t}})
		if len(docs) == 1000 {
			docs = flush("posts", docs)
		}
	}
	docs = flush("posts", docs)
	for c := 0; c < messages/msgsPerChat; c++ {
		t := base.Add(time.Duration(c) * time.Minute)
		a, z := uids[c%users], uids[(c*31+1)%users]
		ms := make(bson.A, 0, msgsPerChat)
		for m := range msgsPerChat {
			ms = append(ms, bson.D{{Key: "_id", Value: bson.NewObjectIDFromTimestamp(t.Add(time.Duration(m) * time.Second))},
				{Key: "senderId", Value: a}, {Key: "text", Value: "hello there, this is a bench message"}, {Key: "type", Value: "text"},
				{Key: "createdAt", Value: t.Add(time.Duration(m) * time.Second)}, {Key: "read", Value: false}})
		}
		docs = append(docs, bson.D{{Key: "_id", Value: bson.NewObjectIDFromTimestamp(t)}, {Key: "type", Value: "chat"},
			{Key: "participants", Value: bson.A{a, z}}, {Key: "messages", Value: ms}, {Key: "createdAt", Value: t}})
		if len(docs) == 20 {
			docs = flush("chats", docs)
		}
	}
	flush("chats", docs)
}

// peakRSS returns VmHWM of this process in KiB; resetPeak restarts it.
func peakRSS() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			n, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return n
		}
	}
	return 0
}

func resetPeak() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// benchSource is the FerretDB holding the generated dataset. With
// IMPORT_BENCH_DIR set, its SQLite files live there and are reused by later
// runs of the same sizes (seeding 1.6M documents takes minutes).
func benchSource(b *testing.B) (*importtest.Server, *mongo.Database, float64) {
	users, posts := envInt("IMPORT_BENCH_USERS", 10000), envInt("IMPORT_BENCH_POSTS", 10000)
	messages, perChat := envInt("IMPORT_BENCH_MESSAGES", 20000), envInt("IMPORT_BENCH_MSGS_PER_CHAT", 100)
	dir := os.Getenv("IMPORT_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	srv := importtest.StartServer(b, dir)
	mdb := srv.Client.Database("bench")
	marker := filepath.Join(dir, fmt.Sprintf("seeded-%d-%d-%d-%d", users, posts, messages, perChat))
	if _, err := os.Stat(marker); err != nil {
		if err := mdb.Drop(context.Background()); err != nil {
			b.Fatal(err)
		}
		seedStart := time.Now()
		genDataset(b, mdb, users, posts, messages, perChat)
		b.Logf("seeded %d users, %d posts, %d messages in %s", users, posts, messages, time.Since(seedStart))
		if err := os.WriteFile(marker, nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	// Documents = users + posts + chats + the messages embedded in chats
	// (likes, comments and follow edges are rows, not counted).
	return srv, mdb, float64(users + posts + messages + messages/perChat)
}

// cpuMeter samples the CPU seconds (user+system) of this process, of
// FerretDB and of the PostgreSQL backends serving the import's database.
type cpuMeter struct {
	ferret int
	self   float64
	fdb    float64
}

func procCPU(pid string) float64 {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

func startCPU(ferretPID int) *cpuMeter {
	return &cpuMeter{ferret: ferretPID, self: procCPU("self"), fdb: procCPU(strconv.Itoa(ferretPID))}
}

// report returns the CPU seconds spent since start. The PostgreSQL figure
// is the backends still connected to pool's database (the pool keeps its
// connections), so it misses only the WAL writer and checkpointer.
func (m *cpuMeter) report(b *testing.B, pool *pgxpool.Pool) (self, fdb, pg float64) {
	self = procCPU("self") - m.self
	fdb = procCPU(strconv.Itoa(m.ferret)) - m.fdb
	if pool != nil {
		rows, err := pool.Query(context.Background(), `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
		if err != nil {
			b.Fatal(err)
		}
		for rows.Next() {
			var pid int
			_ = rows.Scan(&pid)
			pg += procCPU(strconv.Itoa(pid))
		}
		rows.Close()
	}
	return self, fdb, pg
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

// BenchmarkImport imports a generated dataset from FerretDB into a fresh
// database per iteration. Sizes: IMPORT_BENCH_USERS, _POSTS, _MESSAGES;
// IMPORT_BENCH_DIR keeps the seeded FerretDB data between runs.
//
//	IMPORT_BENCH_USERS=100000 IMPORT_BENCH_POSTS=500000 IMPORT_BENCH_MESSAGES=1000000 \
//	  IMPORT_BENCH_DIR=/var/tmp/infliq-import-bench \
//	  go test -run '^$' -bench Import -benchtime 1x -timeout 30m ./backend/importer/
func BenchmarkImport(b *testing.B) {
	srv, mdb, docs := benchSource(b)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		var pool *pgxpool.Pool
		dry := os.Getenv("IMPORT_BENCH_DRY") != ""
		switch {
		case dry:
		case os.Getenv("IMPORT_BENCH_ORDINARY") != "": // the runbook's role: foreign-key triggers stay on
			pool = ordinaryDB(b)
		default:
			pool = pgtest.New(b)
		}
		resetPeak()
		b.Logf("load average before: %s", loadavg())
		b.StartTimer()
		cpu := startCPU(srv.PID)
		start := time.Now()
		sum, err := importer.Run(context.Background(), importer.Options{Mongo: mdb, DB: pool, Media: resolver(), DryRun: dry, Batch: envInt("IMPORT_BENCH_BATCH", 1000),
			Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))})
		if err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		self, fdb, pg := cpu.report(b, pool)
		b.ReportMetric(docs/el.Seconds(), "docs/s")
		b.ReportMetric(float64(peakRSS())/1024, "peakRSS_MB")
		k := docs / 1000
		b.ReportMetric(self/k*1000, "importer_cpu_ms/kdoc")
		b.ReportMetric(fdb/k*1000, "ferretdb_cpu_ms/kdoc")
		b.ReportMetric(pg/k*1000, "postgres_cpu_ms/kdoc")
		b.Logf("import %s; CPU s: importer %.1f, FerretDB %.1f, PostgreSQL backends %.1f; load average after: %s\n%s",
			el, self, fdb, pg, loadavg(), sum)
	}
}

// BenchmarkReadRaw is the reading ceiling: every collection through a
// plain mongo-driver cursor, documents not even looked at. Sorted (by
// _id) or not: IMPORT_BENCH_SORT; the three collections at once (both
// cores) or one after another: IMPORT_BENCH_RAW_PARALLEL.
func BenchmarkReadRaw(b *testing.B) {
	srv, mdb, docs := benchSource(b)
	b.ResetTimer()
	for range b.N {
		b.Logf("load average before: %s", loadavg())
		cpu := startCPU(srv.PID)
		start := time.Now()
		var n atomic.Int64
		var g errgroup.Group
		if os.Getenv("IMPORT_BENCH_RAW_PARALLEL") == "" {
			g.SetLimit(1)
		}
		for _, c := range []string{"users", "posts", "chats"} {
			g.Go(func() error {
				o := options.Find().SetBatchSize(int32(envInt("IMPORT_BENCH_BATCH", 1000)))
				if os.Getenv("IMPORT_BENCH_SORT") != "" {
					o.SetSort(bson.D{{Key: "_id", Value: 1}})
				}
				cs := time.Now()
				cur, err := mdb.Collection(c).Find(context.Background(), bson.D{}, o)
				if err != nil {
					return err
				}
				defer cur.Close(context.Background())
				var bytes int
				for cur.Next(context.Background()) {
					n.Add(1)
					bytes += len(cur.Current)
				}
				b.Logf("%s: %d bytes in %s", c, bytes, time.Since(cs))
				return cur.Err()
			})
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		self, fdb, _ := cpu.report(b, nil)
		b.ReportMetric(docs/el.Seconds(), "docs/s")
		b.ReportMetric(fdb/(docs/1000)*1000, "ferretdb_cpu_ms/kdoc")
		b.Logf("%d raw documents in %s; CPU s: reader %.1f, FerretDB %.1f; load average after: %s", n.Load(), el, self, fdb, loadavg())
	}
}
