package importer_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

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

// BenchmarkImport imports a generated dataset from FerretDB into a fresh
// database per iteration. Sizes: IMPORT_BENCH_USERS, _POSTS, _MESSAGES.
//
//	IMPORT_BENCH_USERS=100000 IMPORT_BENCH_POSTS=100000 IMPORT_BENCH_MESSAGES=200000 \
//	  go test -run '^$' -bench Import -benchtime 1x ./backend/importer/
func BenchmarkImport(b *testing.B) {
	users, posts := envInt("IMPORT_BENCH_USERS", 10000), envInt("IMPORT_BENCH_POSTS", 10000)
	messages, perChat := envInt("IMPORT_BENCH_MESSAGES", 20000), envInt("IMPORT_BENCH_MSGS_PER_CHAT", 100)
	mdb := importtest.Start(b, "bench")
	seedStart := time.Now()
	genDataset(b, mdb, users, posts, messages, perChat)
	b.Logf("seeded %d users, %d posts, %d messages in %s", users, posts, messages, time.Since(seedStart))
	docs := float64(users + posts + messages + messages/perChat)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		pool := pgtest.New(b)
		resetPeak()
		b.StartTimer()
		start := time.Now()
		sum, err := importer.Run(context.Background(), importer.Options{Mongo: mdb, DB: pool, Media: resolver(), DryRun: os.Getenv("IMPORT_BENCH_DRY") != "", Batch: envInt("IMPORT_BENCH_BATCH", 1000),
			Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))})
		if err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		b.ReportMetric(docs/el.Seconds(), "docs/s")
		b.ReportMetric(float64(peakRSS())/1024, "peakRSS_MB")
		b.Logf("import %s\n%s", el, sum)
	}
}
