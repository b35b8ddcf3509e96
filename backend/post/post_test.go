package post

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	postv1 "github.com/infliq/infliq/backend/gen/infliq/post/v1"
	"github.com/infliq/infliq/backend/gen/infliq/post/v1/postv1connect"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/cache/redistest"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
	"github.com/infliq/infliq/backend/post/posttest"
)

type env struct {
	pool   *pgxpool.Pool
	bus    *bus.Redis
	url    string
	client func(uid id.ID, opts ...connect.ClientOption) postv1connect.PostServiceClient
}

var blocklist = strings.Split("hate,spam,kill,hate speech", ",")

func setup(t *testing.T) *env {
	t.Helper()
	pool := pgtest.New(t)
	rdb := redistest.New(t)
	b := bus.New(rdb, redistest.Prefix(), 100)
	url, h2c, h1 := tiertest.Serve(t, NewTier(tiertest.Deps(), pool, b, config.Content{ModerationBlocklist: blocklist}).Handler())
	e := &env{pool: pool, bus: b, url: url}
	n := 0
	e.client = func(uid id.ID, opts ...connect.ClientOption) postv1connect.PostServiceClient {
		n++
		// Alternate gRPC over h2c and the Connect protocol over HTTP/1.1.
		if n%2 == 0 {
			return postv1connect.NewPostServiceClient(h1, url, append(opts, tiertest.Bearer(tiertest.Token(t, uid)))...)
		}
		return postv1connect.NewPostServiceClient(h2c, url, append(opts, connect.WithGRPC(), tiertest.Bearer(tiertest.Token(t, uid)))...)
	}
	return e
}

func code(err error) connect.Code { return connect.CodeOf(err) }

func reason(err error) string {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return ""
	}
	for _, d := range ce.Details() {
		if v, _ := d.Value(); v != nil {
			if info, ok := v.(*errdetails.ErrorInfo); ok {
				return info.GetReason()
			}
		}
	}
	return ""
}

func TestCreateGetDeleteAndAuthorization(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	alice := posttest.User(t, e.pool, "alice")
	bob := posttest.User(t, e.pool, "bob")
	ca, cb := e.client(alice), e.client(bob)

	res, err := ca.CreatePost(ctx, connect.NewRequest(&postv1.CreatePostRequest{
		Type: postv1.PostType_POST_TYPE_REEL, Content: "  sunset reel  ", MediaUrl: "https://cdn.example.com/a.mp4",
		MediaType: postv1.MediaType_MEDIA_TYPE_VIDEO, IdempotencyKey: "k1",
	}))
	if err != nil {
		t.Fatal(err)
	}
	p := res.Msg.Post
	if !res.Msg.Created || p.Content != "sunset reel" || p.Type != postv1.PostType_POST_TYPE_REEL || p.Author.GetId() != alice.String() ||
		p.Author.GetName() != "alice" || p.MediaType != postv1.MediaType_MEDIA_TYPE_VIDEO || p.LikesCount != 0 {
		t.Fatalf("created: %+v", p)
	}
	// Idempotent retry returns the same post.
	again, err := ca.CreatePost(ctx, connect.NewRequest(&postv1.CreatePostRequest{Content: "different", IdempotencyKey: "k1"}))
	if err != nil || again.Msg.Created || again.Msg.Post.Id != p.Id {
		t.Fatalf("retry: %v %+v", err, again)
	}
	var n int
	_ = e.pool.QueryRow(ctx, `SELECT count(*) FROM posts`).Scan(&n)
	if n != 1 {
		t.Fatalf("posts = %d", n)
	}

	got, err := cb.GetPost(ctx, connect.NewRequest(&postv1.GetPostRequest{PostId: p.Id}))
	if err != nil || got.Msg.Post.Id != p.Id {
		t.Fatalf("get: %v", err)
	}
	list, err := cb.ListUserPosts(ctx, connect.NewRequest(&postv1.ListUserPostsRequest{UserId: alice.String()}))
	if err != nil || len(list.Msg.Posts) != 1 {
		t.Fatalf("list: %v", err)
	}

	// Bob cannot delete Alice's post.
	if _, err := cb.DeletePost(ctx, connect.NewRequest(&postv1.DeletePostRequest{PostId: p.Id})); code(err) != connect.CodePermissionDenied {
		t.Fatalf("bob delete: %v", err)
	}
	if _, err := ca.DeletePost(ctx, connect.NewRequest(&postv1.DeletePostRequest{PostId: p.Id})); err != nil {
		t.Fatal(err)
	}
	if _, err := cb.GetPost(ctx, connect.NewRequest(&postv1.GetPostRequest{PostId: p.Id})); code(err) != connect.CodeNotFound {
		t.Fatalf("get deleted: %v", err)
	}
	if _, err := ca.DeletePost(ctx, connect.NewRequest(&postv1.DeletePostRequest{PostId: p.Id})); code(err) != connect.CodeNotFound {
		t.Fatalf("delete twice: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	alice := posttest.User(t, e.pool, "alice")
	ca := e.client(alice)
	bad := []*postv1.CreatePostRequest{
		{Content: "   "},
		{Type: postv1.PostType(42), Content: "x"},
		{MediaType: postv1.MediaType(9), Content: "x"},
		{Content: strings.Repeat("a", 2201)},
		{MediaUrl: strings.Repeat("a", 3000)},
	}
	for i, r := range bad {
		if _, err := ca.CreatePost(ctx, connect.NewRequest(r)); code(err) != connect.CodeInvalidArgument {
			t.Errorf("case %d: %v", i, err)
		}
	}
	_, err := ca.CreatePost(ctx, connect.NewRequest(&postv1.CreatePostRequest{Content: "I HATE mondays"}))
	if code(err) != connect.CodeInvalidArgument || reason(err) != "moderation_blocked" {
		t.Fatalf("moderation: %v (%s)", err, reason(err))
	}
	if _, err := ca.CreatePost(ctx, connect.NewRequest(&postv1.CreatePostRequest{Content: "new skills, killer app"})); err != nil {
		t.Fatalf("whole-word moderation: %v", err)
	}
	for _, pid := range []string{"", "../../etc", "ZZZZZZZZZZZZZZZZZZZZZZZZ"} {
		if _, err := ca.GetPost(ctx, connect.NewRequest(&postv1.GetPostRequest{PostId: pid})); code(err) != connect.CodeInvalidArgument {
			t.Errorf("get %q: %v", pid, err)
		}
	}
	if _, err := ca.ListUserPosts(ctx, connect.NewRequest(&postv1.ListUserPostsRequest{UserId: alice.String(), Page: &commonv1.PageRequest{Cursor: "!!"}})); code(err) != connect.CodeInvalidArgument {
		t.Errorf("bad cursor: %v", err)
	}
	if _, err := ca.AddComment(ctx, connect.NewRequest(&postv1.AddCommentRequest{PostId: id.New().String(), Text: ""})); code(err) != connect.CodeInvalidArgument {
		t.Errorf("empty comment: %v", err)
	}
	if _, err := ca.ReportPost(ctx, connect.NewRequest(&postv1.ReportPostRequest{PostId: id.New().String(), Reason: "  "})); code(err) != connect.CodeInvalidArgument {
		t.Errorf("blank reason: %v", err)
	}
	// Unknown post ids are NotFound, never Internal.
	for _, call := range []func() error{
		func() error {
			_, err := ca.LikePost(ctx, connect.NewRequest(&postv1.LikePostRequest{PostId: id.New().String()}))
			return err
		},
		func() error {
			_, err := ca.RecordView(ctx, connect.NewRequest(&postv1.RecordViewRequest{PostId: id.New().String()}))
			return err
		},
		func() error {
			_, err := ca.AddComment(ctx, connect.NewRequest(&postv1.AddCommentRequest{PostId: id.New().String(), Text: "hi"}))
			return err
		},
	} {
		if err := call(); code(err) != connect.CodeNotFound {
			t.Errorf("unknown post: %v", err)
		}
	}
}

func TestUnauthenticated(t *testing.T) {
	e := setup(t)
	c := postv1connect.NewPostServiceClient(http.DefaultClient, e.url)
	if _, err := c.CreatePost(context.Background(), connect.NewRequest(&postv1.CreatePostRequest{Content: "x"})); code(err) != connect.CodeUnauthenticated {
		t.Fatalf("anon: %v", err)
	}
	if _, err := c.GetLimits(context.Background(), connect.NewRequest(&postv1.GetLimitsRequest{})); err != nil {
		t.Fatalf("limits are public: %v", err)
	}
}

func TestLikesUnderConcurrency(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	owner := posttest.User(t, e.pool, "owner")
	pid := posttest.Post(t, e.pool, owner, "post", "hot")
	const users = 24
	likers := make([]id.ID, users)
	for i := range likers {
		likers[i] = posttest.User(t, e.pool, fmt.Sprintf("u%d", i))
	}
	run := func(fn func(i int) error) {
		var wg sync.WaitGroup
		errs := make(chan error, users*4)
		for i := range users {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := fn(i); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	check := func(want int) {
		t.Helper()
		cnt, rows := likeCounts(t, e.pool, pid)
		if cnt != want || rows != want {
			t.Fatalf("likes_count=%d rows=%d want %d", cnt, rows, want)
		}
	}
	clients := make([]postv1connect.PostServiceClient, users)
	for i := range clients {
		clients[i] = e.client(likers[i])
	}
	// Every user likes twice concurrently: idempotent.
	run(func(i int) error {
		for range 2 {
			if _, err := clients[i].LikePost(ctx, connect.NewRequest(&postv1.LikePostRequest{PostId: pid.String()})); err != nil {
				return err
			}
		}
		return nil
	})
	check(users)
	// Half unlike.
	run(func(i int) error {
		if i%2 == 1 {
			return nil
		}
		_, err := clients[i].UnlikePost(ctx, connect.NewRequest(&postv1.UnlikePostRequest{PostId: pid.String()}))
		return err
	})
	check(users / 2)
	// Everyone toggles three times (concurrently with each other): each user's
	// state flips, so the count becomes users - users/2.
	run(func(i int) error {
		for range 3 {
			if _, err := clients[i].ToggleLike(ctx, connect.NewRequest(&postv1.ToggleLikeRequest{PostId: pid.String()})); err != nil {
				return err
			}
		}
		return nil
	})
	check(users - users/2)
	res, err := clients[1].GetPost(ctx, connect.NewRequest(&postv1.GetPostRequest{PostId: pid.String()}))
	if err != nil {
		t.Fatal(err)
	}
	// User 1 liked, then toggled 3 times → not liked.
	if res.Msg.Post.IsLiked || int(res.Msg.Post.LikesCount) != users/2 || len(res.Msg.Post.LikerIds) != users/2 {
		t.Fatalf("post: liked=%v count=%d likers=%d", res.Msg.Post.IsLiked, res.Msg.Post.LikesCount, len(res.Msg.Post.LikerIds))
	}
}

func TestCommentsViewsReportsAndNotifications(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	owner := posttest.User(t, e.pool, "owner")
	fan := posttest.User(t, e.pool, "fan")
	other := posttest.User(t, e.pool, "other")
	co, cf, cx := e.client(owner), e.client(fan), e.client(other)

	created, err := co.CreatePost(ctx, connect.NewRequest(&postv1.CreatePostRequest{Content: "hello"}))
	if err != nil {
		t.Fatal(err)
	}
	pid := created.Msg.Post.Id
	// The owner's own like notifies nobody; the fan's like does.
	if _, err := co.LikePost(ctx, connect.NewRequest(&postv1.LikePostRequest{PostId: pid})); err != nil {
		t.Fatal(err)
	}
	if _, err := cf.LikePost(ctx, connect.NewRequest(&postv1.LikePostRequest{PostId: pid})); err != nil {
		t.Fatal(err)
	}
	// Records for the notify tier (which groups them and emits the
	// notifications): the fan's like, not the owner's own.
	records := func() []bus.Record {
		t.Helper()
		recs, err := e.bus.PeekRecords(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	if recs := records(); len(recs) != 1 || recs[0].Kind != bus.RecLike || recs[0].Actor != fan ||
		recs[0].To[0] != owner || recs[0].Subject.String() != pid {
		t.Fatalf("like records: %+v", recs)
	}

	c, err := cf.AddComment(ctx, connect.NewRequest(&postv1.AddCommentRequest{PostId: pid, Text: "  great shot  "}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Msg.Comment.Text != "great shot" || c.Msg.Comment.Author.GetName() != "fan" {
		t.Fatalf("comment: %+v", c.Msg.Comment)
	}
	var comment *bus.Record
	for _, r := range records() {
		if r.Kind == bus.RecComment {
			comment = &r
		}
	}
	if comment == nil || comment.Text != "great shot" || comment.Actor != fan || comment.To[0] != owner || comment.Item.String() != c.Msg.Comment.Id {
		t.Fatalf("comment record: %+v", comment)
	}
	if _, err := cf.AddComment(ctx, connect.NewRequest(&postv1.AddCommentRequest{PostId: pid, Text: "spam spam"})); reason(err) != "moderation_blocked" {
		t.Fatalf("comment moderation: %v", err)
	}
	c2, err := cx.AddComment(ctx, connect.NewRequest(&postv1.AddCommentRequest{PostId: pid, Text: "second"}))
	if err != nil {
		t.Fatal(err)
	}
	withComments, err := co.GetPost(ctx, connect.NewRequest(&postv1.GetPostRequest{PostId: pid}))
	if err != nil {
		t.Fatal(err)
	}
	if rc := withComments.Msg.Post.RecentComments; len(rc) != 2 || rc[0].Id != c2.Msg.Comment.Id || rc[1].Text != "great shot" ||
		rc[1].Author.GetName() != "fan" || rc[1].CreatedAt.AsTime().IsZero() || withComments.Msg.Post.CommentsCount != 2 {
		t.Fatalf("recent comments: %+v", rc)
	}
	lc, err := cx.ListComments(ctx, connect.NewRequest(&postv1.ListCommentsRequest{PostId: pid, Page: &commonv1.PageRequest{Limit: 1}}))
	if err != nil || len(lc.Msg.Comments) != 1 || lc.Msg.Comments[0].Id != c2.Msg.Comment.Id || lc.Msg.Page.NextCursor == "" {
		t.Fatalf("list comments: %v %+v", err, lc)
	}
	lc2, err := cx.ListComments(ctx, connect.NewRequest(&postv1.ListCommentsRequest{PostId: pid, Page: &commonv1.PageRequest{Limit: 1, Cursor: lc.Msg.Page.NextCursor}}))
	if err != nil || len(lc2.Msg.Comments) != 1 || lc2.Msg.Comments[0].Id != c.Msg.Comment.Id {
		t.Fatalf("list comments page 2: %v", err)
	}
	// A third party cannot delete the fan's comment; the post owner can.
	if _, err := cx.DeleteComment(ctx, connect.NewRequest(&postv1.DeleteCommentRequest{PostId: pid, CommentId: c.Msg.Comment.Id})); code(err) != connect.CodePermissionDenied {
		t.Fatalf("third-party delete: %v", err)
	}
	if _, err := co.DeleteComment(ctx, connect.NewRequest(&postv1.DeleteCommentRequest{PostId: pid, CommentId: c.Msg.Comment.Id})); err != nil {
		t.Fatal(err)
	}
	// The author deletes their own.
	if _, err := cx.DeleteComment(ctx, connect.NewRequest(&postv1.DeleteCommentRequest{PostId: pid, CommentId: c2.Msg.Comment.Id})); err != nil {
		t.Fatal(err)
	}

	for i, want := range []bool{true, false} {
		v, err := cx.RecordView(ctx, connect.NewRequest(&postv1.RecordViewRequest{PostId: pid}))
		if err != nil || v.Msg.Counted != want {
			t.Fatalf("view %d: %v %v", i, err, v)
		}
	}
	got, err := cx.GetPost(ctx, connect.NewRequest(&postv1.GetPostRequest{PostId: pid}))
	if err != nil || got.Msg.Post.CommentsCount != 0 || got.Msg.Post.ViewsCount != 1 || got.Msg.Post.LikesCount != 2 {
		t.Fatalf("counters: %v %+v", err, got.Msg.GetPost())
	}

	r1, err := cx.ReportPost(ctx, connect.NewRequest(&postv1.ReportPostRequest{PostId: pid, Reason: "inappropriate_content", Details: "Reported from feed"}))
	if err != nil {
		t.Fatal(err)
	}
	r2, err := cx.ReportPost(ctx, connect.NewRequest(&postv1.ReportPostRequest{PostId: pid, Reason: "again"}))
	if err != nil || r2.Msg.ReportId != r1.Msg.ReportId {
		t.Fatalf("repeat report: %v", err)
	}
	var reporter, postID, rsn, details, status string
	if err := e.pool.QueryRow(ctx, `SELECT reporter_id, post_id, reason, details, status FROM post_reports WHERE id = $1`, r1.Msg.ReportId).
		Scan(&reporter, &postID, &rsn, &details, &status); err != nil {
		t.Fatal(err)
	}
	if reporter != other.String() || postID != pid || rsn != "inappropriate_content" || details != "Reported from feed" || status != "pending" {
		t.Fatalf("report row: %s %s %s %s %s", reporter, postID, rsn, details, status)
	}
}

func TestBlockedUsersCannotSeeOrEngage(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	owner := posttest.User(t, e.pool, "owner")
	blocked := posttest.User(t, e.pool, "blocked")
	blocker := posttest.User(t, e.pool, "blocker")
	posttest.Block(t, e.pool, owner, blocked)
	posttest.Block(t, e.pool, blocker, owner)
	pid := posttest.Post(t, e.pool, owner, "post", "secret").String()
	for _, uid := range []id.ID{blocked, blocker} {
		c := e.client(uid)
		if _, err := c.GetPost(ctx, connect.NewRequest(&postv1.GetPostRequest{PostId: pid})); code(err) != connect.CodeNotFound {
			t.Errorf("get: %v", err)
		}
		if _, err := c.LikePost(ctx, connect.NewRequest(&postv1.LikePostRequest{PostId: pid})); code(err) != connect.CodeNotFound {
			t.Errorf("like: %v", err)
		}
		if _, err := c.AddComment(ctx, connect.NewRequest(&postv1.AddCommentRequest{PostId: pid, Text: "hi"})); code(err) != connect.CodeNotFound {
			t.Errorf("comment: %v", err)
		}
		l, err := c.ListUserPosts(ctx, connect.NewRequest(&postv1.ListUserPostsRequest{UserId: owner.String()}))
		if err != nil || len(l.Msg.Posts) != 0 {
			t.Errorf("list: %v", err)
		}
	}
}
