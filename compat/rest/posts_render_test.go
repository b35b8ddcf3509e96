package rest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	feedv1 "github.com/infliq/infliq/backend/gen/infliq/feed/v1"
	postv1 "github.com/infliq/infliq/backend/gen/infliq/post/v1"
)

// benchPosts is a global feed page as the bench serves it: 10 posts with
// authors, media and a liker; text is appended to every content and name.
func benchPosts(text string) []*postv1.Post {
	ps := make([]*postv1.Post, 10)
	at := time.Date(2026, 11, 27, 4, 0, 0, 123e6, time.UTC)
	for i := range ps {
		ps[i] = &postv1.Post{
			Id: fmt.Sprintf("6745a1b2c3d4e5f6a7b8c9%02d", i),
			Author: &commonv1.UserSummary{Id: fmt.Sprintf("6745a1b2c3d4e5f6a7b8d0%02d", i), Name: fmt.Sprintf("user %d", i*7919) + text,
				ProfilePicture: fmt.Sprintf("https://cdn.example.com/u/%d.jpg?a=1&b=<2>", i*7919), IsVerified: i%3 == 0},
			Type: postv1.PostType(i % 3), Content: fmt.Sprintf("post number %d", 199990+i) + text,
			MediaUrl: fmt.Sprintf("https://cdn.example.com/p/%d.jpg", 199990+i), MediaType: postv1.MediaType(i % 3),
			LikesCount: int32(i), CommentsCount: int32(i % 2), ViewsCount: int64(i) << 40, IsLiked: i == 2,
			LikerIds:  []string{"6745a1b2c3d4e5f6a7b8e000", "6745a1b2c3d4e5f6a7b8e001"},
			CreatedAt: timestamppb.New(at.Add(-time.Duration(i) * time.Minute)),
		}
		if i%4 == 1 {
			ps[i].RecentComments = []*postv1.Comment{{Id: "c1", Text: "nice" + text, Author: ps[i].Author, CreatedAt: ps[i].CreatedAt}}
		}
	}
	return ps
}

// tricky are strings whose escaping differs between JSON encoders if any
// does: HTML characters, controls, line separators, invalid UTF-8.
var tricky = []string{
	"", `<script>alert("x")</script> & 'q' \ /`, "line\nbreak\ttab\r\x00\x01\x1f\x7f\b\f",
	"\u2028\u2029 sep", "bad \xff\xfe utf8 \xc3", "emoji 😀 ü 中文", "\ufffd\ufeff",
}

// legacyBodies are one value of every reply type writeBody sends.
func legacyBodies(text string) []any {
	me := "6745a1b2c3d4e5f6a7b8e001"
	posts := renderPosts(benchPosts(text), me)
	at := timestamppb.New(time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC))
	story := renderStory(&feedv1.Story{Id: "s1", Author: &commonv1.UserSummary{Id: "u1", Name: text}, MediaUrl: "https://x/" + text,
		MediaType: postv1.MediaType_MEDIA_TYPE_VIDEO, Caption: text, Viewed: true, CreatedAt: at, ExpiresAt: at}, me)
	groups := []legacyStoryGroup{{User: story.UserID, HasUnviewed: true, Stories: []legacyStory{story, story}}}
	return []any{
		feedPage{Success: true, Page: 1, Posts: &posts, HasMore: true},
		feedPage{Success: true, Page: 3, Reels: &posts},
		feedPage{Success: true, Page: 2, Posts: &[]legacyPost{}},
		homeFeedReply{feedPage: feedPage{Success: true, Page: 1, Posts: &posts}},
		createPostReply{posts[1], true, posts[1]},
		likeReply{posts[2], true},
		postReply{Post: posts[3], Success: true},
		commentReply{Comment: posts[1].Comments[0], Success: true},
		messageReply{Message: text, Success: true},
		okReply{Success: true},
		storyReply{Story: story, Success: true},
		storyGroupsReply{Groups: groups, StoryGroups: groups, Success: true},
		storyFeedReply{Groups: groups, Stories: []legacyStoryEntry{{StoryID: "s1", Name: text, Caption: text}}, StoryGroups: groups, Success: true},
	}
}

// writeBody sends the same status, headers and bytes as writeJSON (which
// encodes with encoding/json), plus a Content-Length.
func TestWriteBodyMatchesEncodingJSON(t *testing.T) {
	for _, text := range tricky {
		for i, v := range legacyBodies(text) {
			sameBody(t, fmt.Sprintf("%q/%d %T", text, i, v), http.StatusCreated, v)
		}
	}
}

func sameBody(t *testing.T, name string, status int, v any) {
	t.Helper()
	want, got := httptest.NewRecorder(), httptest.NewRecorder()
	writeJSON(want, status, v)
	writeBody(got, status, v)
	if got.Code != want.Code || !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
		t.Fatalf("%s: %d %s\nwant %d %s", name, got.Code, got.Body, want.Code, want.Body)
	}
	if cl := got.Header().Get("Content-Length"); cl != strconv.Itoa(got.Body.Len()) {
		t.Fatalf("%s: Content-Length %q for %d bytes", name, cl, got.Body.Len())
	}
	got.Header().Del("Content-Length")
	for k, v := range want.Header() {
		if fmt.Sprint(got.Header()[k]) != fmt.Sprint(v) {
			t.Fatalf("%s: header %s %v, want %v", name, k, got.Header()[k], v)
		}
	}
	if len(got.Header()) != len(want.Header()) {
		t.Fatalf("%s: headers %v, want %v", name, got.Header(), want.Header())
	}
}

func TestISOTimeMatchesFormat(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	times := []time.Time{{}, time.Unix(0, 0), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 27, 4, 5, 6, 7e6, time.FixedZone("x", -5*3600))}
	for range 10000 {
		times = append(times, time.Unix(rng.Int64N(1<<36)-1<<35, rng.Int64N(1e9)))
	}
	for _, at := range times {
		if got, want := isoTime(at), at.UTC().Format("2006-01-02T15:04:05.000Z"); got != want {
			t.Fatalf("%v: %q, want %q", at, got, want)
		}
	}
}

func FuzzWriteBodyMatchesEncodingJSON(f *testing.F) {
	for _, s := range tricky {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for i, v := range legacyBodies(text) {
			sameBody(t, fmt.Sprintf("%q/%d", text, i), http.StatusOK, v)
		}
	})
}

// BenchmarkRenderPostsFeed renders and encodes a global feed page of 10
// posts: encoding/json (writeJSON) against writeBody.
func BenchmarkRenderPostsFeed(b *testing.B) {
	ps := benchPosts("")
	for _, c := range []struct {
		name  string
		write func(http.ResponseWriter, int, any)
	}{{"encoding-json", writeJSON}, {"writeBody", writeBody}} {
		b.Run(c.name, func(b *testing.B) {
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				out := feedPage{Success: true, Page: 1, Posts: &[]legacyPost{}}
				*out.Posts, out.HasMore = renderPosts(ps, "6745a1b2c3d4e5f6a7b8e000"), true
				c.write(w, http.StatusOK, out)
			}
			b.ReportMetric(float64(w.n)/float64(b.N), "bytes/op")
		})
	}
}

type discardWriter struct {
	h http.Header
	n int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Write(p []byte) (int, error) { d.n += len(p); return len(p), nil }
