package admin

import (
	"context"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/infliq/infliq/backend/gen/infliq/admin/v1"
	"github.com/infliq/infliq/backend/gen/infliq/admin/v1/adminv1connect"
	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/db"
	"github.com/infliq/infliq/backend/platform/id"
)

// Moderation implements ModerationService, the user-facing side: any
// signed-in user, acting only on their own reports and notices.
type Moderation struct {
	s *Service
}

var _ adminv1connect.ModerationServiceHandler = (*Moderation)(nil)

func signedIn(ctx context.Context) (id.ID, error) {
	p, ok := authn.FromContext(ctx)
	if !ok || p.UserID.IsZero() {
		return id.Nil, apperr.Unauthorized("No token provided")
	}
	return p.UserID, nil
}

// visibleContentSQL finds the author of a comment, story or message the
// reporter ($2) can see: not hidden, and not from a user blocking them or
// blocked by them; a message only in a chat the reporter belongs to.
var visibleContentSQL = map[string]string{
	"comment": `SELECT c.user_id FROM post_comments c JOIN posts p ON p.id = c.post_id WHERE c.id = $1
		AND NOT EXISTS (SELECT 1 FROM comment_hidden h WHERE h.comment_id = c.id)
		AND NOT EXISTS (SELECT 1 FROM post_hidden h WHERE h.post_id = p.id)` + notBlocked("c.user_id"),
	"story": `SELECT s.user_id FROM stories s WHERE s.id = $1
		AND NOT EXISTS (SELECT 1 FROM story_hidden h WHERE h.story_id = s.id)` + notBlocked("s.user_id"),
	"message": `SELECT m.sender_id FROM messages m
		JOIN chat_members cm ON cm.chat_id = m.chat_id AND cm.user_id = $2
		WHERE m.id = $1 AND NOT EXISTS (SELECT 1 FROM message_hidden h WHERE h.chat_id = m.chat_id AND h.message_id = m.id)`,
}

func notBlocked(author string) string {
	return ` AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = $2 AND b.blocked_id = ` + author + `)
		AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = ` + author + ` AND b.blocked_id = $2)`
}

// ReportContent files a report on a comment, story or message.
func (m *Moderation) ReportContent(ctx context.Context, req *connect.Request[adminv1.ReportContentRequest]) (*connect.Response[adminv1.ReportContentResponse], error) {
	me, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	t, err := parseTarget(req.Msg.GetTarget())
	if err != nil {
		return nil, err
	}
	sql, ok := visibleContentSQL[t.Kind]
	if !ok {
		return nil, apperr.BadRequest("Report users with UserService.ReportUser and posts with PostService.ReportPost")
	}
	reason, details := strings.TrimSpace(req.Msg.GetReason()), strings.TrimSpace(req.Msg.GetDetails())
	if reason == "" {
		return nil, apperr.BadRequest("Reason required")
	}
	var author id.ID
	if err := m.s.o.DB.QueryRow(ctx, sql, t.ID, me).Scan(&author); err != nil {
		if db.IsNoRows(err) {
			return nil, apperr.NotFound("Content not found")
		}
		return nil, apperr.Internal(err)
	}
	if author == me {
		return nil, apperr.BadRequest("You cannot report your own content")
	}
	// One report per reporter and target: a repeat returns the first.
	var rid string
	err = m.s.o.DB.QueryRow(ctx, `WITH ins AS (
			INSERT INTO content_reports (id, reporter_id, target_kind, target_id, author_id, reason, details)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (target_kind, target_id, reporter_id) DO NOTHING RETURNING id)
		SELECT id FROM ins UNION ALL
		SELECT id FROM content_reports WHERE target_kind = $3 AND target_id = $4 AND reporter_id = $2
		LIMIT 1`, id.New(), me, t.Kind, t.ID, author, reason, details).Scan(&rid)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	return connect.NewResponse(&adminv1.ReportContentResponse{ReportId: rid}), nil
}

// ListMyReports lists the caller's reports with their outcome, newest
// first; the cursor is the last report id.
func (m *Moderation) ListMyReports(ctx context.Context, req *connect.Request[adminv1.ListMyReportsRequest]) (*connect.Response[adminv1.ListMyReportsResponse], error) {
	me, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	limit, after, err := simplePage(req.Msg.GetPage())
	if err != nil {
		return nil, err
	}
	res := &adminv1.ListMyReportsResponse{Page: &commonv1.PageResponse{}}
	if res.Reports, err = collect(ctx, m.s, `SELECT r.id, r.kind, r.target_id, r.reason, r.created_at, coalesce(r.outcome, ''), r.resolved_at
		FROM moderation_reports r WHERE r.reporter_id = $1 AND ($2 = '' OR r.id < $2)
		ORDER BY r.id DESC LIMIT $3`, scanMyReport, me, after, limit+1); err != nil {
		return nil, err
	}
	if len(res.Reports) > limit {
		res.Reports = res.Reports[:limit]
		res.Page.NextCursor = res.Reports[limit-1].GetId()
	}
	return connect.NewResponse(res), nil
}

func scanMyReport(row pgx.Row) (*adminv1.MyReport, error) {
	var (
		r             adminv1.MyReport
		kind, tid, oc string
		created       time.Time
		resolved      *time.Time
	)
	if err := row.Scan(&r.Id, &kind, &tid, &r.Reason, &created, &oc, &resolved); err != nil {
		return nil, err
	}
	r.Target, r.CreatedAt, r.Status = &adminv1.Target{Kind: kindEnum(kind), Id: tid}, timestamppb.New(created), adminv1.ReportStatus_REPORT_STATUS_OPEN
	if resolved != nil {
		r.Status, r.Outcome, r.ResolvedAt = adminv1.ReportStatus_REPORT_STATUS_RESOLVED, outcomeEnum(oc), timestamppb.New(*resolved)
	}
	return &r, nil
}

func simplePage(p *commonv1.PageRequest) (int, string, error) {
	limit := int(p.GetLimit())
	if limit <= 0 {
		limit = defaultQueuePage
	}
	limit = min(limit, maxQueuePage)
	c := strings.ToLower(p.GetCursor())
	if c != "" && !id.Valid(c) {
		return 0, "", apperr.BadRequest("Invalid cursor")
	}
	return limit, c, nil
}

// ListMyNotices lists the caller's notices, newest first.
func (m *Moderation) ListMyNotices(ctx context.Context, req *connect.Request[adminv1.ListMyNoticesRequest]) (*connect.Response[adminv1.ListMyNoticesResponse], error) {
	me, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	limit, after, err := simplePage(req.Msg.GetPage())
	if err != nil {
		return nil, err
	}
	res := &adminv1.ListMyNoticesResponse{Page: &commonv1.PageResponse{}}
	if res.Notices, err = collect(ctx, m.s, `SELECT id, message, created_at, read_at FROM user_notices
		WHERE user_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3`, scanNotice, me, after, limit+1); err != nil {
		return nil, err
	}
	if len(res.Notices) > limit {
		res.Notices = res.Notices[:limit]
		res.Page.NextCursor = res.Notices[limit-1].GetId()
	}
	if err := m.s.o.DB.QueryRow(ctx, `SELECT count(*) FROM user_notices WHERE user_id = $1 AND read_at IS NULL`, me).Scan(&res.Unread); err != nil {
		return nil, apperr.Internal(err)
	}
	return connect.NewResponse(res), nil
}

// MarkNoticeRead marks one of the caller's notices read.
func (m *Moderation) MarkNoticeRead(ctx context.Context, req *connect.Request[adminv1.MarkNoticeReadRequest]) (*connect.Response[adminv1.MarkNoticeReadResponse], error) {
	me, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	nid, err := id.Parse(req.Msg.GetNoticeId())
	if err != nil {
		return nil, apperr.BadRequest("Invalid notice id")
	}
	var found bool
	if err := m.s.o.DB.QueryRow(ctx, `WITH u AS (UPDATE user_notices SET read_at = coalesce(read_at, now())
			WHERE id = $1 AND user_id = $2 RETURNING 1) SELECT EXISTS (SELECT 1 FROM u)`, nid, me).Scan(&found); err != nil {
		return nil, apperr.Internal(err)
	}
	if !found {
		return nil, apperr.NotFound("Notice not found")
	}
	return connect.NewResponse(&adminv1.MarkNoticeReadResponse{}), nil
}
