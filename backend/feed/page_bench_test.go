package feed

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	feedv1 "github.com/infliq/infliq/backend/gen/infliq/feed/v1"
	"github.com/infliq/infliq/backend/gen/infliq/feed/v1/feedv1connect"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/mediaurl"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
	"github.com/infliq/infliq/backend/post/posttest"
)

// BenchmarkHomeFeedJSONGzip is the bench's posts.home-feed call against
// the feed tier alone: Connect JSON, limit 10, gzip accepted, first page
// from the snapshot, for a user following 50 authors of 500 posts.
// cpu-µs/op is the process's CPU time (server and client) per call, which
// the machine's other load disturbs less than the wall time.
func BenchmarkHomeFeedJSONGzip(b *testing.B) {
	benchPage(b, feedv1connect.FeedServiceHomeFeedProcedure, "application/json", []byte(`{"page":{"limit":10}}`), "gzip")
}

// BenchmarkGlobalFeedProto is the gateway's call behind the bench's
// posts.global-feed (GET /api/posts/feed): Connect binary, limit 10, no
// compression, first page from the snapshot.
func BenchmarkGlobalFeedProto(b *testing.B) {
	body, _ := proto.Marshal(&feedv1.GlobalFeedRequest{Page: &commonv1.PageRequest{Limit: 10}})
	benchPage(b, feedv1connect.FeedServiceGlobalFeedProcedure, "application/proto", body, "")
}

func benchPage(b *testing.B, proc, ctype string, body []byte, encoding string) {
	pool := pgtest.New(b)
	d := tiertest.Deps()
	d.MediaURLs = mediaurl.New(config.S3{Bucket: "media", Region: "eu-west-1", CloudFrontDomain: "d111.cloudfront.net"})
	o := testOptions()
	o.HotFeedTTL = DefaultHotFeedTTL
	url, _, hc := tiertest.Serve(b, NewTier(d, pool, o).Handler())
	me := posttest.User(b, pool, "me")
	for i := range 50 {
		a := posttest.User(b, pool, fmt.Sprint("author ", i))
		posttest.Follow(b, pool, me, a)
		for j := range 10 {
			posttest.Post(b, pool, a, "post", fmt.Sprintf("post %d of author %d, long enough to look like a caption", j, i))
		}
	}
	tok := tiertest.Token(b, me)
	call := func() {
		req, _ := http.NewRequest(http.MethodPost, url+proc, bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Accept-Encoding", encoding)
		if encoding == "" {
			req.Header.Set("Accept-Encoding", "identity") // else net/http asks for gzip
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Encoding") != encoding {
			b.Fatalf("status %d, encoding %q", res.StatusCode, res.Header.Get("Content-Encoding"))
		}
	}
	call()
	start := cpuTime()
	for b.Loop() {
		call()
	}
	b.ReportMetric(float64((cpuTime()-start).Microseconds())/float64(b.N), "cpu-µs/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
