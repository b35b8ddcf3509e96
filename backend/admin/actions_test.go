package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/infliq/infliq/backend/admin"
	adminv1 "github.com/infliq/infliq/backend/gen/infliq/admin/v1"
	authv1 "github.com/infliq/infliq/backend/gen/infliq/auth/v1"
	chatv1 "github.com/infliq/infliq/backend/gen/infliq/chat/v1"
	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	feedv1 "github.com/infliq/infliq/backend/gen/infliq/feed/v1"
	notifyv1 "github.com/infliq/infliq/backend/gen/infliq/notify/v1"
	"github.com/infliq/infliq/backend/gen/infliq/notify/v1/notifyv1connect"
	postv1 "github.com/infliq/infliq/backend/gen/infliq/post/v1"
	"github.com/infliq/infliq/backend/gen/infliq/post/v1/postv1connect"
	userv1 "github.com/infliq/infliq/backend/gen/infliq/user/v1"
	"github.com/infliq/infliq/backend/notify"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/logx"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
)

// follow makes a follow b (the user tier).
func (s *stack) follow(a, b id.ID) {
	s.t.Helper()
	if _, err := s.users(a).Follow(context.Background(), req(&userv1.FollowRequest{UserId: b.String()})); err != nil {
		s.t.Fatal(err)
	}
}

// TestRemoveRestorePost: a removed post leaves the legacy feed, the
// Connect home and global feeds (whose snapshot never expires in this
// test), GetPost and comments, for everyone including its author; its
// open reports are resolved with an outcome the reporter reads; restore
// brings it back.
func TestRemoveRestorePost(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	mod, author, viewer := s.user("mod"), s.user("author"), s.user("viewer")
	s.grant(mod, "moderator")
	s.follow(viewer, author)
	keep := s.post(author, "keep")
	bad := s.post(author, "bad")
	cm, err := s.posts(viewer).AddComment(ctx, req(&postv1.AddCommentRequest{PostId: keep, Text: "mean words"}))
	if err != nil {
		t.Fatal(err)
	}
	// Warm the snapshots first, so removal must beat a cached page.
	home, global := s.feedIDs(viewer)
	if !slices.Contains(home, bad) || !slices.Contains(global, bad) {
		t.Fatalf("before: home %v global %v", home, global)
	}
	// The legacy route reports the post (as the app does).
	if st, body := s.legacy("POST", "/api/posts/"+bad+"/report", tokenOf(t, viewer), `{"reason":"spam"}`); st >= 300 {
		t.Fatalf("legacy report: %d %s", st, body)
	}
	rm, err := s.admin(mod).RemoveContent(ctx, req(&adminv1.RemoveContentRequest{Target: tgt(kPost, bad), Reason: "spam"}))
	if err != nil || rm.Msg.GetEntry().GetResolvedReports() != 1 || rm.Msg.GetEntry().GetAction() != adminv1.Action_ACTION_REMOVE_CONTENT {
		t.Fatalf("remove: %v %v", rm, err)
	}
	if _, err := s.admin(mod).RemoveContent(ctx, req(&adminv1.RemoveContentRequest{Target: tgt(kComment, cm.Msg.GetComment().GetId()), Reason: "abuse"})); err != nil {
		t.Fatal(err)
	}
	gone := func(want bool) {
		t.Helper()
		for _, who := range []id.ID{viewer, author} {
			home, global := s.feedIDs(who)
			if slices.Contains(home, bad) == want || slices.Contains(global, bad) == want || !slices.Contains(global, keep) {
				t.Errorf("removed=%v, %s sees home %v global %v", want, who, home, global)
			}
			st, body := s.legacy("GET", "/api/posts/feed", tokenOf(t, who), "")
			if st != http.StatusOK || strings.Contains(body, bad) == want || !strings.Contains(body, keep) {
				t.Errorf("removed=%v, legacy feed of %s: %d %s", want, who, st, body)
			}
			_, err := s.posts(who).GetPost(ctx, req(&postv1.GetPostRequest{PostId: bad}))
			if (code(err) == connect.CodeNotFound) != want {
				t.Errorf("removed=%v, GetPost by %s: %v", want, who, err)
			}
			st, body = s.legacy("GET", "/api/posts/user/"+author.String(), tokenOf(t, who), "")
			if st == http.StatusOK && strings.Contains(body, bad) == want {
				t.Errorf("removed=%v, legacy profile grid: %s", want, body)
			}
		}
		cs, err := s.posts(viewer).ListComments(ctx, req(&postv1.ListCommentsRequest{PostId: keep}))
		if err != nil || (len(cs.Msg.GetComments()) == 0) != want {
			t.Errorf("removed=%v, comments: %v %v", want, cs, err)
		}
	}
	gone(true)
	if _, err := s.posts(viewer).LikePost(ctx, req(&postv1.LikePostRequest{PostId: bad})); code(err) != connect.CodeNotFound {
		t.Errorf("like a removed post: %v", err)
	}
	mine, err := s.moderation(viewer).ListMyReports(ctx, req(&adminv1.ListMyReportsRequest{}))
	if err != nil || len(mine.Msg.GetReports()) != 1 || mine.Msg.GetReports()[0].GetOutcome() != adminv1.Outcome_OUTCOME_CONTENT_REMOVED ||
		mine.Msg.GetReports()[0].GetStatus() != adminv1.ReportStatus_REPORT_STATUS_RESOLVED {
		t.Errorf("reporter's outcome: %v %v", mine, err)
	}
	d, err := s.admin(mod).GetReportTarget(ctx, req(&adminv1.GetReportTargetRequest{Target: tgt(kPost, bad)}))
	if err != nil || !d.Msg.GetPreview().GetRemoved() || len(d.Msg.GetHistory()) != 1 {
		t.Errorf("detail after removal: %v %v", d, err)
	}
	if _, err := s.admin(mod).RestoreContent(ctx, req(&adminv1.RestoreContentRequest{Target: tgt(kPost, bad), Reason: "appeal"})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.admin(mod).RestoreContent(ctx, req(&adminv1.RestoreContentRequest{Target: tgt(kComment, cm.Msg.GetComment().GetId()), Reason: "appeal"})); err != nil {
		t.Fatal(err)
	}
	gone(false)
	// Unknown content and users cannot be removed.
	if _, err := s.admin(mod).RemoveContent(ctx, req(&adminv1.RemoveContentRequest{Target: tgt(kPost, id.New().String()), Reason: "x"})); code(err) != connect.CodeNotFound {
		t.Errorf("unknown post: %v", err)
	}
	if _, err := s.admin(mod).RemoveContent(ctx, req(&adminv1.RemoveContentRequest{Target: tgt(kUser, author.String()), Reason: "x"})); code(err) != connect.CodeInvalidArgument {
		t.Errorf("remove a user: %v", err)
	}
}

// TestRemoveStoryAndMessage: stories leave the story feed, messages the
// chat history, and both come back.
func TestRemoveStoryAndMessage(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	mod, author, viewer := s.user("mod"), s.user("author"), s.user("viewer")
	s.grant(mod, "moderator")
	s.follow(viewer, author)
	storyID := s.story(author, "story")
	chatID, msgID := s.message(author, viewer, "hello there")
	stories := func() int {
		r, err := s.feeds(viewer).StoryFeed(ctx, req(&feedv1.StoryFeedRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, g := range r.Msg.GetGroups() {
			n += len(g.GetStories())
		}
		return n
	}
	msgs := func() int {
		r, err := s.chats(viewer).ListMessages(ctx, req(&chatv1.ListMessagesRequest{ChatId: chatID}))
		if err != nil {
			t.Fatal(err)
		}
		// The chat list's preview hides it too.
		l, err := s.chats(viewer).ListChats(ctx, req(&chatv1.ListChatsRequest{}))
		if err != nil || len(l.Msg.GetChats()) != 1 || (l.Msg.GetChats()[0].GetLastMessage().GetText() == "hello there") != (len(r.Msg.GetMessages()) == 1) {
			t.Errorf("chat list preview: %v %v", l, err)
		}
		return len(r.Msg.GetMessages())
	}
	if stories() != 1 || msgs() != 1 {
		t.Fatalf("before: %d stories, %d messages", stories(), msgs())
	}
	for _, k := range []*adminv1.Target{tgt(kStory, storyID), tgt(kMessage, msgID)} {
		if _, err := s.admin(mod).RemoveContent(ctx, req(&adminv1.RemoveContentRequest{Target: k, Reason: "x"})); err != nil {
			t.Fatal(err)
		}
	}
	if stories() != 0 || msgs() != 0 {
		t.Errorf("removed: %d stories, %d messages", stories(), msgs())
	}
	for _, k := range []*adminv1.Target{tgt(kStory, storyID), tgt(kMessage, msgID)} {
		if _, err := s.admin(mod).RestoreContent(ctx, req(&adminv1.RestoreContentRequest{Target: k, Reason: "x"})); err != nil {
			t.Fatal(err)
		}
	}
	if stories() != 1 || msgs() != 1 {
		t.Errorf("restored: %d stories, %d messages", stories(), msgs())
	}
}

// TestSuspension: a suspended user's existing token gets 401 at once (a
// tier and the legacy routes), login and refresh are refused with the
// suspension message, their posts, stories and messages are hidden from
// others; unsuspending restores login and content. A ban says so and
// takes an admin; lifting it too.
func TestSuspension(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	mod, adm, viewer := s.user("mod"), s.user("adm"), s.user("viewer")
	s.grant(mod, "moderator")
	s.grant(adm, "admin")
	phone := "+919812345670"
	sess, err := s.login(phone)
	if err != nil {
		t.Fatal(err)
	}
	var author id.ID
	if err := s.pool.QueryRow(ctx, `SELECT user_id FROM auth_credentials WHERE phone = $1`, phone).Scan(&author); err != nil {
		t.Fatal(err)
	}
	tok := sess.GetAccessToken()
	authorPosts := postv1connect.NewPostServiceClient(s.h1, s.urls["post"], tiertest.Bearer(tok))
	res, err := authorPosts.CreatePost(ctx, req(&postv1.CreatePostRequest{Content: "mine", MediaUrl: "posts/m.jpg", MediaType: postv1.MediaType_MEDIA_TYPE_IMAGE}))
	if err != nil {
		t.Fatal(err)
	}
	postID := res.Msg.GetPost().GetId()
	s.follow(viewer, author)
	storyID := s.story(author, "a story")
	chatID, _ := s.message(author, viewer, "a message")
	if st, _ := s.legacy("GET", "/api/posts/feed", tok, ""); st != http.StatusOK {
		t.Fatalf("author's token before: %d", st)
	}
	if _, err := s.users(viewer).ReportUser(ctx, req(&userv1.ReportUserRequest{UserId: author.String(), Reason: "abuse"})); err != nil {
		t.Fatal(err)
	}

	sp, err := s.admin(mod).SuspendUser(ctx, req(&adminv1.SuspendUserRequest{UserId: author.String(), Duration: durationpb.New(24 * time.Hour),
		Reason: "abuse", Target: tgt(kPost, postID)}))
	if err != nil || sp.Msg.GetEntry().GetResolvedReports() != 1 || !strings.HasPrefix(sp.Msg.GetEntry().GetDetail(), "until ") {
		t.Fatalf("suspend: %v %v", sp, err)
	}
	// The existing token: 401 on a tier and through the legacy edge.
	if _, err := authorPosts.GetPost(ctx, req(&postv1.GetPostRequest{PostId: postID})); code(err) != connect.CodeUnauthenticated {
		t.Errorf("author's token on the post tier: %v", err)
	}
	if st, body := s.legacy("GET", "/api/posts/feed", tok, ""); st != http.StatusUnauthorized {
		t.Errorf("author's token on /api/posts/feed: %d %s", st, body)
	}
	// Login and refresh refused with the message.
	_, err = s.login(phone)
	if code(err) != connect.CodePermissionDenied || !strings.Contains(err.Error(), "suspended until") {
		t.Errorf("login while suspended: %v", err)
	}
	if _, err := s.authClient().Refresh(ctx, req(&authv1.RefreshRequest{RefreshToken: sess.GetRefreshToken()})); err == nil {
		t.Errorf("refresh while suspended: %v", err)
	}
	if st, body := s.legacy("POST", "/api/auth/verify-otp", "", fmt.Sprintf(`{"phone":%q,"otp":"000000"}`, phone)); st < 400 {
		t.Errorf("legacy verify while suspended: %d %s", st, body)
	}
	// Content hidden from others.
	home, global := s.feedIDs(viewer)
	if slices.Contains(home, postID) || slices.Contains(global, postID) {
		t.Errorf("suspended author's post in feeds: %v %v", home, global)
	}
	if _, body := s.legacy("GET", "/api/posts/feed", tokenOf(t, viewer), ""); strings.Contains(body, postID) {
		t.Errorf("suspended author's post in the legacy feed")
	}
	sf, _ := s.feeds(viewer).StoryFeed(ctx, req(&feedv1.StoryFeedRequest{}))
	if len(sf.Msg.GetGroups()) != 0 {
		t.Errorf("suspended author's story: %v", sf.Msg)
	}
	ms, _ := s.chats(viewer).ListMessages(ctx, req(&chatv1.ListMessagesRequest{ChatId: chatID}))
	if len(ms.Msg.GetMessages()) != 0 {
		t.Errorf("suspended author's messages: %v", ms.Msg)
	}
	// The console shows it.
	d, err := s.admin(mod).GetUserDetail(ctx, req(&adminv1.GetUserDetailRequest{UserId: author.String()}))
	if err != nil || d.Msg.GetUser().GetSuspendedUntil() == nil || len(d.Msg.GetSuspensions()) != 1 || len(d.Msg.GetSessions()) != 1 ||
		!d.Msg.GetSessions()[0].GetRevoked() || d.Msg.GetUser().GetPhone() != phone {
		t.Errorf("user detail: %v %v", d, err)
	}

	// Unsuspend: login works, content is back.
	if _, err := s.admin(mod).UnsuspendUser(ctx, req(&adminv1.UnsuspendUserRequest{UserId: author.String(), Reason: "served"})); err != nil {
		t.Fatal(err)
	}
	sess2, err := s.login(phone)
	if err != nil {
		t.Fatalf("login after unsuspend: %v", err)
	}
	if st, _ := s.legacy("GET", "/api/posts/feed", sess2.GetAccessToken(), ""); st != http.StatusOK {
		t.Errorf("new token: %d", st)
	}
	home, global = s.feedIDs(viewer)
	if !slices.Contains(home, postID) || !slices.Contains(global, postID) {
		t.Errorf("post not back: %v %v", home, global)
	}
	sf, _ = s.feeds(viewer).StoryFeed(ctx, req(&feedv1.StoryFeedRequest{}))
	ms, _ = s.chats(viewer).ListMessages(ctx, req(&chatv1.ListMessagesRequest{ChatId: chatID}))
	if len(sf.Msg.GetGroups()) != 1 || sf.Msg.GetGroups()[0].GetStories()[0].GetId() != storyID || len(ms.Msg.GetMessages()) != 1 {
		t.Errorf("story/messages not back: %v %v", sf.Msg, ms.Msg)
	}

	// Ban: admins only; the message says banned; moderators cannot lift it.
	if _, err := s.admin(mod).BanUser(ctx, req(&adminv1.BanUserRequest{UserId: author.String(), Reason: "x"})); code(err) != connect.CodePermissionDenied {
		t.Errorf("moderator bans: %v", err)
	}
	if _, err := s.admin(adm).BanUser(ctx, req(&adminv1.BanUserRequest{UserId: author.String(), Reason: "repeat"})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.login(phone); code(err) != connect.CodePermissionDenied || !strings.Contains(err.Error(), "banned") {
		t.Errorf("login while banned: %v", err)
	}
	if _, err := s.admin(mod).UnsuspendUser(ctx, req(&adminv1.UnsuspendUserRequest{UserId: author.String(), Reason: "x"})); code(err) != connect.CodePermissionDenied {
		t.Errorf("moderator lifts a ban: %v", err)
	}
	f, err := s.admin(mod).FindUsers(ctx, req(&adminv1.FindUsersRequest{Query: phone}))
	if err != nil || len(f.Msg.GetUsers()) != 1 || !f.Msg.GetUsers()[0].GetBanned() {
		t.Errorf("find banned by phone: %v %v", f, err)
	}
	if _, err := s.admin(adm).UnsuspendUser(ctx, req(&adminv1.UnsuspendUserRequest{UserId: author.String(), Reason: "appeal"})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.login(phone); err != nil {
		t.Errorf("login after the ban is lifted: %v", err)
	}
	// Durations out of range are refused.
	for _, d := range []time.Duration{time.Second, 400 * 24 * time.Hour} {
		if _, err := s.admin(mod).SuspendUser(ctx, req(&adminv1.SuspendUserRequest{UserId: author.String(), Duration: durationpb.New(d), Reason: "x"})); code(err) != connect.CodeInvalidArgument {
			t.Errorf("duration %v: %v", d, err)
		}
	}
}

// TestWarnNotice: a warning is stored as a notice the user lists and
// marks read (only their own), and resolves reports on them.
func TestWarnNotice(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	mod, user, other := s.user("mod"), s.user("user"), s.user("other")
	s.grant(mod, "moderator")
	if _, err := s.users(other).ReportUser(ctx, req(&userv1.ReportUserRequest{UserId: user.String(), Reason: "rude"})); err != nil {
		t.Fatal(err)
	}
	w, err := s.admin(mod).WarnUser(ctx, req(&adminv1.WarnUserRequest{UserId: user.String(), Message: "Please keep it civil.", Reason: "rude"}))
	if err != nil || w.Msg.GetEntry().GetResolvedReports() != 1 {
		t.Fatalf("warn: %v %v", w, err)
	}
	n, err := s.moderation(user).ListMyNotices(ctx, req(&adminv1.ListMyNoticesRequest{}))
	if err != nil || len(n.Msg.GetNotices()) != 1 || n.Msg.GetUnread() != 1 || n.Msg.GetNotices()[0].GetMessage() != "Please keep it civil." {
		t.Fatalf("notices: %v %v", n, err)
	}
	nid := n.Msg.GetNotices()[0].GetId()
	if _, err := s.moderation(other).MarkNoticeRead(ctx, req(&adminv1.MarkNoticeReadRequest{NoticeId: nid})); code(err) != connect.CodeNotFound {
		t.Errorf("other marks: %v", err)
	}
	for range 2 {
		if _, err := s.moderation(user).MarkNoticeRead(ctx, req(&adminv1.MarkNoticeReadRequest{NoticeId: nid})); err != nil {
			t.Fatal(err)
		}
	}
	n, _ = s.moderation(user).ListMyNotices(ctx, req(&adminv1.ListMyNoticesRequest{}))
	if n.Msg.GetUnread() != 0 || n.Msg.GetNotices()[0].GetReadAt() == nil {
		t.Errorf("after read: %v", n.Msg)
	}
	if o, _ := s.moderation(other).ListMyNotices(ctx, req(&adminv1.ListMyNoticesRequest{})); len(o.Msg.GetNotices()) != 0 {
		t.Errorf("other's notices: %v", o.Msg)
	}
	mine, _ := s.moderation(other).ListMyReports(ctx, req(&adminv1.ListMyReportsRequest{}))
	if mine.Msg.GetReports()[0].GetOutcome() != adminv1.Outcome_OUTCOME_USER_WARNED {
		t.Errorf("reporter's outcome: %v", mine.Msg)
	}
}

// TestLogAppendOnly: every action is logged with who, what, target,
// reason and time; the table refuses UPDATE, DELETE and TRUNCATE; the log
// pages and filters.
func TestLogAppendOnly(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	mod, user := s.user("mod"), s.user("user")
	s.grant(mod, "moderator")
	postID := s.post(user, "p")
	for i := range 3 {
		if _, err := s.admin(mod).WarnUser(ctx, req(&adminv1.WarnUserRequest{UserId: user.String(), Message: fmt.Sprint("w", i), Reason: fmt.Sprint("r", i)})); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.admin(mod).RemoveContent(ctx, req(&adminv1.RemoveContentRequest{Target: tgt(kPost, postID), Reason: "spam"})); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{`UPDATE moderation_log SET reason = 'x'`, `DELETE FROM moderation_log`, `TRUNCATE moderation_log`} {
		if _, err := s.pool.Exec(ctx, sql); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v", sql, err)
		}
	}
	all, err := s.admin(mod).ListModerationLog(ctx, req(&adminv1.ListModerationLogRequest{}))
	// The CLI grant (no actor) is the first entry.
	if err != nil || len(all.Msg.GetEntries()) != 5 {
		t.Fatalf("log: %v %v", all, err)
	}
	top := all.Msg.GetEntries()[0]
	if top.GetAction() != adminv1.Action_ACTION_REMOVE_CONTENT || top.GetActor().GetId() != mod.String() || top.GetReason() != "spam" ||
		top.GetTarget().GetId() != postID || top.GetCreatedAt() == nil {
		t.Errorf("newest entry: %v", top)
	}
	if cli := all.Msg.GetEntries()[4]; cli.GetAction() != adminv1.Action_ACTION_GRANT_ROLE || cli.GetActor() != nil || cli.GetDetail() != "moderator" {
		t.Errorf("CLI grant entry: %v", cli)
	}
	var ids []string
	cursor := ""
	for {
		pg, err := s.admin(mod).ListModerationLog(ctx, req(&adminv1.ListModerationLogRequest{Page: &commonv1.PageRequest{Limit: 2, Cursor: cursor}, ActorId: mod.String()}))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range pg.Msg.GetEntries() {
			ids = append(ids, e.GetId())
		}
		if cursor = pg.Msg.GetPage().GetNextCursor(); cursor == "" {
			break
		}
	}
	if len(ids) != 4 || ids[0] != top.GetId() {
		t.Errorf("paged by actor: %v", ids)
	}
	warns, _ := s.admin(mod).ListModerationLog(ctx, req(&adminv1.ListModerationLogRequest{Action: adminv1.Action_ACTION_WARN_USER, TargetId: user.String()}))
	if len(warns.Msg.GetEntries()) != 3 || warns.Msg.GetEntries()[0].GetDetail() != "w2" {
		t.Errorf("warn filter: %v", warns.Msg)
	}
}

// TestConcurrentActions: dozens of parallel dismissals of one target
// resolve its reports once (one succeeds, the rest find nothing open);
// parallel removals all succeed but resolve each report once; parallel
// grants and revokes leave the role and the log consistent.
func TestConcurrentActions(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	mod, adm, author := s.user("mod"), s.user("adm"), s.user("author")
	s.grant(mod, "moderator")
	s.grant(adm, "admin")
	postID := s.post(author, "p")
	otherPost := s.post(author, "q")
	for i := range 5 {
		r := s.user(fmt.Sprint("r", i))
		for _, p := range []string{postID, otherPost} {
			if _, err := s.posts(r).ReportPost(ctx, req(&postv1.ReportPostRequest{PostId: p, Reason: "spam"})); err != nil {
				t.Fatal(err)
			}
		}
	}
	const n = 40
	run := func(f func() error) (ok, failed int, codes map[connect.Code]int) { // codes[0]: successes
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes = map[connect.Code]int{}
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := f()
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					codes[0]++
					return
				}
				codes[code(err)]++
			}()
		}
		wg.Wait()
		return codes[0], n - codes[0], codes
	}
	c := s.admin(mod)
	ok, _, codes := run(func() error {
		_, err := c.Dismiss(ctx, req(&adminv1.DismissRequest{Target: tgt(kPost, postID), Reason: "fine"}))
		return err
	})
	if ok != 1 || codes[connect.CodeFailedPrecondition] != n-1 {
		t.Errorf("parallel dismiss: %v", codes)
	}
	var outcomes, dismissals, resolved int
	if err := s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM report_outcomes WHERE target_id = $1),
		(SELECT count(*) FROM moderation_log WHERE target_id = $1 AND action = 'dismiss'),
		(SELECT coalesce(sum(resolved_reports), 0) FROM moderation_log WHERE target_id = $1)`, postID).Scan(&outcomes, &dismissals, &resolved); err != nil {
		t.Fatal(err)
	}
	if outcomes != 5 || dismissals != 1 || resolved != 5 {
		t.Errorf("after parallel dismiss: %d outcomes, %d log entries, %d resolved", outcomes, dismissals, resolved)
	}
	ok, _, codes = run(func() error {
		_, err := c.RemoveContent(ctx, req(&adminv1.RemoveContentRequest{Target: tgt(kPost, otherPost), Reason: "spam"}))
		return err
	})
	if ok != n {
		t.Errorf("parallel remove: %v", codes)
	}
	if err := s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM report_outcomes WHERE target_id = $1),
		(SELECT count(*) FROM post_hidden WHERE post_id = $1),
		(SELECT coalesce(sum(resolved_reports), 0) FROM moderation_log WHERE target_id = $1)`, otherPost).Scan(&outcomes, &dismissals, &resolved); err != nil {
		t.Fatal(err)
	}
	if outcomes != 5 || dismissals != 1 || resolved != 5 {
		t.Errorf("after parallel remove: %d outcomes, %d hidden rows, %d resolved", outcomes, dismissals, resolved)
	}

	// Parallel grants of one role: one takes effect and is logged.
	target := s.user("target")
	ok, _, codes = run(func() error {
		_, err := s.admin(adm).GrantRole(ctx, req(&adminv1.GrantRoleRequest{UserId: target.String(), Role: adminv1.Role_ROLE_MODERATOR}))
		return err
	})
	var roles, grants, revokes int
	count := func() {
		t.Helper()
		if err := s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM admin_roles WHERE user_id = $1),
			(SELECT count(*) FROM moderation_log WHERE target_id = $1 AND action = 'grant_role'),
			(SELECT count(*) FROM moderation_log WHERE target_id = $1 AND action = 'revoke_role')`, target).Scan(&roles, &grants, &revokes); err != nil {
			t.Fatal(err)
		}
	}
	count()
	if ok != n || roles != 1 || grants != 1 {
		t.Errorf("parallel grant: %v, %d roles, %d grants logged", codes, roles, grants)
	}
	// Grants and revokes interleaved: the role exists exactly when the log
	// has one more grant than revokes.
	var i int64
	var mu sync.Mutex
	ok, _, codes = run(func() error {
		mu.Lock()
		i++
		grant := i%2 == 0
		mu.Unlock()
		var err error
		if grant {
			_, err = s.admin(adm).GrantRole(ctx, req(&adminv1.GrantRoleRequest{UserId: target.String(), Role: adminv1.Role_ROLE_MODERATOR}))
		} else {
			_, err = s.admin(adm).RevokeRole(ctx, req(&adminv1.RevokeRoleRequest{UserId: target.String(), Role: adminv1.Role_ROLE_MODERATOR}))
		}
		return err
	})
	count()
	if ok != n || grants-revokes != roles {
		t.Errorf("interleaved: %v; role held %d, %d grants, %d revokes", codes, roles, grants, revokes)
	}
}

// TestSuspensionEnds: when a suspension's end passes, login works at once
// (auth compares with the clock) and the expiry job shows the content
// again, clears the suspension and logs it without an actor, once.
func TestSuspensionEnds(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	mod, author, viewer := s.user("mod"), s.user("author"), s.user("viewer")
	s.grant(mod, "moderator")
	postID := s.post(author, "p")
	if _, err := s.admin(mod).SuspendUser(ctx, req(&adminv1.SuspendUserRequest{UserId: author.String(), Duration: durationpb.New(time.Hour), Reason: "x"})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.login(s.phoneOf(author)); code(err) != connect.CodePermissionDenied {
		t.Fatalf("login while suspended: %v", err)
	}
	s.exec(`UPDATE auth_credentials SET suspended_until = now() - interval '1 second' WHERE user_id = $1`, author)
	if _, err := s.login(s.phoneOf(author)); err != nil {
		t.Errorf("login after the end: %v", err)
	}
	svc := admin.New(logx.Discard(), s.adminOpts)
	if _, g := s.feedIDs(viewer); slices.Contains(g, postID) {
		t.Errorf("content shown before the job ran")
	}
	if n, err := svc.CloseExpired(ctx); err != nil || n != 1 {
		t.Fatalf("close expired: %d %v", n, err)
	}
	if _, g := s.feedIDs(viewer); !slices.Contains(g, postID) {
		t.Errorf("content not back: %v", g)
	}
	if n, err := svc.CloseExpired(ctx); err != nil || n != 0 {
		t.Errorf("second run: %d %v", n, err)
	}
	l, err := s.admin(mod).ListModerationLog(ctx, req(&adminv1.ListModerationLogRequest{TargetId: author.String(), Action: adminv1.Action_ACTION_UNSUSPEND_USER}))
	if err != nil || len(l.Msg.GetEntries()) != 1 || l.Msg.GetEntries()[0].GetActor() != nil || l.Msg.GetEntries()[0].GetReason() != "suspension ended" {
		t.Errorf("log: %v %v", l, err)
	}
	d, _ := s.admin(mod).GetUserDetail(ctx, req(&adminv1.GetUserDetailRequest{UserId: author.String()}))
	if d.Msg.GetUser().GetSuspendedUntil() != nil || d.Msg.GetSuspensions()[0].GetLiftedAt() == nil {
		t.Errorf("detail: %v", d.Msg)
	}
}

// TestWarnNotification: a warning reaches the user's notification inbox
// through the record path (the notify tier applies the record), once
// however often the record is delivered, with the message as preview and
// no trace of the moderator; the reporter is told once that their report
// was reviewed; the stored notice stays.
func TestWarnNotification(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	mod, user, reporter := s.user("mod"), s.user("user"), s.user("reporter")
	s.grant(mod, "moderator")
	for range 2 { // two reports by one reporter: told once
		if _, err := s.users(reporter).ReportUser(ctx, req(&userv1.ReportUserRequest{UserId: user.String(), Reason: "rude"})); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.admin(mod).WarnUser(ctx, req(&adminv1.WarnUserRequest{UserId: user.String(), Message: "Please keep it civil.", Reason: "internal: rude"})); err != nil {
		t.Fatal(err)
	}
	recs, err := s.bus.PeekRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var mods []bus.Record
	to := map[id.ID]string{}
	for _, r := range recs {
		if r.Kind == bus.RecModeration {
			mods = append(mods, r)
			if !r.Actor.IsZero() || len(r.To) != 1 {
				t.Errorf("record: %+v", r)
			}
			to[r.To[0]] = r.Text
		}
	}
	if len(mods) != 2 || to[user] != "Please keep it civil." || !strings.HasPrefix(to[reporter], "Your report was reviewed") {
		t.Fatalf("records: %+v", mods)
	}
	ns := notify.New(logx.Discard(), notify.Options{Pool: s.pool, Pub: s.bus})
	for range 3 { // redelivery applies once
		if err := ns.Apply(ctx, mods); err != nil {
			t.Fatal(err)
		}
	}
	u, _, _ := tiertest.Serve(t, notify.NewTier(tiertest.Deps(), ns).Handler())
	inbox := func(uid id.ID) *notifyv1.ListNotificationsResponse {
		l, err := notifyv1connect.NewNotificationServiceClient(s.h1, u, bearer(uid, t)).
			ListNotifications(ctx, req(&notifyv1.ListNotificationsRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		if raw, _ := protojson.Marshal(l.Msg); strings.Contains(string(raw), mod.String()) || strings.Contains(string(raw), "internal") {
			t.Errorf("the moderator or the internal reason leaks: %s", raw)
		}
		return l.Msg
	}
	l := inbox(user)
	got := l.GetNotifications()
	if len(got) != 1 || got[0].GetKind() != notifyv1.Kind_KIND_MODERATION || got[0].GetPreview() != "Please keep it civil." ||
		len(got[0].GetActors()) != 0 || got[0].GetActorsCount() != 0 {
		t.Fatalf("inbox: %v", l)
	}
	if r := inbox(reporter).GetNotifications(); len(r) != 1 || r[0].GetKind() != notifyv1.Kind_KIND_MODERATION ||
		r[0].GetPreview() != "Your report was reviewed and the account was warned." || len(r[0].GetActors()) != 0 {
		t.Errorf("reporter's inbox: %v", r)
	}
	n, err := s.moderation(user).ListMyNotices(ctx, req(&adminv1.ListMyNoticesRequest{}))
	if err != nil || len(n.Msg.GetNotices()) != 1 {
		t.Fatalf("stored notice: %v %v", n, err)
	}
}
