package admin_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	adminv1 "github.com/infliq/infliq/backend/gen/infliq/admin/v1"
	"github.com/infliq/infliq/backend/gen/infliq/admin/v1/adminv1connect"
	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	feedv1 "github.com/infliq/infliq/backend/gen/infliq/feed/v1"
	mediav1 "github.com/infliq/infliq/backend/gen/infliq/media/v1"
	postv1 "github.com/infliq/infliq/backend/gen/infliq/post/v1"
	userv1 "github.com/infliq/infliq/backend/gen/infliq/user/v1"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
)

const (
	kUser    = adminv1.TargetKind_TARGET_KIND_USER
	kPost    = adminv1.TargetKind_TARGET_KIND_POST
	kComment = adminv1.TargetKind_TARGET_KIND_COMMENT
	kStory   = adminv1.TargetKind_TARGET_KIND_STORY
	kMessage = adminv1.TargetKind_TARGET_KIND_MESSAGE
)

// rpcCase calls one AdminService RPC with a valid request.
type rpcCase struct {
	name      string
	adminOnly bool
	call      func(c adminv1connect.AdminServiceClient) error
}

func rpcCases(victim id.ID, postID string) []rpcCase {
	ctx := context.Background()
	v := victim.String()
	e := func(_ any, err error) error { return err }
	return []rpcCase{
		{"GetMyRoles", false, func(c adminv1connect.AdminServiceClient) error {
			return e(c.GetMyRoles(ctx, req(&adminv1.GetMyRolesRequest{})))
		}},
		{"ListReportQueue", false, func(c adminv1connect.AdminServiceClient) error {
			return e(c.ListReportQueue(ctx, req(&adminv1.ListReportQueueRequest{})))
		}},
		{"GetReportTarget", false, func(c adminv1connect.AdminServiceClient) error {
			return e(c.GetReportTarget(ctx, req(&adminv1.GetReportTargetRequest{Target: tgt(kPost, postID)})))
		}},
		{"Dismiss", false, func(c adminv1connect.AdminServiceClient) error {
			return e(c.Dismiss(ctx, req(&adminv1.DismissRequest{Target: tgt(kPost, postID), Reason: "ok"})))
		}},
		{"RemoveContent", false, func(c adminv1connect.AdminServiceClient) error {
			return e(c.RemoveContent(ctx, req(&adminv1.RemoveContentRequest{Target: tgt(kPost, postID), Reason: "spam"})))
		}},
		{"RestoreContent", false, func(c adminv1connect.AdminServiceClient) error {
			return e(c.RestoreContent(ctx, req(&adminv1.RestoreContentRequest{Target: tgt(kPost, postID), Reason: "appeal"})))
		}},
		{"WarnUser", false, func(c adminv1connect.AdminServiceClient) error {
			return e(c.WarnUser(ctx, req(&adminv1.WarnUserRequest{UserId: v, Message: "Please be kind", Reason: "r"})))
		}},
		{"SuspendUser", false, func(c adminv1connect.AdminServiceClient) error {
			return e(c.SuspendUser(ctx, req(&adminv1.SuspendUserRequest{UserId: v, Duration: durationpb.New(time.Hour), Reason: "r"})))
		}},
		{"UnsuspendUser", false, func(c adminv1connect.AdminServiceClient) error {
			return e(c.UnsuspendUser(ctx, req(&adminv1.UnsuspendUserRequest{UserId: v, Reason: "r"})))
		}},
		{"BanUser", true, func(c adminv1connect.AdminServiceClient) error {
			return e(c.BanUser(ctx, req(&adminv1.BanUserRequest{UserId: v, Reason: "r"})))
		}},
		{"FindUsers", false, func(c adminv1connect.AdminServiceClient) error {
			return e(c.FindUsers(ctx, req(&adminv1.FindUsersRequest{Query: "vic"})))
		}},
		{"GetUserDetail", false, func(c adminv1connect.AdminServiceClient) error {
			return e(c.GetUserDetail(ctx, req(&adminv1.GetUserDetailRequest{UserId: v})))
		}},
		{"ListModerationLog", false, func(c adminv1connect.AdminServiceClient) error {
			return e(c.ListModerationLog(ctx, req(&adminv1.ListModerationLogRequest{})))
		}},
		{"ListMediaAuditLogs", false, func(c adminv1connect.AdminServiceClient) error {
			return e(c.ListMediaAuditLogs(ctx, req(&adminv1.ListMediaAuditLogsRequest{Query: &mediav1.ListAuditLogsRequest{}})))
		}},
		{"GetOverview", false, func(c adminv1connect.AdminServiceClient) error {
			return e(c.GetOverview(ctx, req(&adminv1.GetOverviewRequest{})))
		}},
		{"ListStaff", false, func(c adminv1connect.AdminServiceClient) error {
			return e(c.ListStaff(ctx, req(&adminv1.ListStaffRequest{})))
		}},
		{"GrantRole", true, func(c adminv1connect.AdminServiceClient) error {
			return e(c.GrantRole(ctx, req(&adminv1.GrantRoleRequest{UserId: v, Role: adminv1.Role_ROLE_MODERATOR})))
		}},
		{"RevokeRole", true, func(c adminv1connect.AdminServiceClient) error {
			return e(c.RevokeRole(ctx, req(&adminv1.RevokeRoleRequest{UserId: v, Role: adminv1.Role_ROLE_MODERATOR})))
		}},
	}
}

// TestRoleMatrix: a user is refused every AdminService RPC (and a caller
// without a token is unauthenticated); a moderator may call all but
// BanUser, GrantRole and RevokeRole; an admin (stored or bootstrap) all.
func TestRoleMatrix(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	plain, mod, adm, victim := s.user("plain"), s.user("mod"), s.user("adm"), s.user("victim")
	s.grant(mod, "moderator")
	s.grant(adm, "admin")
	postID := s.post(victim, "p1")
	cases := rpcCases(victim, postID)
	// Every RPC of the service is in the matrix.
	if n := adminv1.File_infliq_admin_v1_admin_proto.Services().ByName("AdminService").Methods().Len(); len(cases) != n {
		t.Fatalf("%d cases for %d RPCs", len(cases), n)
	}
	noToken := adminv1connect.NewAdminServiceClient(s.h1, s.urls["admin"])
	for _, c := range cases {
		if err := c.call(s.admin(plain)); code(err) != connect.CodePermissionDenied {
			t.Errorf("user %s: %v, want permission_denied", c.name, err)
		}
		if err := c.call(noToken); code(err) != connect.CodeUnauthenticated {
			t.Errorf("no token %s: %v, want unauthenticated", c.name, err)
		}
	}
	for _, who := range []struct {
		name  string
		uid   id.ID
		admin bool
	}{{"moderator", mod, false}, {"admin", adm, true}, {"bootstrap", s.bootstrap, true}} {
		// A fresh report each round so Dismiss has something open.
		if _, err := s.posts(s.user("reporter "+who.name)).ReportPost(ctx, req(&postv1.ReportPostRequest{PostId: postID, Reason: "spam"})); err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			err := c.call(s.admin(who.uid))
			if c.adminOnly && !who.admin {
				if code(err) != connect.CodePermissionDenied {
					t.Errorf("%s %s: %v, want permission_denied", who.name, c.name, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s %s: %v", who.name, c.name, err)
			}
		}
		// Undo the ban for the next round (BanUser then UnsuspendUser ran in order
		// only for admins; unsuspend here too).
		if _, err := s.admin(adm).UnsuspendUser(ctx, req(&adminv1.UnsuspendUserRequest{UserId: victim.String(), Reason: "reset"})); err != nil {
			t.Fatal(err)
		}
		if _, err := s.admin(adm).RestoreContent(ctx, req(&adminv1.RestoreContentRequest{Target: tgt(kPost, postID), Reason: "reset"})); err != nil {
			t.Fatal(err)
		}
	}
	// Moderators cannot act on staff; admins cannot lock themselves out.
	if _, err := s.admin(mod).SuspendUser(ctx, req(&adminv1.SuspendUserRequest{UserId: adm.String(), Duration: durationpb.New(time.Hour), Reason: "x"})); code(err) != connect.CodePermissionDenied {
		t.Errorf("moderator suspends an admin: %v", err)
	}
	if _, err := s.admin(adm).RevokeRole(ctx, req(&adminv1.RevokeRoleRequest{UserId: adm.String(), Role: adminv1.Role_ROLE_ADMIN})); code(err) != connect.CodeFailedPrecondition {
		t.Errorf("admin revokes own admin role: %v", err)
	}
	if _, err := s.admin(adm).SuspendUser(ctx, req(&adminv1.SuspendUserRequest{UserId: adm.String(), Duration: durationpb.New(time.Hour), Reason: "x"})); code(err) != connect.CodeFailedPrecondition {
		t.Errorf("admin suspends self: %v", err)
	}
	// The role shows on GetMyRoles; a revoked moderator is refused at once.
	r, err := s.admin(s.bootstrap).GetMyRoles(ctx, req(&adminv1.GetMyRolesRequest{}))
	if err != nil || !r.Msg.GetBootstrapAdmin() || r.Msg.GetRoles()[0] != adminv1.Role_ROLE_ADMIN {
		t.Fatalf("bootstrap roles: %v %v", r, err)
	}
	if _, err := s.admin(adm).RevokeRole(ctx, req(&adminv1.RevokeRoleRequest{UserId: mod.String(), Role: adminv1.Role_ROLE_MODERATOR, Reason: "left"})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.admin(mod).ListReportQueue(ctx, req(&adminv1.ListReportQueueRequest{})); code(err) != connect.CodePermissionDenied {
		t.Errorf("revoked moderator: %v", err)
	}
	// Through the gateway, as the page calls it.
	if _, err := s.adminVia(tokenOf(t, plain)).GetMyRoles(ctx, req(&adminv1.GetMyRolesRequest{})); code(err) != connect.CodePermissionDenied {
		t.Errorf("user through the gateway: %v", err)
	}
	if _, err := s.adminVia(tokenOf(t, adm)).GetOverview(ctx, req(&adminv1.GetOverviewRequest{})); err != nil {
		t.Errorf("admin through the gateway: %v", err)
	}
}

// TestQueueGroupsEveryKind: reports on a user, a post, a comment, a story
// and a message appear in one queue grouped by target, with counts,
// reasons by frequency, first/last report and the oldest open age;
// filters by kind, status and age; cursor paging; the detail's preview.
func TestQueueGroupsEveryKind(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	mod, author, r1, r2, r3 := s.user("mod"), s.user("Author Person"), s.user("r1"), s.user("r2"), s.user("r3")
	s.grant(mod, "moderator")
	postID := s.post(author, "bad-post")
	cm, err := s.posts(r1).AddComment(ctx, req(&postv1.AddCommentRequest{PostId: postID, Text: "nasty comment"}))
	if err != nil {
		t.Fatal(err)
	}
	commentID := cm.Msg.GetComment().GetId()
	storyID := s.story(author, "story caption")
	_, msgID := s.message(author, r2, "rude message")

	for _, r := range []id.ID{r1, r2, r3} {
		if _, err := s.posts(r).ReportPost(ctx, req(&postv1.ReportPostRequest{PostId: postID, Reason: map[id.ID]string{r1: "spam", r2: "spam", r3: "hate"}[r]})); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.users(r1).ReportUser(ctx, req(&userv1.ReportUserRequest{UserId: author.String(), Reason: "impersonation"})); err != nil {
		t.Fatal(err)
	}
	// The legacy route files user reports too.
	if st, body := s.legacy("POST", "/api/users/"+author.String()+"/report", tokenOf(t, r2), `{"reason":"harassment"}`); st >= 300 {
		t.Fatalf("legacy report: %d %s", st, body)
	}
	m := s.moderation
	if _, err := m(r2).ReportContent(ctx, req(&adminv1.ReportContentRequest{Target: tgt(kComment, commentID), Reason: "bullying"})); err != nil {
		t.Fatal(err)
	}
	if _, err := m(r1).ReportContent(ctx, req(&adminv1.ReportContentRequest{Target: tgt(kStory, storyID), Reason: "nudity"})); err != nil {
		t.Fatal(err)
	}
	rep, err := m(r2).ReportContent(ctx, req(&adminv1.ReportContentRequest{Target: tgt(kMessage, msgID), Reason: "threat"}))
	if err != nil {
		t.Fatal(err)
	}
	again, err := m(r2).ReportContent(ctx, req(&adminv1.ReportContentRequest{Target: tgt(kMessage, msgID), Reason: "threat again"}))
	if err != nil || again.Msg.GetReportId() != rep.Msg.GetReportId() {
		t.Fatalf("repeat report: %v %v", again, err)
	}
	// A message of a chat the reporter is not in, one's own content and
	// unknown kinds are refused.
	if _, err := m(r3).ReportContent(ctx, req(&adminv1.ReportContentRequest{Target: tgt(kMessage, msgID), Reason: "x"})); code(err) != connect.CodeNotFound {
		t.Errorf("outsider reports a message: %v", err)
	}
	if _, err := m(author).ReportContent(ctx, req(&adminv1.ReportContentRequest{Target: tgt(kStory, storyID), Reason: "x"})); code(err) != connect.CodeInvalidArgument {
		t.Errorf("own story: %v", err)
	}
	if _, err := m(r1).ReportContent(ctx, req(&adminv1.ReportContentRequest{Target: tgt(kPost, postID), Reason: "x"})); code(err) != connect.CodeInvalidArgument {
		t.Errorf("post through ReportContent: %v", err)
	}
	// The oldest report is a day old.
	s.exec(`UPDATE content_reports SET created_at = now() - interval '25 hours' WHERE target_id = $1`, storyID)

	c := s.admin(mod)
	q, err := c.ListReportQueue(ctx, req(&adminv1.ListReportQueueRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Msg.GetItems()) != 5 || q.Msg.GetOpenTargets() != 5 {
		t.Fatalf("queue: %d items, %d open: %v", len(q.Msg.GetItems()), q.Msg.GetOpenTargets(), q.Msg)
	}
	first := q.Msg.GetItems()[0]
	if first.GetTarget().GetId() != storyID || first.GetOldestOpenAge().AsDuration() < 24*time.Hour || first.GetSnippet() != "story caption" ||
		first.GetAuthor().GetId() != author.String() {
		t.Errorf("oldest first: %v", first)
	}
	byID := map[string]*adminv1.QueueItem{}
	for _, it := range q.Msg.GetItems() {
		byID[it.GetTarget().GetId()] = it
		if it.GetStatus() != adminv1.ReportStatus_REPORT_STATUS_OPEN || it.GetOldestOpenAt() == nil {
			t.Errorf("open item: %v", it)
		}
	}
	p := byID[postID]
	if p.GetReportCount() != 3 || p.GetOpenCount() != 3 || strings.Join(p.GetReasons(), ",") != "spam,hate" || p.GetSnippet() != "bad-post" ||
		!p.GetLastReportedAt().AsTime().After(p.GetFirstReportedAt().AsTime().Add(-time.Second)) {
		t.Errorf("post item: %v", p)
	}
	if u := byID[author.String()]; u.GetReportCount() != 2 || u.GetTarget().GetKind() != kUser || u.GetSnippet() != "Author Person" {
		t.Errorf("user item: %v", u)
	}
	if byID[commentID].GetTarget().GetKind() != kComment || byID[msgID].GetSnippet() != "rude message" {
		t.Errorf("comment/message items: %v %v", byID[commentID], byID[msgID])
	}
	// Filters.
	only, err := c.ListReportQueue(ctx, req(&adminv1.ListReportQueueRequest{Kind: kMessage}))
	if err != nil || len(only.Msg.GetItems()) != 1 || only.Msg.GetItems()[0].GetTarget().GetId() != msgID {
		t.Errorf("kind filter: %v %v", only, err)
	}
	old, err := c.ListReportQueue(ctx, req(&adminv1.ListReportQueueRequest{MinAge: durationpb.New(24 * time.Hour)}))
	if err != nil || len(old.Msg.GetItems()) != 1 || old.Msg.GetItems()[0].GetTarget().GetId() != storyID {
		t.Errorf("min age: %v %v", old, err)
	}
	// Huge ages are "any", never a database error.
	if _, err := c.ListReportQueue(ctx, req(&adminv1.ListReportQueueRequest{MinAge: &durationpb.Duration{Seconds: 315576000000}, MaxAge: &durationpb.Duration{Seconds: 315576000000}})); err != nil {
		t.Errorf("huge ages: %v", err)
	}
	recent, err := c.ListReportQueue(ctx, req(&adminv1.ListReportQueueRequest{MaxAge: durationpb.New(time.Hour)}))
	if err != nil || len(recent.Msg.GetItems()) != 4 {
		t.Errorf("max age: %v %v", recent, err)
	}
	// Paging visits every target once, in order.
	var seen []string
	cursor := ""
	for range 10 {
		pg, err := c.ListReportQueue(ctx, req(&adminv1.ListReportQueueRequest{Page: &commonv1.PageRequest{Limit: 2, Cursor: cursor}}))
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range pg.Msg.GetItems() {
			seen = append(seen, it.GetTarget().GetId())
		}
		if cursor = pg.Msg.GetPage().GetNextCursor(); cursor == "" {
			break
		}
	}
	if len(seen) != 5 || seen[0] != storyID {
		t.Errorf("paged: %v", seen)
	}
	for i, it := range q.Msg.GetItems() {
		if seen[i] != it.GetTarget().GetId() {
			t.Errorf("page order %d: %s, want %s", i, seen[i], it.GetTarget().GetId())
		}
	}
	if _, err := c.ListReportQueue(ctx, req(&adminv1.ListReportQueueRequest{Page: &commonv1.PageRequest{Cursor: "bm9wZQ"}})); code(err) != connect.CodeInvalidArgument {
		t.Errorf("bad cursor: %v", err)
	}

	// Detail with the preview (media through the stored value or proxy).
	d, err := c.GetReportTarget(ctx, req(&adminv1.GetReportTargetRequest{Target: tgt(kPost, postID)}))
	if err != nil {
		t.Fatal(err)
	}
	pv := d.Msg.GetPreview()
	if pv.GetText() != "bad-post" || len(pv.GetMedia()) != 1 || !strings.Contains(pv.GetMedia()[0].GetUrl(), "/api/media/proxy/posts/bad-post.jpg") || pv.GetAuthor().GetName() != "Author Person" ||
		pv.GetRemoved() || pv.GetMissing() || len(d.Msg.GetReports()) != 3 || d.Msg.GetReports()[0].GetReporter().GetId() == "" ||
		d.Msg.GetItem().GetReportCount() != 3 {
		t.Errorf("detail: %v", d.Msg)
	}
	dm, err := c.GetReportTarget(ctx, req(&adminv1.GetReportTargetRequest{Target: tgt(kMessage, msgID)}))
	if err != nil || dm.Msg.GetPreview().GetText() != "rude message" || dm.Msg.GetPreview().GetParentId() == "" {
		t.Errorf("message detail: %v %v", dm, err)
	}
	if _, err := c.GetReportTarget(ctx, req(&adminv1.GetReportTargetRequest{Target: tgt(kPost, id.New().String())})); code(err) != connect.CodeNotFound {
		t.Errorf("unknown target: %v", err)
	}

	// Dismiss resolves; a second dismiss finds nothing open; the reporters
	// read the outcome; the resolved list has it.
	ds, err := c.Dismiss(ctx, req(&adminv1.DismissRequest{Target: tgt(kUser, author.String()), Reason: "not impersonation"}))
	if err != nil || ds.Msg.GetEntry().GetResolvedReports() != 2 || ds.Msg.GetEntry().GetAction() != adminv1.Action_ACTION_DISMISS ||
		ds.Msg.GetEntry().GetActor().GetId() != mod.String() {
		t.Fatalf("dismiss: %v %v", ds, err)
	}
	if _, err := c.Dismiss(ctx, req(&adminv1.DismissRequest{Target: tgt(kUser, author.String())})); code(err) != connect.CodeFailedPrecondition {
		t.Errorf("second dismiss: %v", err)
	}
	mine, err := m(r1).ListMyReports(ctx, req(&adminv1.ListMyReportsRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []string
	for _, r := range mine.Msg.GetReports() {
		outcomes = append(outcomes, r.GetTarget().GetKind().String()+"="+r.GetOutcome().String())
	}
	if len(mine.Msg.GetReports()) != 3 || !strings.Contains(strings.Join(outcomes, " "), "TARGET_KIND_USER=OUTCOME_DISMISSED") {
		t.Errorf("r1's reports: %v", outcomes)
	}
	resolved, err := c.ListReportQueue(ctx, req(&adminv1.ListReportQueueRequest{Status: adminv1.ReportStatus_REPORT_STATUS_RESOLVED}))
	if err != nil || len(resolved.Msg.GetItems()) != 1 || resolved.Msg.GetItems()[0].GetOutcome() != adminv1.Outcome_OUTCOME_DISMISSED {
		t.Errorf("resolved: %v %v", resolved, err)
	}
	// A report filed after the dismissal opens the target again.
	if _, err := s.users(r3).ReportUser(ctx, req(&userv1.ReportUserRequest{UserId: author.String(), Reason: "again"})); err != nil {
		t.Fatal(err)
	}
	q2, _ := c.ListReportQueue(ctx, req(&adminv1.ListReportQueueRequest{Kind: kUser}))
	if len(q2.Msg.GetItems()) != 1 || q2.Msg.GetItems()[0].GetOpenCount() != 1 || q2.Msg.GetItems()[0].GetReportCount() != 3 {
		t.Errorf("reopened: %v", q2.Msg)
	}
}

// tokenOf mints an access token for uid (no session).
func tokenOf(t testing.TB, uid id.ID) string {
	t.Helper()
	return tiertest.Token(t, uid)
}

// feedIDs lists the post ids of the home and global feeds viewer sees.
func (s *stack) feedIDs(viewer id.ID) (home, global []string) {
	s.t.Helper()
	ctx := context.Background()
	h, err := s.feeds(viewer).HomeFeed(ctx, req(&feedv1.HomeFeedRequest{}))
	if err != nil {
		s.t.Fatal(err)
	}
	g, err := s.feeds(viewer).GlobalFeed(ctx, req(&feedv1.GlobalFeedRequest{}))
	if err != nil {
		s.t.Fatal(err)
	}
	for _, p := range h.Msg.GetPosts() {
		home = append(home, p.GetId())
	}
	for _, p := range g.Msg.GetPosts() {
		global = append(global, p.GetId())
	}
	return home, global
}
