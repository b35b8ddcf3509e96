package media

import (
	"context"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	mediav1 "github.com/infliq/infliq/backend/gen/infliq/media/v1"
	"github.com/infliq/infliq/backend/platform/httpx"
	"github.com/infliq/infliq/backend/platform/id"
)

func seedAudit(t *testing.T, e *env, n int, status, uid string) {
	t.Helper()
	for range n {
		h := http.Header{}
		h.Set(httpx.ClientIPHeader, "203.0.113.77")
		a := &auditEntry{Route: "/api/media/upload", Action: "upload-single", UserID: uid, IP: httpx.ServiceClientIP(&http.Request{Header: h}), Metadata: map[string]any{"filesCount": 1}}
		e.svc.audit(context.Background(), a, status, "")
	}
}

func TestAuditLogsAdminGateFiltersAndMasking(t *testing.T) {
	listed := id.New()
	e := newEnv(t, func(m *configMedia, _ *configS3) { m.AdminUserIDs = []string{listed.String()} })
	u1, u2 := id.New(), id.New()
	seedAudit(t, e, 3, "success", u1.String())
	seedAudit(t, e, 2, "rejected", u2.String())
	ctx := context.Background()

	// Non-admin: refused, on both protocols.
	for _, grpc := range []bool{false, true} {
		if _, err := e.client(u1, grpc).ListAuditLogs(ctx, connect.NewRequest(&mediav1.ListAuditLogsRequest{})); connect.CodeOf(err) != connect.CodePermissionDenied {
			t.Fatalf("non-admin: %v", err)
		}
	}
	for name, c := range map[string]interface {
		ListAuditLogs(context.Context, *connect.Request[mediav1.ListAuditLogsRequest]) (*connect.Response[mediav1.ListAuditLogsResponse], error)
	}{"role claim": e.adminClient(id.New()), "MEDIA_ADMIN_USER_IDS": e.client(listed, true)} {
		res, err := c.ListAuditLogs(ctx, connect.NewRequest(&mediav1.ListAuditLogsRequest{Limit: 2}))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		m := res.Msg
		if m.Total != 5 || len(m.Logs) != 2 || !m.HasMore || m.Page != 1 {
			t.Fatalf("%s: total=%d logs=%d more=%v", name, m.Total, len(m.Logs), m.HasMore)
		}
		if m.Logs[0].Ip != "203.0.x.x" || m.Logs[0].MetadataJson != `{"filesCount":1}` {
			t.Fatalf("%s: ip/metadata %q %q", name, m.Logs[0].Ip, m.Logs[0].MetadataJson)
		}
	}
	a := e.adminClient(id.New())
	res, err := a.ListAuditLogs(ctx, connect.NewRequest(&mediav1.ListAuditLogsRequest{Status: mediav1.AuditStatus_AUDIT_STATUS_REJECTED}))
	if err != nil || res.Msg.Total != 2 || res.Msg.Logs[0].Status != mediav1.AuditStatus_AUDIT_STATUS_REJECTED {
		t.Fatalf("status filter: %v %v", res, err)
	}
	res, err = a.ListAuditLogs(ctx, connect.NewRequest(&mediav1.ListAuditLogsRequest{UserId: u1.String(), Action: "upload-single"}))
	if err != nil || res.Msg.Total != 3 {
		t.Fatalf("user filter: %v %v", res, err)
	}
	res, err = a.ListAuditLogs(ctx, connect.NewRequest(&mediav1.ListAuditLogsRequest{From: timestamppb.New(time.Now().Add(time.Hour))}))
	if err != nil || res.Msg.Total != 0 {
		t.Fatalf("from filter: %v %v", res, err)
	}
	res, err = a.ListAuditLogs(ctx, connect.NewRequest(&mediav1.ListAuditLogsRequest{Limit: 1000}))
	if err != nil || res.Msg.Limit != 100 {
		t.Fatalf("limit cap: %v %v", res, err)
	}
	// Bad input: typed filters, never an operator or a 500.
	for _, r := range []*mediav1.ListAuditLogsRequest{
		{UserId: `{"$ne":""}`},
		{Status: mediav1.AuditStatus(42)},
		{Page: -1},
		{From: timestamppb.New(time.Now()), To: timestamppb.New(time.Now().Add(-time.Hour))},
	} {
		if _, err := a.ListAuditLogs(ctx, connect.NewRequest(r)); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("bad filter %v: %v", r, err)
		}
	}
}

func TestAuditDisabled(t *testing.T) {
	e := newEnv(t, func(m *configMedia, _ *configS3) { m.AuditEnabled = false })
	if _, err := e.adminClient(id.New()).ListAuditLogs(context.Background(), connect.NewRequest(&mediav1.ListAuditLogsRequest{})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("disabled: %v", err)
	}
}

func TestAuditRetentionDeletes(t *testing.T) {
	e := newEnv(t)
	seedAudit(t, e, 3, "success", "a")
	seedAudit(t, e, 2, "error", "b")
	ctx := context.Background()
	// Age two rows past their retention.
	if _, err := e.svc.db.db.Exec(ctx, `UPDATE media_audit_logs SET expires_at = now() - interval '1 minute' WHERE user_id = 'b'`); err != nil {
		t.Fatal(err)
	}
	var expiresIn time.Duration
	if err := e.svc.db.db.QueryRow(ctx, `SELECT max(expires_at - created_at) FROM media_audit_logs WHERE user_id = 'a'`).Scan(&expiresIn); err != nil || expiresIn != 30*24*time.Hour {
		t.Fatalf("retention of new rows: %v %v", expiresIn, err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { e.svc.RunRetention(runCtx, time.Hour); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := e.svc.db.db.QueryRow(ctx, `SELECT count(*) FROM media_audit_logs`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("retention did not delete: %d rows", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done // the job stops with its context
}
