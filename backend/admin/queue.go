package admin

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/infliq/infliq/backend/gen/infliq/admin/v1"
	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/id"
)

const (
	defaultQueuePage = 50
	maxQueuePage     = 100
	snippetLen       = 200
)

// groupSQL is the queue: reports of every kind (the moderation_reports
// view, migration 10001) grouped by target. $1 filters the kind (” for
// all). The reasons and the latest outcome are read per row of the page.
const groupSQL = `WITH g AS (
		SELECT kind, target_id, count(*)::int AS n, (count(*) FILTER (WHERE resolved_at IS NULL))::int AS open_n,
			min(created_at) AS first_at, max(created_at) AS last_at,
			min(created_at) FILTER (WHERE resolved_at IS NULL) AS oldest_open
		FROM moderation_reports WHERE ($1 = '' OR kind = $1)
		GROUP BY kind, target_id
	)
	SELECT g.kind, g.target_id, g.n, g.open_n, g.first_at, g.last_at, g.oldest_open,
		ARRAY(SELECT x.reason FROM moderation_reports x WHERE x.kind = g.kind AND x.target_id = g.target_id
			GROUP BY x.reason ORDER BY count(*) DESC, x.reason LIMIT 10),
		coalesce((SELECT o.outcome FROM report_outcomes o WHERE o.target_id = g.target_id AND o.report_kind = g.kind
			ORDER BY o.resolved_at DESC LIMIT 1), '')
	FROM g`

type group struct {
	t           target
	n, open     int32
	first, last time.Time
	oldestOpen  *time.Time
	reasons     []string
	outcome     string
}

func scanGroup(row pgx.Row) (group, error) {
	var g group
	var tid string
	err := row.Scan(&g.t.Kind, &tid, &g.n, &g.open, &g.first, &g.last, &g.oldestOpen, &g.reasons, &g.outcome)
	if err == nil {
		g.t.ID, err = id.Parse(tid)
	}
	return g, err
}

func (g group) item(now time.Time, p *adminv1.ContentPreview) *adminv1.QueueItem {
	it := &adminv1.QueueItem{
		Target: g.t.proto(), ReportCount: g.n, OpenCount: g.open, Reasons: g.reasons,
		FirstReportedAt: timestamppb.New(g.first), LastReportedAt: timestamppb.New(g.last),
		Status: adminv1.ReportStatus_REPORT_STATUS_RESOLVED, Outcome: outcomeEnum(g.outcome),
	}
	if g.oldestOpen != nil {
		it.Status = adminv1.ReportStatus_REPORT_STATUS_OPEN
		it.OldestOpenAt = timestamppb.New(*g.oldestOpen)
		it.OldestOpenAge = durationpb.New(now.Sub(*g.oldestOpen).Truncate(time.Second))
	}
	if p != nil {
		it.Author = p.GetAuthor()
		it.Snippet = p.GetText()
		if g.t.Kind == "user" {
			it.Snippet = p.GetAuthor().GetName()
		}
		it.Snippet = clip(it.Snippet, snippetLen)
	}
	return it
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// queueCursor is the position after the last row of a page.
func queueCursor(at time.Time, t target) string {
	return base64.RawURLEncoding.EncodeToString([]byte(at.UTC().Format(time.RFC3339Nano) + "|" + t.Kind + "|" + t.ID.String()))
}

func parseQueueCursor(c string) (time.Time, string, string, error) {
	bad := apperr.BadRequest("Invalid cursor")
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", "", bad
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != 3 || !id.Valid(parts[2]) {
		return time.Time{}, "", "", bad
	}
	at, err := time.Parse(time.RFC3339Nano, parts[0])
	if err != nil {
		return time.Time{}, "", "", bad
	}
	return at, parts[1], parts[2], nil
}

// ListReportQueue lists reported targets: open ones oldest open report
// first (the most overdue on top), resolved ones latest report first.
func (s *Service) ListReportQueue(ctx context.Context, req *connect.Request[adminv1.ListReportQueueRequest]) (*connect.Response[adminv1.ListReportQueueResponse], error) {
	if _, err := s.require(ctx, false); err != nil {
		return nil, err
	}
	m := req.Msg
	limit := int(m.GetPage().GetLimit())
	if limit <= 0 {
		limit = defaultQueuePage
	}
	limit = min(limit, maxQueuePage)
	kind := ""
	if m.GetKind() != adminv1.TargetKind_TARGET_KIND_UNSPECIFIED {
		kind = kindNames[m.GetKind()]
	}
	// Ages past ten years mean "any": clamped, so now() minus the age
	// stays a valid timestamp.
	const maxAgeFilter = 10 * 365 * 24 * time.Hour
	var minAge, maxAge *time.Duration
	if m.MinAge != nil {
		d := min(m.GetMinAge().AsDuration(), maxAgeFilter)
		minAge = &d
	}
	if m.MaxAge != nil {
		d := min(m.GetMaxAge().AsDuration(), maxAgeFilter)
		maxAge = &d
	}
	open := m.GetStatus() != adminv1.ReportStatus_REPORT_STATUS_RESOLVED
	args := []any{kind, minAge, maxAge}
	sql := groupSQL + ` WHERE ($2::interval IS NULL OR coalesce(g.oldest_open, g.first_at) <= now() - $2::interval)
		AND ($3::interval IS NULL OR g.last_at >= now() - $3::interval)`
	if open {
		sql += ` AND g.open_n > 0`
	} else {
		sql += ` AND g.open_n = 0`
	}
	if c := m.GetPage().GetCursor(); c != "" {
		at, k, tid, err := parseQueueCursor(c)
		if err != nil {
			return nil, err
		}
		args = append(args, at, k, tid)
		if open {
			sql += ` AND (g.oldest_open, g.kind, g.target_id::text) > ($4, $5, $6)`
		} else {
			sql += ` AND (g.last_at, g.kind, g.target_id::text) < ($4, $5, $6)`
		}
	}
	if open {
		sql += ` ORDER BY g.oldest_open, g.kind, g.target_id`
	} else {
		sql += ` ORDER BY g.last_at DESC, g.kind DESC, g.target_id DESC`
	}
	args = append(args, limit+1)
	sql += ` LIMIT $` + strconv.Itoa(len(args))
	groups, err := collect(ctx, s, sql, scanGroup, args...)
	if err != nil {
		return nil, err
	}
	res := &adminv1.ListReportQueueResponse{Page: &commonv1.PageResponse{}}
	if len(groups) > limit {
		groups = groups[:limit]
		last := groups[limit-1]
		at := last.last
		if open {
			at = *last.oldestOpen
		}
		res.Page.NextCursor = queueCursor(at, last.t)
	}
	ts := make([]target, len(groups))
	for i, g := range groups {
		ts[i] = g.t
	}
	previews, err := s.previews(ctx, ts)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	for _, g := range groups {
		res.Items = append(res.Items, g.item(now, previews[g.t]))
	}
	if err := s.o.DB.QueryRow(ctx, `SELECT count(*) FROM (SELECT DISTINCT kind, target_id FROM moderation_reports WHERE resolved_at IS NULL) o`).
		Scan(&res.OpenTargets); err != nil {
		return nil, apperr.Internal(err)
	}
	return connect.NewResponse(res), nil
}

// GetReportTarget returns one target's queue row, reports, preview and history.
func (s *Service) GetReportTarget(ctx context.Context, req *connect.Request[adminv1.GetReportTargetRequest]) (*connect.Response[adminv1.GetReportTargetResponse], error) {
	if _, err := s.require(ctx, false); err != nil {
		return nil, err
	}
	t, err := parseTarget(req.Msg.GetTarget())
	if err != nil {
		return nil, err
	}
	previews, err := s.previews(ctx, []target{t})
	if err != nil {
		return nil, err
	}
	p := previews[t]
	groups, err := collect(ctx, s, groupSQL+` WHERE g.target_id = $2`, scanGroup, t.Kind, t.ID)
	if err != nil {
		return nil, err
	}
	res := &adminv1.GetReportTargetResponse{Preview: p}
	if len(groups) == 1 {
		res.Item = groups[0].item(time.Now(), p)
	} else if p.GetMissing() {
		return nil, apperr.NotFound("Nothing reported or found with this id")
	}
	if res.Reports, err = s.reports(ctx, `r.kind = $1 AND r.target_id = $2`, t.Kind, t.ID); err != nil {
		return nil, err
	}
	// The target's history, and for content its author's.
	ids := []string{t.ID.String()}
	if a := p.GetAuthor().GetId(); a != "" && a != t.ID.String() {
		ids = append(ids, a)
	}
	if res.History, err = s.logs(ctx, `l.target_id = ANY($1::text[])`, []any{ids}, 50); err != nil {
		return nil, err
	}
	return connect.NewResponse(res), nil
}

// reports lists reports matching where (over moderation_reports r), newest
// first, at most 100.
func (s *Service) reports(ctx context.Context, where string, args ...any) ([]*adminv1.ReportEntry, error) {
	rows, err := s.o.DB.Query(ctx, `SELECT r.id, r.kind, r.target_id, r.reason, r.details, r.created_at,
			coalesce(r.outcome, ''), r.resolved_at, u.id, coalesce(u.name, ''), coalesce(u.profile_picture, ''), coalesce(u.is_verified, false)
		FROM moderation_reports r LEFT JOIN users u ON u.id = r.reporter_id
		WHERE `+where+` ORDER BY r.created_at DESC, r.id DESC LIMIT 100`, args...)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	defer rows.Close()
	var out []*adminv1.ReportEntry
	for rows.Next() {
		var (
			e             adminv1.ReportEntry
			u             commonv1.UserSummary
			kind, tid, oc string
			created       time.Time
			resolved      *time.Time
			reporter      *string
		)
		if err := rows.Scan(&e.Id, &kind, &tid, &e.Reason, &e.Details, &created, &oc, &resolved, &reporter, &u.Name, &u.ProfilePicture, &u.IsVerified); err != nil {
			return nil, apperr.Internal(err)
		}
		if reporter != nil {
			u.Id = *reporter
			e.Reporter = &u
		}
		e.Target = &adminv1.Target{Kind: kindEnum(kind), Id: tid}
		e.CreatedAt = timestamppb.New(created)
		e.Status = adminv1.ReportStatus_REPORT_STATUS_OPEN
		if resolved != nil {
			e.Status, e.Outcome, e.ResolvedAt = adminv1.ReportStatus_REPORT_STATUS_RESOLVED, outcomeEnum(oc), timestamppb.New(*resolved)
		}
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Internal(err)
	}
	return out, nil
}

// previews reads what moderators see of each target, one query per kind.
// Targets not found are marked missing.
func (s *Service) previews(ctx context.Context, ts []target) (map[target]*adminv1.ContentPreview, error) {
	byKind := map[string][]string{}
	out := make(map[target]*adminv1.ContentPreview, len(ts))
	for _, t := range ts {
		byKind[t.Kind] = append(byKind[t.Kind], t.ID.String())
		out[t] = &adminv1.ContentPreview{Target: t.proto(), Missing: true}
	}
	for kind, ids := range byKind {
		sql, ok := previewSQL[kind]
		if !ok {
			continue
		}
		rows, err := s.o.DB.Query(ctx, sql, ids)
		if err != nil {
			return nil, apperr.Internal(err)
		}
		for rows.Next() {
			var (
				tid, text, media, mtype, thumb, parent string
				created                                time.Time
				a                                      commonv1.UserSummary
				removed, suspended                     bool
			)
			if err := rows.Scan(&tid, &text, &media, &mtype, &thumb, &parent, &created, &a.Id, &a.Name, &a.ProfilePicture, &a.IsVerified, &removed, &suspended); err != nil {
				rows.Close()
				return nil, apperr.Internal(err)
			}
			v, _ := id.Parse(tid)
			p := out[target{Kind: kind, ID: v}]
			if p == nil {
				continue
			}
			p.Missing, p.Text, p.CreatedAt, p.Author, p.Removed, p.AuthorSuspended, p.ParentId = false, text, timestamppb.New(created), &a, removed, suspended, parent
			if media != "" {
				p.Media = append(p.Media, &adminv1.MediaRef{Url: s.resolveMedia(media), Type: mtype, ThumbnailUrl: thumb})
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, apperr.Internal(err)
		}
	}
	return out, nil
}

// suspendedSQL tells whether user a.id has a running suspension or ban.
const suspendedSQL = `EXISTS (SELECT 1 FROM auth_credentials ac WHERE ac.user_id = a.id AND ac.suspended_until > now())`

// previewSQL reads previews of one kind: id, text, media, media type,
// thumbnail, parent, created, author (id, name, picture, verified),
// removed, author suspended. $1 is the ids.
var previewSQL = map[string]string{
	"user": `SELECT a.id, a.bio, a.profile_picture, CASE WHEN a.profile_picture <> '' THEN 'image' ELSE '' END, '', '', a.created_at,
			a.id, a.name, a.profile_picture, a.is_verified, false, ` + suspendedSQL + `
		FROM users a WHERE a.id = ANY($1::text[])`,
	"post": `SELECT p.id, p.content, p.media_url, p.media_type, p.thumbnail_url, '', p.created_at,
			a.id, a.name, a.profile_picture, a.is_verified,
			EXISTS (SELECT 1 FROM post_hidden h WHERE h.post_id = p.id AND h.cause = 'removed'), ` + suspendedSQL + `
		FROM posts p JOIN users a ON a.id = p.user_id WHERE p.id = ANY($1::text[])`,
	"comment": `SELECT c.id, c.text, '', '', '', c.post_id, c.created_at,
			a.id, a.name, a.profile_picture, a.is_verified,
			EXISTS (SELECT 1 FROM comment_hidden h WHERE h.comment_id = c.id AND h.cause = 'removed'), ` + suspendedSQL + `
		FROM post_comments c JOIN users a ON a.id = c.user_id WHERE c.id = ANY($1::text[])`,
	"story": `SELECT st.id, st.caption, st.media_url, st.media_type, '', '', st.created_at,
			a.id, a.name, a.profile_picture, a.is_verified,
			EXISTS (SELECT 1 FROM story_hidden h WHERE h.story_id = st.id AND h.cause = 'removed'), ` + suspendedSQL + `
		FROM stories st JOIN users a ON a.id = st.user_id WHERE st.id = ANY($1::text[])`,
	"message": `SELECT m.id, m.text, '', '', '', m.chat_id, m.created_at,
			a.id, a.name, a.profile_picture, a.is_verified,
			EXISTS (SELECT 1 FROM message_hidden h WHERE h.chat_id = m.chat_id AND h.message_id = m.id AND h.cause = 'removed'), ` + suspendedSQL + `
		FROM messages m JOIN users a ON a.id = m.sender_id WHERE m.id = ANY($1::text[])`,
}

// logs lists log entries matching where (over moderation_log l), newest first.
func (s *Service) logs(ctx context.Context, where string, args []any, limit int) ([]*adminv1.LogEntry, error) {
	args = append(args, limit)
	rows, err := s.o.DB.Query(ctx, `SELECT `+logCols+` FROM moderation_log l LEFT JOIN users u ON u.id = l.actor_id
		WHERE `+where+` ORDER BY l.id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	defer rows.Close()
	var out []*adminv1.LogEntry
	for rows.Next() {
		e, err := scanLog(rows)
		if err != nil {
			return nil, apperr.Internal(err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Internal(err)
	}
	return out, nil
}
