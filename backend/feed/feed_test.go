package feed

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	feedv1 "github.com/infliq/infliq/backend/gen/infliq/feed/v1"
	"github.com/infliq/infliq/backend/gen/infliq/feed/v1/feedv1connect"
	postv1 "github.com/infliq/infliq/backend/gen/infliq/post/v1"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/logx"
	"github.com/infliq/infliq/backend/platform/mediaurl"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
	"github.com/infliq/infliq/backend/post/posttest"
)

type env struct {
	pool   *pgxpool.Pool
	client func(uid id.ID) feedv1connect.FeedServiceClient
}

func testOptions() Options {
	return Options{
		Stories:    config.Stories{MaxPerUser: 3, CreateWindow: config.Millis(time.Hour), CreateMax: 2, CaptionMaxLen: 10},
		S3:         config.S3{Bucket: "media", Region: "eu-west-1", CloudFrontDomain: "https://d111.cloudfront.net"},
		ProxyBases: []string{"http://localhost:3000"},
	}
}

func setup(t *testing.T, o Options) *env {
	t.Helper()
	pool := pgtest.New(t)
	url, h2c, h1 := tiertest.Serve(t, NewTier(tiertest.Deps(), pool, o).Handler())
	n := 0
	return &env{pool: pool, client: func(uid id.ID) feedv1connect.FeedServiceClient {
		n++
		if n%2 == 0 {
			return feedv1connect.NewFeedServiceClient(h1, url, tiertest.Bearer(tiertest.Token(t, uid)))
		}
		return feedv1connect.NewFeedServiceClient(h2c, url, connect.WithGRPC(), tiertest.Bearer(tiertest.Token(t, uid)))
	}}
}

func ids(posts []*postv1.Post) []string {
	out := make([]string, len(posts))
	for i, p := range posts {
		out[i] = p.Id
	}
	return out
}

func TestFeedsFollowAndBlockFilters(t *testing.T) {
	e := setup(t, testOptions())
	ctx := context.Background()
	me := posttest.User(t, e.pool, "me")
	friend := posttest.User(t, e.pool, "friend")
	stranger := posttest.User(t, e.pool, "stranger")
	iBlocked := posttest.User(t, e.pool, "iblocked")
	blocksMe := posttest.User(t, e.pool, "blocksme")
	posttest.Follow(t, e.pool, me, friend)
	posttest.Follow(t, e.pool, me, iBlocked)
	posttest.Follow(t, e.pool, me, blocksMe)
	posttest.Block(t, e.pool, me, iBlocked)
	posttest.Block(t, e.pool, blocksMe, me)

	mine := posttest.Post(t, e.pool, me, "post", "mine")
	friendReel := posttest.Post(t, e.pool, friend, "reel", "friend reel")
	strangerPost := posttest.Post(t, e.pool, stranger, "post", "stranger")
	strangerReel := posttest.Post(t, e.pool, stranger, "reel", "stranger reel")
	posttest.Post(t, e.pool, iBlocked, "post", "hidden1")
	posttest.Post(t, e.pool, blocksMe, "reel", "hidden2")

	c := e.client(me)
	home, err := c.HomeFeed(ctx, connect.NewRequest(&feedv1.HomeFeedRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(ids(home.Msg.Posts), ","), friendReel.String()+","+mine.String(); got != want {
		t.Fatalf("home = %s, want %s", got, want)
	}
	if a := home.Msg.Posts[0].Author; a.GetName() != "friend" || a.GetProfilePicture() == "" {
		t.Fatalf("author not populated: %+v", a)
	}
	global, err := c.GlobalFeed(ctx, connect.NewRequest(&feedv1.GlobalFeedRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{strangerReel.String(), strangerPost.String(), friendReel.String(), mine.String()}
	if got := strings.Join(ids(global.Msg.Posts), ","); got != strings.Join(want, ",") {
		t.Fatalf("global = %s, want %v", got, want)
	}
	reels, err := c.ReelsFeed(ctx, connect.NewRequest(&feedv1.ReelsFeedRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ids(reels.Msg.Reels), ","); got != strangerReel.String()+","+friendReel.String() {
		t.Fatalf("reels = %s", got)
	}
	// The blocked side sees none of my posts either.
	for _, uid := range []id.ID{iBlocked, blocksMe} {
		g, err := e.client(uid).GlobalFeed(ctx, connect.NewRequest(&feedv1.GlobalFeedRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range g.Msg.Posts {
			if p.Author.GetId() == me.String() {
				t.Fatalf("blocked user %s sees my post", uid)
			}
		}
	}
	// Legacy offsets and bad cursors.
	off, err := c.GlobalFeed(ctx, connect.NewRequest(&feedv1.GlobalFeedRequest{Page: &commonv1.PageRequest{Limit: 2}, Offset: &postv1.PageOffset{Offset: 2}}))
	if err != nil || strings.Join(ids(off.Msg.Posts), ",") != strings.Join(want[2:], ",") {
		t.Fatalf("offset page: %v %v", err, ids(off.Msg.GetPosts()))
	}
	hoff, err := c.HomeFeed(ctx, connect.NewRequest(&feedv1.HomeFeedRequest{Page: &commonv1.PageRequest{Limit: 1}, Offset: &postv1.PageOffset{Offset: 1}}))
	if err != nil || len(hoff.Msg.Posts) != 1 || hoff.Msg.Posts[0].Id != mine.String() || hoff.Msg.Page.NextCursor != "" {
		t.Fatalf("home offset page: %v", err)
	}
	for _, bad := range []*feedv1.GlobalFeedRequest{
		{Page: &commonv1.PageRequest{Cursor: "not-a-cursor"}},
		{Page: &commonv1.PageRequest{Limit: -1}},
		{Page: &commonv1.PageRequest{Limit: 1000}},
		{Offset: &postv1.PageOffset{Offset: -5}},
	} {
		if _, err := c.GlobalFeed(ctx, connect.NewRequest(bad)); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("bad page %+v: %v", bad, err)
		}
	}
}

// Paging with cursors while posts are being inserted returns every post
// that existed when paging started exactly once.
func TestCursorPaginationUnderConcurrentInserts(t *testing.T) {
	e := setup(t, testOptions())
	ctx := context.Background()
	me := posttest.User(t, e.pool, "me")
	authors := make([]id.ID, 5)
	for i := range authors {
		authors[i] = posttest.User(t, e.pool, fmt.Sprintf("a%d", i))
		posttest.Follow(t, e.pool, me, authors[i])
	}
	existing := map[string]bool{}
	for i := range 60 {
		existing[posttest.Post(t, e.pool, authors[i%5], "post", "p").String()] = true
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var inserted atomic.Int32
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			posttest.Post(t, e.pool, authors[i%5], "post", "new")
			inserted.Add(1)
		}
	}()
	c := e.client(me)
	for name, fetch := range map[string]func(cursor string) ([]*postv1.Post, string, error){
		"home": func(cur string) ([]*postv1.Post, string, error) {
			r, err := c.HomeFeed(ctx, connect.NewRequest(&feedv1.HomeFeedRequest{Page: &commonv1.PageRequest{Limit: 7, Cursor: cur}}))
			if err != nil {
				return nil, "", err
			}
			return r.Msg.Posts, r.Msg.Page.NextCursor, nil
		},
		"global": func(cur string) ([]*postv1.Post, string, error) {
			r, err := c.GlobalFeed(ctx, connect.NewRequest(&feedv1.GlobalFeedRequest{Page: &commonv1.PageRequest{Limit: 7, Cursor: cur}}))
			if err != nil {
				return nil, "", err
			}
			return r.Msg.Posts, r.Msg.Page.NextCursor, nil
		},
	} {
		seen := map[string]bool{}
		var prev string
		cur := ""
		for page := 0; ; page++ {
			posts, next, err := fetch(cur)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range posts {
				if seen[p.Id] {
					t.Fatalf("%s: duplicate %s", name, p.Id)
				}
				if prev != "" && p.Id >= prev {
					t.Fatalf("%s: not newest first", name)
				}
				seen[p.Id], prev = true, p.Id
			}
			if next == "" {
				break
			}
			cur = next
			if page > 1000 {
				t.Fatal("no end")
			}
		}
		for pid := range existing {
			if !seen[pid] {
				t.Fatalf("%s: gap, %s missing", name, pid)
			}
		}
	}
	close(stop)
	wg.Wait()
	if inserted.Load() == 0 {
		t.Log("no concurrent inserts happened")
	}
}

func TestStoriesLifecycle(t *testing.T) {
	e := setup(t, testOptions())
	ctx := context.Background()
	me := posttest.User(t, e.pool, "me")
	friend := posttest.User(t, e.pool, "friend")
	enemy := posttest.User(t, e.pool, "enemy")
	posttest.Follow(t, e.pool, me, friend)
	posttest.Follow(t, e.pool, me, enemy)
	posttest.Block(t, e.pool, enemy, me)
	cm, cf, ce := e.client(me), e.client(friend), e.client(enemy)
	create := func(c feedv1connect.FeedServiceClient, url string) (*feedv1.Story, error) {
		r, err := c.CreateStory(ctx, connect.NewRequest(&feedv1.CreateStoryRequest{MediaUrl: url, MediaType: postv1.MediaType_MEDIA_TYPE_VIDEO, Caption: " hi "}))
		if err != nil {
			return nil, err
		}
		return r.Msg.Story, nil
	}

	// Host rules.
	for url, want := range map[string]string{
		"http://media.s3.eu-west-1.amazonaws.com/a.jpg": "mediaUrl must be https",
		"https://evil.example.com/a.jpg":                "mediaUrl host is not allowed",
		"https://media.s3.amazonaws.com@evil.com/a.jpg": "Invalid mediaUrl format",
		"not a url":                         "Invalid mediaUrl format",
		"javascript:alert(1)":               "Invalid mediaUrl format",
		"http://localhost:3000/api/other/x": "mediaUrl must be https",
	} {
		_, err := create(cm, url)
		if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", url, err, want)
		}
	}
	if _, err := cm.CreateStory(ctx, connect.NewRequest(&feedv1.CreateStoryRequest{MediaUrl: "https://d111.cloudfront.net/a.jpg", Caption: strings.Repeat("é", 11)})); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("long caption: %v", err)
	}
	if _, err := cm.CreateStory(ctx, connect.NewRequest(&feedv1.CreateStoryRequest{})); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("empty: %v", err)
	}

	s1, err := create(cm, "https://media.s3.eu-west-1.amazonaws.com/a.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if s1.Caption != "hi" || s1.MediaType != postv1.MediaType_MEDIA_TYPE_VIDEO || s1.Author.GetId() != me.String() ||
		s1.ExpiresAt.AsTime().Sub(s1.CreatedAt.AsTime()) != 24*time.Hour {
		t.Fatalf("story: %+v", s1)
	}
	// Development proxy URLs on the gateway are accepted.
	s2, err := create(cm, "http://localhost:3000/api/media/proxy/stories%2Fb.jpg")
	if err != nil {
		t.Fatal(err)
	}
	// Window limit (2 per hour here).
	if _, err := create(cm, "https://d111.cloudfront.net/c.jpg"); connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Fatalf("window limit: %v", err)
	}
	// Age the first two out of the window; the active limit (3) then applies.
	if _, err := e.pool.Exec(ctx, `UPDATE stories SET created_at = now() - interval '2 hours' WHERE user_id = $1`, me); err != nil {
		t.Fatal(err)
	}
	if _, err := create(cm, "https://d111.cloudfront.net/c.jpg"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE stories SET created_at = now() - interval '2 hours' WHERE user_id = $1`, me); err != nil {
		t.Fatal(err)
	}
	if _, err := create(cm, "https://d111.cloudfront.net/d.jpg"); connect.CodeOf(err) != connect.CodeResourceExhausted || !strings.Contains(err.Error(), "Story limit reached") {
		t.Fatalf("active limit: %v", err)
	}

	f1, err := create(cf, "https://d111.cloudfront.net/f1.jpg")
	if err != nil {
		t.Fatal(err)
	}
	f2, err := create(cf, "https://d111.cloudfront.net/f2.jpg")
	if err != nil {
		t.Fatal(err)
	}
	enemyStory, err := create(ce, "https://d111.cloudfront.net/e.jpg")
	if err != nil {
		t.Fatal(err)
	}

	feed := func() []*feedv1.StoryGroup {
		t.Helper()
		r, err := cm.StoryFeed(ctx, connect.NewRequest(&feedv1.StoryFeedRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		return r.Msg.Groups
	}
	g := feed()
	if len(g) != 2 || g[0].Author.GetId() != me.String() || len(g[0].Stories) != 3 || g[1].Author.GetId() != friend.String() ||
		len(g[1].Stories) != 2 || g[1].Stories[0].Id != f2.Id || !g[1].HasUnviewed {
		t.Fatalf("groups: %+v", g)
	}
	// Viewing every story of a group clears hasUnviewed.
	for _, sid := range []string{f1.Id, f2.Id, f2.Id} {
		if _, err := cm.ViewStory(ctx, connect.NewRequest(&feedv1.ViewStoryRequest{StoryId: sid})); err != nil {
			t.Fatal(err)
		}
	}
	if g := feed(); g[1].HasUnviewed || !g[1].Stories[0].Viewed {
		t.Fatalf("after view: %+v", g[1])
	}
	// A blocked relation cannot view; unknown ids are NotFound; bad ids InvalidArgument.
	if _, err := cm.ViewStory(ctx, connect.NewRequest(&feedv1.ViewStoryRequest{StoryId: enemyStory.Id})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("blocked view: %v", err)
	}
	if _, err := cm.ViewStory(ctx, connect.NewRequest(&feedv1.ViewStoryRequest{StoryId: "nope"})); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("bad id: %v", err)
	}
	// Nobody deletes another user's story.
	if _, err := cf.DeleteStory(ctx, connect.NewRequest(&feedv1.DeleteStoryRequest{StoryId: s1.Id})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("foreign delete: %v", err)
	}
	if _, err := cm.DeleteStory(ctx, connect.NewRequest(&feedv1.DeleteStoryRequest{StoryId: s1.Id})); err != nil {
		t.Fatal(err)
	}

	// Expiry: hidden on read at once, removed by the cleanup job.
	if _, err := e.pool.Exec(ctx, `UPDATE stories SET expires_at = now() - interval '1 second' WHERE id = $1`, f1.Id); err != nil {
		t.Fatal(err)
	}
	if g := feed(); len(g[1].Stories) != 1 || g[1].Stories[0].Id != f2.Id {
		t.Fatalf("expired story still listed: %+v", g[1])
	}
	if _, err := cm.ViewStory(ctx, connect.NewRequest(&feedv1.ViewStoryRequest{StoryId: f1.Id})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("view expired: %v", err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { RunCleanup(runCtx, e.pool, 10*time.Millisecond, logx.Discard()); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM stories WHERE id = $1`, f1.Id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("cleanup job did not remove the expired story")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done // the job stops with its context
	var left int
	_ = e.pool.QueryRow(ctx, `SELECT count(*) FROM stories`).Scan(&left)
	if left != 4 { // me: s2 + c; friend: f2; enemy: e
		t.Fatalf("stories left = %d", left)
	}
	_ = s2
}

func TestAllowedHosts(t *testing.T) {
	if h := AllowedHosts(config.Stories{MediaAllowHosts: config.CSV{" CDN.example.com ", "https://x.example/"}}, config.S3{Bucket: "b"}); strings.Join(h, ",") != "cdn.example.com,x.example" {
		t.Fatalf("explicit: %v", h)
	}
	if h := AllowedHosts(config.Stories{}, config.S3{}); len(h) != 0 {
		t.Fatalf("none: %v", h)
	}
	// With no hosts configured any https host is accepted (legacy default).
	s := newService(nil, logx.Discard(), Options{Stories: config.Stories{CaptionMaxLen: 1}}, nil)
	if err := s.checkMediaURL("https://anything.example/a.jpg"); err != nil {
		t.Fatal(err)
	}
	if err := s.checkMediaURL("http://localhost:3000/api/media/proxy/x"); err == nil {
		t.Fatal("proxy URL accepted outside development")
	}
}

func FuzzCheckMediaURL(f *testing.F) {
	s := newService(nil, logx.Discard(), testOptions(), nil)
	for _, u := range []string{"https://d111.cloudfront.net/a", "http://x", "https://evil.com\\@d111.cloudfront.net", "%zz", "https://[::1]:80/", ""} {
		f.Add(u)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if err := s.checkMediaURL(raw); err == nil && !strings.HasPrefix(raw, "http://localhost:3000/api/media/proxy/") {
			if !strings.HasPrefix(strings.ToLower(raw), "https://") {
				t.Fatalf("accepted non-https %q", raw)
			}
		}
	})
}

// Concurrent creates cannot overshoot the per-window limit.
func TestStoryLimitsHoldUnderConcurrency(t *testing.T) {
	e := setup(t, testOptions()) // CreateMax 2 per hour
	me := posttest.User(t, e.pool, "me")
	c := e.client(me)
	var ok, limited atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.CreateStory(context.Background(), connect.NewRequest(&feedv1.CreateStoryRequest{MediaUrl: fmt.Sprintf("https://d111.cloudfront.net/%d.jpg", i)}))
			switch {
			case err == nil:
				ok.Add(1)
			case connect.CodeOf(err) == connect.CodeResourceExhausted:
				limited.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 2 || limited.Load() != 6 {
		t.Fatalf("created %d, limited %d", ok.Load(), limited.Load())
	}
}

// A client that accepts gzip gets a feed page gzipped (at BestSpeed, see
// NewTier) that decodes to the page.
func TestFeedPagesAreGzipped(t *testing.T) {
	pool := pgtest.New(t)
	url, _, hc := tiertest.Serve(t, NewTier(tiertest.Deps(), pool, testOptions()).Handler())
	me := posttest.User(t, pool, "me")
	for i := range 20 {
		posttest.Post(t, pool, me, "post", fmt.Sprintf("post number %d of a long enough page", i))
	}
	req, err := http.NewRequest(http.MethodPost, url+feedv1connect.FeedServiceHomeFeedProcedure, strings.NewReader(`{"page":{"limit":20}}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("Authorization", "Bearer "+tiertest.Token(t, me))
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("status %d, Content-Encoding %q", res.StatusCode, res.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Posts []struct {
			Content string `json:"content"`
		} `json:"posts"`
	}
	if err := json.NewDecoder(zr).Decode(&page); err != nil {
		t.Fatal(err)
	}
	if len(page.Posts) != 20 || page.Posts[0].Content != "post number 19 of a long enough page" {
		t.Fatalf("page: %+v", page)
	}
}

// Pages served from the shared snapshot resolve media once per snapshot
// and share its posts' authors and comments across requests: nothing on
// the way out (interceptors, codec) may write them. Concurrent pages
// through the whole tier, with media resolution on; run with -race.
func TestSnapshotPagesAreNotShared(t *testing.T) {
	pool := pgtest.New(t)
	r := mediaurl.New(config.S3{Bucket: "media", Region: "eu-west-1", CloudFrontDomain: "d111.cloudfront.net"})
	ctx := context.Background()
	me := posttest.User(t, pool, "me")
	author := posttest.User(t, pool, "author")
	posttest.Follow(t, pool, me, author)
	if _, err := pool.Exec(ctx, `UPDATE users SET profile_picture = 'avatars/author.jpg' WHERE id = $1`, author); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		p := posttest.Post(t, pool, author, "post", fmt.Sprint("post ", i))
		if _, err := pool.Exec(ctx, `UPDATE posts SET media_url = $2 WHERE id = $1`, p, fmt.Sprintf("posts/%d.jpg", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `INSERT INTO post_comments (id, post_id, user_id, text) SELECT $1, id, $2, 'hi' FROM posts ORDER BY id DESC LIMIT 1`, id.New(), author); err != nil {
		t.Fatal(err)
	}
	for _, ttl := range []time.Duration{time.Minute, 0} {
		d := tiertest.Deps()
		d.MediaURLs = r
		o := testOptions()
		o.HotFeedTTL = ttl
		h := NewTier(d, pool, o).Handler()
		tok := tiertest.Token(t, me)
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				// In process (no sockets), so only the tier's own
				// synchronisation orders the requests for the race detector.
				// Home and global, JSON and binary (as the gateway calls).
				proc := feedv1connect.FeedServiceHomeFeedProcedure
				if i%2 == 1 {
					proc = feedv1connect.FeedServiceGlobalFeedProcedure
				}
				ctype, body := "application/json", []byte(`{"page":{"limit":3}}`)
				if i%4 >= 2 {
					ctype = "application/proto"
					body, _ = proto.Marshal(&feedv1.GlobalFeedRequest{Page: &commonv1.PageRequest{Limit: 3}})
				}
				req := httptest.NewRequest(http.MethodPost, proc, bytes.NewReader(body))
				req.Header.Set("Content-Type", ctype)
				req.Header.Set("Authorization", "Bearer "+tok)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				// Home and global pages have the same fields.
				var page feedv1.GlobalFeedResponse
				err := proto.Unmarshal(rec.Body.Bytes(), &page)
				if ctype == "application/json" {
					err = protojson.Unmarshal(rec.Body.Bytes(), &page)
				}
				if err != nil || rec.Code != http.StatusOK || len(page.Posts) != 3 {
					t.Errorf("ttl %v %s %s: %d %s", ttl, proc, ctype, rec.Code, rec.Body)
					return
				}
				const avatar = "https://d111.cloudfront.net/avatars/author.jpg"
				for j, p := range page.Posts {
					if p.GetAuthor().GetProfilePicture() != avatar || p.GetMediaUrl() != fmt.Sprintf("https://d111.cloudfront.net/posts/%d.jpg", 4-j) {
						t.Errorf("ttl %v: media not resolved once: %v", ttl, p)
					}
				}
				if cs := page.Posts[0].GetRecentComments(); len(cs) != 1 || cs[0].GetAuthor().GetProfilePicture() != avatar {
					t.Errorf("ttl %v: comment author not resolved: %v", ttl, cs)
				}
			})
		}
		wg.Wait()
	}
}
