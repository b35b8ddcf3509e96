package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	adminv1 "github.com/infliq/infliq/backend/gen/infliq/admin/v1"
	mediav1 "github.com/infliq/infliq/backend/gen/infliq/media/v1"
	postv1 "github.com/infliq/infliq/backend/gen/infliq/post/v1"
	userv1 "github.com/infliq/infliq/backend/gen/infliq/user/v1"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/infliq/infliq/backend/platform/db"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/pgtest"
)

// TestBadText: NUL, invalid UTF-8, oversized and empty strings in reasons,
// messages, queries and cursors are refused with invalid_argument (never a
// 5xx), for staff callers too.
func TestBadText(t *testing.T) {
	s := newStack(t)
	adm, user := s.user("adm"), s.user("user")
	s.grant(adm, "admin")
	postID := s.post(user, "p")
	huge := strings.Repeat("x", 5000)
	cases := []struct{ svc, method, body string }{
		{"AdminService", "Dismiss", `{"target":{"kind":"TARGET_KIND_POST","id":"` + postID + `"},"reason":"a\u0000b"}`},
		{"AdminService", "Dismiss", "{\"target\":{\"kind\":\"TARGET_KIND_POST\",\"id\":\"" + postID + "\"},\"reason\":\"a\xffb\"}"},
		{"AdminService", "Dismiss", `{"target":{"kind":"TARGET_KIND_POST","id":"` + postID + `"},"reason":"` + huge + `"}`},
		{"AdminService", "RemoveContent", `{"target":{"kind":"TARGET_KIND_POST","id":"` + postID + `"},"reason":""}`},
		{"AdminService", "RemoveContent", `{"target":{"kind":"TARGET_KIND_POST","id":"nope"},"reason":"x"}`},
		{"AdminService", "RemoveContent", `{"reason":"x"}`},
		{"AdminService", "FindUsers", `{"query":"a\u0000"}`},
		{"AdminService", "FindUsers", "{\"query\":\"\xc3\x28\"}"},
		{"AdminService", "FindUsers", `{"query":""}`},
		{"AdminService", "FindUsers", `{"query":"` + huge + `"}`},
		{"AdminService", "WarnUser", `{"userId":"` + user.String() + `","message":"hi\u0000"}`},
		{"AdminService", "WarnUser", `{"userId":"` + user.String() + `","message":""}`},
		{"AdminService", "SuspendUser", `{"userId":"` + user.String() + `","duration":"3600s","reason":"\u0000"}`},
		{"AdminService", "SuspendUser", `{"userId":"` + user.String() + `","reason":"x"}`},
		{"AdminService", "ListReportQueue", `{"page":{"cursor":"\u0000"}}`},
		{"AdminService", "ListReportQueue", `{"page":{"cursor":"not-base64!"}}`},
		{"AdminService", "ListModerationLog", `{"page":{"cursor":"zz"}}`},
		{"AdminService", "GrantRole", `{"userId":"` + user.String() + `","role":"ROLE_UNSPECIFIED"}`},
		{"ModerationService", "ReportContent", `{"target":{"kind":"TARGET_KIND_STORY","id":"` + id.New().String() + `"},"reason":"a\u0000"}`},
		{"ModerationService", "ReportContent", "{\"target\":{\"kind\":\"TARGET_KIND_STORY\",\"id\":\"" + id.New().String() + "\"},\"reason\":\"\xff\"}"},
		{"ModerationService", "ReportContent", `{"target":{"kind":"TARGET_KIND_STORY","id":"` + id.New().String() + `"},"reason":""}`},
		{"ModerationService", "ListMyReports", `{"page":{"cursor":"zz"}}`},
		{"ModerationService", "MarkNoticeRead", `{"noticeId":"\u0000"}`},
	}
	for _, c := range cases {
		url := s.urls["admin"] + "/infliq.admin.v1." + c.svc + "/" + c.method
		hreq, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader([]byte(c.body)))
		hreq.Header.Set("Content-Type", "application/json")
		hreq.Header.Set("Authorization", "Bearer "+tokenOf(t, adm))
		res, err := s.h1.Do(hreq)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var e struct{ Code string }
		_ = json.Unmarshal(raw, &e)
		if res.StatusCode != http.StatusBadRequest || e.Code != "invalid_argument" {
			t.Errorf("%s %.80q: %d %s", c.method, c.body, res.StatusCode, raw)
		}
	}
}

// TestLookupAndOverview: users found by id, phone and name (a literal
// substring); the detail's counts and reports; the overview's series;
// the media audit log; the staff list.
func TestLookupAndOverview(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	mod, target, reporter := s.user("mod"), s.user("Zed 100%_real"), s.user("reporter")
	s.grant(mod, "moderator")
	c := s.admin(mod)
	for _, q := range []string{target.String(), strings.ToUpper(target.String()), s.phoneOf(target), "100%_r", "zed 1"} {
		f, err := c.FindUsers(ctx, req(&adminv1.FindUsersRequest{Query: q}))
		if err != nil || len(f.Msg.GetUsers()) != 1 || f.Msg.GetUsers()[0].GetUser().GetId() != target.String() || f.Msg.GetUsers()[0].GetPhone() == "" {
			t.Errorf("find %q: %v %v", q, f, err)
		}
	}
	// "%" is literal: it does not match every name.
	if f, _ := c.FindUsers(ctx, req(&adminv1.FindUsersRequest{Query: "%"})); len(f.Msg.GetUsers()) != 1 {
		t.Errorf("find %%: %v", f.Msg)
	}
	p1 := s.post(target, "one")
	s.post(target, "two")
	s.follow(reporter, target)
	s.message(target, reporter, "hi")
	if _, err := s.posts(reporter).ReportPost(ctx, req(&postv1.ReportPostRequest{PostId: p1, Reason: "spam"})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.users(reporter).ReportUser(ctx, req(&userv1.ReportUserRequest{UserId: target.String(), Reason: "fake"})); err != nil {
		t.Fatal(err)
	}
	s.exec(`INSERT INTO calls (id, caller_id, receiver_id, room_name) VALUES ($1, $2, $3, 'room-1')`, id.New(), target, reporter)
	d, err := c.GetUserDetail(ctx, req(&adminv1.GetUserDetailRequest{UserId: target.String()}))
	if err != nil {
		t.Fatal(err)
	}
	n := d.Msg.GetCounts()
	if n.GetPosts() != 2 || n.GetFollowers() != 1 || n.GetMessages() != 1 || n.GetReportsAgainst() != 2 || n.GetReportsBy() != 0 ||
		len(d.Msg.GetReportsAgainst()) != 2 || d.Msg.GetUser().GetUser().GetName() != "Zed 100%_real" {
		t.Errorf("detail: %v", d.Msg)
	}
	if rd, _ := c.GetUserDetail(ctx, req(&adminv1.GetUserDetailRequest{UserId: reporter.String()})); len(rd.Msg.GetReportsBy()) != 2 {
		t.Errorf("reports by: %v", rd.Msg)
	}
	// Resolve one report an hour after it was filed.
	s.exec(`UPDATE post_reports SET created_at = now() - interval '1 hour'`)
	if _, err := c.Dismiss(ctx, req(&adminv1.DismissRequest{Target: tgt(kPost, p1)})); err != nil {
		t.Fatal(err)
	}
	o, err := c.GetOverview(ctx, req(&adminv1.GetOverviewRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	days := o.Msg.GetDays()
	today := days[len(days)-1]
	if len(days) != 30 || today.GetDay() != time.Now().UTC().Format("2006-01-02") {
		t.Fatalf("days: %d, last %v", len(days), today)
	}
	if today.GetSignups() < 4 || today.GetPosts() != 2 || today.GetMessages() != 1 || today.GetCalls() != 1 || today.GetReports() != 2 ||
		today.GetOpenReports() != 1 || today.GetActiveUsers() < 1 || today.GetMedianTimeToAction().AsDuration() < 59*time.Minute ||
		o.Msg.GetOpenTargets() != 1 || o.Msg.GetOldestOpenAge() == nil {
		t.Errorf("today: %v; open %d", today, o.Msg.GetOpenTargets())
	}
	if days[0].GetPosts() != 0 || days[0].GetMedianTimeToAction() != nil {
		t.Errorf("first day: %v", days[0])
	}
	if w, _ := c.GetOverview(ctx, req(&adminv1.GetOverviewRequest{Days: 7})); len(w.Msg.GetDays()) != 7 {
		t.Errorf("7 days: %d", len(w.Msg.GetDays()))
	}

	s.exec(`INSERT INTO media_audit_logs (id, user_id, ip, route, action, status, expires_at) VALUES ($1, $2, '203.0.113.7', '/api/media/upload', 'upload-single', 'rejected', now() + interval '1 day')`,
		id.New(), target.String())
	a, err := c.ListMediaAuditLogs(ctx, req(&adminv1.ListMediaAuditLogsRequest{Query: &mediav1.ListAuditLogsRequest{UserId: target.String()}}))
	if err != nil || len(a.Msg.GetResult().GetLogs()) != 1 || a.Msg.GetResult().GetLogs()[0].GetIp() == "203.0.113.7" {
		t.Errorf("audit: %v %v", a, err)
	}
	// No query at all is "no filter", not a panic.
	if a, err := c.ListMediaAuditLogs(ctx, req(&adminv1.ListMediaAuditLogsRequest{})); err != nil || len(a.Msg.GetResult().GetLogs()) == 0 {
		t.Errorf("audit without a query: %v %v", a, err)
	}
	st, err := c.ListStaff(ctx, req(&adminv1.ListStaffRequest{}))
	if err != nil || len(st.Msg.GetStaff()) != 2 { // mod, and the bootstrap admin
		t.Errorf("staff: %v %v", st, err)
	}
}

// TestCLI builds the real binary and runs `infliq admin grant|revoke|list`
// against a migrated database: by phone and by id, repeated (idempotent),
// and refused for unknown users and roles.
func TestCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dsn := pgtest.NewDSN(t)
	bin := filepath.Join(t.TempDir(), "infliq")
	build := exec.Command("go", "build", "-o", bin, "../cmd/infliq")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"admin"}, args...)...)
		cmd.Env = append(os.Environ(), "DATABASE_URL="+dsn, "LOG_LEVEL=error", "APP_ENV=development")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	pool := pgtestPool(t, dsn)
	uid := id.New()
	if _, err := pool.Exec(context.Background(), `INSERT INTO users (id, name) VALUES ($1, 'First Admin')`, uid); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(context.Background(), `INSERT INTO auth_credentials (user_id, phone, phone_verified_at, profile_ready) VALUES ($1, '+919876543210', now(), true)`, uid); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		ok   bool
		want string
	}{
		{[]string{"grant", "9876543210", "admin"}, true, "granted admin to " + uid.String()},
		{[]string{"grant", "+91 98765 43210", "admin"}, true, "already has admin"},
		{[]string{"grant", uid.String(), "moderator"}, true, "granted moderator"},
		{[]string{"list"}, true, "First Admin"},
		{[]string{"revoke", uid.String(), "moderator"}, true, "revoked moderator"},
		{[]string{"revoke", uid.String(), "moderator"}, true, "does not have moderator"},
		{[]string{"grant", "+919999999999", "admin"}, false, "no account with phone"},
		{[]string{"grant", id.New().String(), "admin"}, false, "has no profile"},
		{[]string{"grant", uid.String(), "owner"}, false, "unknown role"},
		{[]string{"grant", "not a phone", "admin"}, false, "neither a user id nor a phone"},
		{[]string{"grant"}, false, "usage"},
	} {
		out, err := run(c.args...)
		if (err == nil) != c.ok || !strings.Contains(out, c.want) {
			t.Errorf("infliq admin %v: %v\n%s", c.args, err, out)
		}
	}
	var roles, logged int
	if err := pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM admin_roles WHERE user_id = $1),
		(SELECT count(*) FROM moderation_log WHERE target_id = $1 AND actor_id IS NULL)`, uid).Scan(&roles, &logged); err != nil {
		t.Fatal(err)
	}
	if roles != 1 || logged != 3 {
		t.Errorf("%d roles, %d CLI log entries; want 1 and 3", roles, logged)
	}
}

func pgtestPool(t *testing.T, dsn string) *pgxpool.Pool {
	t.Helper()
	pool, err := db.Open(context.Background(), dsn, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}
