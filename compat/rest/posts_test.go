package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/infliq/infliq/backend/checks"
	"github.com/infliq/infliq/backend/feed"
	"github.com/infliq/infliq/backend/gateway"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/cache/redistest"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/httpx"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/logx"
	"github.com/infliq/infliq/backend/platform/metrics"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
	"github.com/infliq/infliq/backend/post"
	"github.com/infliq/infliq/backend/post/posttest"
)

// postStack runs the post and feed tiers behind a real gateway on loopback.
type postStack struct {
	pool *pgxpool.Pool
	base string
	hc   *http.Client
}

func newPostStack(t *testing.T) *postStack { return newPostStackB(t) }

func newPostStackB(t testing.TB) *postStack {
	t.Helper()
	pool := pgtest.New(t)
	b := bus.New(redistest.New(t), redistest.Prefix(), 100)
	postURL, _, _ := tiertest.Serve(t, post.NewTier(tiertest.Deps(), pool, b, config.Content{ModerationBlocklist: config.CSV{"hate", "spam", "kill"}}).Handler())
	feedURL, _, _ := tiertest.Serve(t, feed.NewTier(tiertest.Deps(), pool, feed.Options{
		Stories: config.Stories{MaxPerUser: 50, CreateWindow: config.Millis(600e9), CreateMax: 5, CaptionMaxLen: 300},
		S3:      config.S3{Bucket: "media", Region: "eu-west-1"},
	}).Handler())
	nowhere := "http://127.0.0.1:1"
	clients := NewClients(&http.Client{Transport: httpx.NewTransport()}, URLs{
		Auth: nowhere, User: nowhere, Post: postURL, Feed: feedURL, Chat: nowhere, Call: nowhere, Media: nowhere,
	})
	pu, _ := url.Parse(postURL)
	fu, _ := url.Parse(feedURL)
	gw := gateway.New(gateway.Options{
		Upstreams: gateway.Upstreams{"post": pu, "feed": fu},
		Legacy:    New(Deps{Log: logx.Discard(), Verifier: tiertest.Verifier(), Clients: clients}),
		Edge:      config.Gateway{MaxBodyBytes: 1 << 20},
		Log:       logx.Discard(),
		Metrics:   metrics.New(),
	})
	base, _, h1 := tiertest.Serve(t, gw)
	return &postStack{pool: pool, base: base, hc: h1}
}

func (s *postStack) call(t *testing.T, method, path string, uid id.ID, body any) reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequestWithContext(context.Background(), method, s.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if !uid.IsZero() {
		req.Header.Set("Authorization", "Bearer "+tiertest.Token(t, uid))
	}
	res, err := s.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := reply{status: res.StatusCode, raw: string(raw)}
	_ = json.Unmarshal(raw, &out.body)
	return out
}

// expect checks a reply's status (see want in auth_test.go for the code too).
func expect(t *testing.T, r reply, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }
func arr(v any) []any          { a, _ := v.([]any); return a }

func TestLegacyPostRoutesThroughGateway(t *testing.T) {
	s := newPostStack(t)
	me := posttest.User(t, s.pool, "me")
	other := posttest.User(t, s.pool, "other")

	// Auth, input and moderation errors are clear 4xx.
	expect(t, s.call(t, "GET", "/api/posts/feed?page=1&limit=10", id.Nil, nil), 401)
	expect(t, s.call(t, "POST", "/api/posts", me, `{"content":`), 400)
	expect(t, s.call(t, "POST", "/api/posts", me, map[string]any{"content": "  "}), 400)
	expect(t, s.call(t, "POST", "/api/posts", me, map[string]any{"content": "x", "type": "story"}), 400)
	expect(t, s.call(t, "POST", "/api/posts", me, map[string]any{"content": "x", "mediaType": "gif"}), 400)
	expect(t, s.call(t, "POST", "/api/posts", me, map[string]any{"content": 5}), 400)
	r := s.call(t, "POST", "/api/posts", me, map[string]any{"content": "we KILL it"})
	expect(t, r, 400)
	if r.body["reason"] != "moderation_blocked" || r.body["code"] != "BAD_REQUEST" || r.body["error"] == nil {
		t.Fatalf("moderation body: %s", r.raw)
	}

	// Mass assignment is ignored (S15): owner, likes and dates come from the server.
	r = s.call(t, "POST", "/api/posts", me, map[string]any{
		"content": "hello world", "type": "post", "mediaUrl": "https://cdn.example.com/a.jpg", "mediaType": "image",
		"userId": other.String(), "likes": []string{other.String()}, "createdAt": "2001-01-01T00:00:00Z",
	})
	expect(t, r, 200)
	pid, _ := r.body["_id"].(string)
	if pid == "" || r.body["id"] != pid || r.body["content"] != "hello world" || r.body["caption"] != "hello world" ||
		r.body["success"] != true || obj(r.body["post"])["_id"] != pid || obj(r.body["userId"])["_id"] != me.String() ||
		len(arr(r.body["likes"])) != 0 || strings.HasPrefix(r.body["createdAt"].(string), "2001") || r.body["mediaType"] != "image" {
		t.Fatalf("create: %s", r.raw)
	}
	r = s.call(t, "POST", "/api/posts", other, map[string]any{"caption": "a reel", "type": "reel", "mediaUrl": "https://cdn.example.com/r.mp4", "mediaType": "video"})
	expect(t, r, 200)
	reelID := r.body["_id"].(string)

	// Feeds: /api/posts/feed is not shadowed by /api/posts/:id (B2).
	r = s.call(t, "GET", "/api/posts/feed?page=1&limit=10", me, nil)
	expect(t, r, 200)
	posts := arr(r.body["posts"])
	if len(posts) != 2 || obj(posts[0])["_id"] != reelID || r.body["hasMore"] != false || r.body["page"] != float64(1) {
		t.Fatalf("feed: %s", r.raw)
	}
	u := obj(obj(posts[0])["userId"])
	for _, k := range []string{"_id", "id", "name", "profilePicture", "profilePhoto", "isVerified"} {
		if _, ok := u[k]; !ok {
			t.Fatalf("userId lacks %s: %v", k, u)
		}
	}
	if u["profilePicture"] == "" || u["profilePicture"] != u["profilePhoto"] {
		t.Fatalf("author picture: %v", u)
	}
	p0 := obj(posts[0])
	for _, k := range []string{"content", "caption", "mediaType", "likes", "likesCount", "commentsCount", "isLiked", "comments", "type", "createdAt"} {
		if _, ok := p0[k]; !ok {
			t.Fatalf("post lacks %s: %v", k, p0)
		}
	}
	for _, path := range []string{"/api/reels/feed?page=1&limit=10", "/api/posts/reels"} {
		r = s.call(t, "GET", path, me, nil)
		expect(t, r, 200)
		if reels := arr(r.body["reels"]); len(reels) != 1 || obj(reels[0])["_id"] != reelID || obj(reels[0])["content"] != "a reel" {
			t.Fatalf("%s: %s", path, r.raw)
		}
	}

	// Like toggles.
	r = s.call(t, "POST", "/api/posts/"+pid+"/like", other, nil)
	expect(t, r, 200)
	if r.body["isLiked"] != true || r.body["likesCount"] != float64(1) || arr(r.body["likes"])[0] != other.String() || r.body["_id"] != pid {
		t.Fatalf("like: %s", r.raw)
	}
	r = s.call(t, "POST", "/api/posts/"+pid+"/like", other, nil)
	if r.body["isLiked"] != false || r.body["likesCount"] != float64(0) || len(arr(r.body["likes"])) != 0 {
		t.Fatalf("unlike: %s", r.raw)
	}
	expect(t, s.call(t, "POST", "/api/posts/"+id.New().String()+"/like", other, nil), 404)
	expect(t, s.call(t, "POST", "/api/posts/not-an-id/like", other, nil), 400)

	r = s.call(t, "POST", "/api/posts/"+pid+"/comment", other, map[string]any{"text": " nice "})
	expect(t, r, 200)
	if c := obj(r.body["comment"]); c["text"] != "nice" || obj(c["userId"])["_id"] != other.String() {
		t.Fatalf("comment: %s", r.raw)
	}
	expect(t, s.call(t, "POST", "/api/posts/"+pid+"/comment", other, map[string]any{}), 400)
	expect(t, s.call(t, "POST", "/api/posts/"+pid+"/comment", other, map[string]any{"text": "spam"}), 400)
	expect(t, s.call(t, "POST", "/api/posts/"+pid+"/view", other, nil), 200)
	expect(t, s.call(t, "POST", "/api/posts/"+pid+"/report", other, map[string]any{"reason": "inappropriate_content", "details": "Reported from feed"}), 200)
	var reports int
	_ = s.pool.QueryRow(context.Background(), `SELECT count(*) FROM post_reports WHERE post_id = $1 AND reporter_id = $2`, pid, other).Scan(&reports)
	if reports != 1 {
		t.Fatalf("reports = %d", reports)
	}

	r = s.call(t, "GET", "/api/posts/"+pid, other, nil)
	expect(t, r, 200)
	if p := obj(r.body["post"]); p["commentsCount"] != float64(1) || p["views"] != float64(1) ||
		len(arr(p["comments"])) != 1 || obj(arr(p["comments"])[0])["text"] != "nice" ||
		obj(obj(arr(p["comments"])[0])["userId"])["_id"] != other.String() {
		t.Fatalf("get: %s", r.raw)
	}
	r = s.call(t, "GET", "/api/posts/user/"+me.String(), other, nil)
	expect(t, r, 200)
	if len(arr(r.body["posts"])) != 1 {
		t.Fatalf("user posts: %s", r.raw)
	}
	expect(t, s.call(t, "GET", "/api/posts/user/nope", other, nil), 400)

	// Deleting someone else's post is refused with 404 (a 403 logs the app out).
	expect(t, s.call(t, "DELETE", "/api/posts/"+pid, other, nil), 404)
	r = s.call(t, "DELETE", "/api/posts/"+pid, me, nil)
	expect(t, r, 200)
	expect(t, s.call(t, "GET", "/api/posts/"+pid, me, nil), 404)
}

func TestLegacyPagingCapsAndOffsets(t *testing.T) {
	s := newPostStack(t)
	me := posttest.User(t, s.pool, "me")
	var all []string
	for i := range 60 {
		all = append(all, posttest.Post(t, s.pool, me, "post", fmt.Sprint(i)).String())
	}
	r := s.call(t, "GET", "/api/posts/feed?page=1&limit=1000", me, nil)
	expect(t, r, 200)
	if n := len(arr(r.body["posts"])); n != 50 || r.body["hasMore"] != true {
		t.Fatalf("limit cap: %d %v", n, r.body["hasMore"])
	}
	r = s.call(t, "GET", "/api/posts/feed?page=2&limit=10", me, nil)
	if ps := arr(r.body["posts"]); len(ps) != 10 || obj(ps[0])["_id"] != all[49] {
		t.Fatalf("page 2: %s", r.raw)
	}
	r = s.call(t, "GET", "/api/posts/feed?page=6&limit=10", me, nil)
	if ps := arr(r.body["posts"]); len(ps) != 10 || r.body["hasMore"] != false {
		t.Fatalf("last page: %d %v", len(ps), r.body["hasMore"])
	}
	for _, q := range []string{"page=999999999&limit=10", "page=abc&limit=-4", "skip=-3", "page=1&limit=10&skip=99999"} {
		expect(t, s.call(t, "GET", "/api/posts/feed?"+q, me, nil), 200)
	}
	r = s.call(t, "GET", "/api/feed?limit=5&skip=5", me, nil)
	expect(t, r, 200)
	if ps := arr(r.body["posts"]); len(ps) != 5 || obj(ps[0])["_id"] != all[54] || r.body["cached"] != false {
		t.Fatalf("/api/feed: %s", r.raw)
	}
}

func TestLegacyStoryRoutesThroughGateway(t *testing.T) {
	s := newPostStack(t)
	me := posttest.User(t, s.pool, "me")
	friend := posttest.User(t, s.pool, "friend1")
	posttest.Follow(t, s.pool, me, friend)
	host := "https://media.s3.eu-west-1.amazonaws.com/"

	expect(t, s.call(t, "POST", "/api/stories", me, map[string]any{}), 400)
	expect(t, s.call(t, "POST", "/api/stories", me, map[string]any{"mediaUrl": "http://media.s3.eu-west-1.amazonaws.com/a.jpg"}), 400)
	expect(t, s.call(t, "POST", "/api/stories", me, map[string]any{"mediaUrl": "https://evil.example/a.jpg"}), 400)
	expect(t, s.call(t, "POST", "/api/stories", me, map[string]any{"mediaUrl": host + "a.jpg", "mediaType": "gif"}), 400)
	r := s.call(t, "POST", "/api/stories", me, map[string]any{"mediaUrl": host + "a.jpg", "mediaType": "image"})
	expect(t, r, 200)
	mine := obj(r.body["story"])["_id"].(string)
	r = s.call(t, "POST", "/api/feed/stories", friend, map[string]any{"mediaUrl": host + "b.mp4", "mediaType": "video", "caption": "hey"})
	expect(t, r, 201)
	st := obj(r.body["story"])
	theirs := st["_id"].(string)
	if st["mediaType"] != "video" || st["caption"] != "hey" || obj(st["userId"])["_id"] != friend.String() || st["expiresAt"] == nil {
		t.Fatalf("feed story: %s", r.raw)
	}

	r = s.call(t, "GET", "/api/stories/feed", me, nil)
	expect(t, r, 200)
	groups := arr(r.body["groups"])
	if len(groups) != 2 || len(arr(r.body["storyGroups"])) != 2 {
		t.Fatalf("groups: %s", r.raw)
	}
	g0, g1 := obj(groups[0]), obj(groups[1])
	if obj(g0["user"])["_id"] != me.String() || obj(g1["user"])["_id"] != friend.String() || g1["hasUnviewed"] != true {
		t.Fatalf("group order: %s", r.raw)
	}
	fu := obj(g1["user"])
	if _, ok := fu["verified"]; !ok || fu["verified"] != fu["isVerified"] || fu["profilePicture"] == nil {
		t.Fatalf("group user: %v", fu)
	}
	s0 := obj(arr(g1["stories"])[0])
	for _, k := range []string{"_id", "mediaUrl", "mediaType", "createdAt"} {
		if s0[k] == nil {
			t.Fatalf("story lacks %s: %v", k, s0)
		}
	}

	expect(t, s.call(t, "POST", "/api/stories/"+theirs+"/view", me, nil), 200)
	expect(t, s.call(t, "POST", "/api/feed/stories/"+theirs+"/view", me, nil), 200)
	expect(t, s.call(t, "POST", "/api/stories/bad/view", me, nil), 400)
	r = s.call(t, "GET", "/api/feed/stories", me, nil)
	expect(t, r, 200)
	entries := arr(r.body["stories"])
	if len(entries) != 2 || obj(entries[1])["seen"] != true || obj(entries[1])["storyId"] != theirs || len(arr(r.body["groups"])) != 2 {
		t.Fatalf("/api/feed/stories: %s", r.raw)
	}

	// Nobody deletes someone else's story.
	expect(t, s.call(t, "DELETE", "/api/stories/"+mine, friend, nil), 404)
	expect(t, s.call(t, "DELETE", "/api/feed/stories/"+theirs, me, nil), 404)
	expect(t, s.call(t, "DELETE", "/api/stories/"+mine, me, nil), 200)
	expect(t, s.call(t, "DELETE", "/api/feed/stories/"+theirs, friend, nil), 200)
	r = s.call(t, "GET", "/api/stories/feed", me, nil)
	if len(arr(r.body["groups"])) != 0 {
		t.Fatalf("after delete: %s", r.raw)
	}
}

// The `infliq contracts` and `infliq smoke` checks for this domain pass
// against the real stack (other domains' checks are not wired here).
func TestPostChecksPassAgainstGateway(t *testing.T) {
	s := newPostStack(t)
	me := posttest.User(t, s.pool, "me")
	friend := posttest.User(t, s.pool, "friend")
	posttest.Follow(t, s.pool, me, friend)
	expect(t, s.call(t, "POST", "/api/posts", friend, map[string]any{"content": "hi", "mediaUrl": "https://cdn.example.com/x.jpg", "mediaType": "image"}), 200)
	expect(t, s.call(t, "POST", "/api/stories", friend, map[string]any{"mediaUrl": "https://media.s3.amazonaws.com/s.jpg"}), 200)
	tok := tiertest.Token(t, me)

	var out bytes.Buffer
	checks.Contracts(context.Background(), checks.ContractConfig{BaseURL: s.base, Timeout: 10 * time.Second, JWT: tok}, &out)
	mine := []string{"posts: /api/posts/feed", "posts: /api/stories/feed", "posts feed payload contract", "reels routes are not shadowed",
		"stories feed payload contract", "post create/validation contract", "feed (MS) payload contract"}
	for _, name := range mine {
		if !strings.Contains(out.String(), "PASS "+name) {
			t.Errorf("contract %q did not pass:\n%s", name, out.String())
		}
	}
	out.Reset()
	checks.Smoke(context.Background(), checks.SmokeConfig{BaseURL: s.base, Timeout: 10 * time.Second, JWT: tok}, &out)
	for _, name := range []string{"protected posts feed", "protected reels feed", "protected stories feed"} {
		if !strings.Contains(out.String(), "PASS "+name) {
			t.Errorf("smoke %q did not pass:\n%s", name, out.String())
		}
	}
}

// BenchmarkLegacyPostsFeed measures GET /api/posts/feed?page=1&limit=10
// end to end in one process: gateway, legacy router, Connect hop to the feed
// tier, the read-model query and both JSON/protobuf encodings.
func BenchmarkLegacyPostsFeed(b *testing.B) {
	s := newPostStackB(b)
	me := posttest.User(b, s.pool, "me")
	for i := range 200 {
		posttest.Post(b, s.pool, me, "post", fmt.Sprint(i))
	}
	req, _ := http.NewRequest("GET", s.base+"/api/posts/feed?page=1&limit=10", nil)
	req.Header.Set("Authorization", "Bearer "+tiertest.Token(b, me))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := s.hc.Do(req.Clone(context.Background()))
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Fatal(res.Status)
			}
		}
	})
}

// The typed replies encode to the same bytes as the map replies they
// replaced (encoding/json sorts map keys; the struct fields follow that order).
func TestTypedRepliesMatchMapReplies(t *testing.T) {
	post := legacyPost{ID: "p1", Likes: []string{"u1"}, Comments: []legacyComment{}}
	comment := legacyComment{ID: "c1", Text: "hi"}
	story := legacyStory{ID: "s1"}
	groups := []legacyStoryGroup{{Stories: []legacyStory{story}}}
	entries := []legacyStoryEntry{{StoryID: "s1"}}
	for i, c := range []struct{ typed, asMap any }{
		{okReply{Success: true}, map[string]any{"success": true}},
		{messageReply{Message: "m", Success: true}, map[string]any{"success": true, "message": "m"}},
		{postReply{Post: post, Success: true}, map[string]any{"success": true, "post": post}},
		{commentReply{Comment: comment, Success: true}, map[string]any{"success": true, "comment": comment}},
		{storyReply{Story: story, Success: true}, map[string]any{"success": true, "story": story}},
		{storyGroupsReply{Groups: groups, StoryGroups: groups, Success: true}, map[string]any{"success": true, "groups": groups, "storyGroups": groups}},
		{storyFeedReply{Groups: groups, Stories: entries, StoryGroups: groups, Success: true},
			map[string]any{"success": true, "stories": entries, "groups": groups, "storyGroups": groups}},
	} {
		a, errA := json.Marshal(c.typed)
		b, errB := json.Marshal(c.asMap)
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Fatalf("%d: %s != %s (%v %v)", i, a, b, errA, errB)
		}
	}
}
