package admin

import (
	"context"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/infliq/infliq/backend/auth/phone"
	adminv1 "github.com/infliq/infliq/backend/gen/infliq/admin/v1"
	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	"github.com/infliq/infliq/backend/media"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/id"
)

const maxFound = 20

// userRowSQL reads lookup rows; staff see phone numbers (auth_credentials).
const userRowSQL = `SELECT u.id, u.name, u.profile_picture, u.is_verified, u.created_at,
		coalesce(ac.phone, ''), coalesce(ac.email, ''), u.bio,
		CASE WHEN ac.suspended_until > now() AND ac.suspended_until <> 'infinity' THEN ac.suspended_until END,
		coalesce(ac.suspended_until = 'infinity', false),
		ARRAY(SELECT r.role FROM admin_roles r WHERE r.user_id = u.id ORDER BY r.role)
	FROM users u LEFT JOIN auth_credentials ac ON ac.user_id = u.id`

func (s *Service) userRows(ctx context.Context, where string, args ...any) ([]*adminv1.UserRow, []string, []string, error) {
	rows, err := s.o.DB.Query(ctx, userRowSQL+` WHERE `+where, args...)
	if err != nil {
		return nil, nil, nil, apperr.Internal(err)
	}
	defer rows.Close()
	var (
		out          []*adminv1.UserRow
		emails, bios []string
	)
	for rows.Next() {
		var (
			u          commonv1.UserSummary
			r          adminv1.UserRow
			created    time.Time
			until      *time.Time
			email, bio string
			roles      []string
		)
		if err := rows.Scan(&u.Id, &u.Name, &u.ProfilePicture, &u.IsVerified, &created, &r.Phone, &email, &bio, &until, &r.Banned, &roles); err != nil {
			return nil, nil, nil, apperr.Internal(err)
		}
		r.User, r.CreatedAt = &u, timestamppb.New(created)
		if until != nil && !r.Banned {
			r.SuspendedUntil = timestamppb.New(*until)
		}
		for _, role := range roles {
			r.Roles = append(r.Roles, roleEnum(role))
		}
		if s.isBootstrap(u.Id) && !strings.Contains(strings.Join(roles, ","), RoleAdmin) {
			r.Roles = append(r.Roles, adminv1.Role_ROLE_ADMIN)
		}
		out = append(out, &r)
		emails, bios = append(emails, email), append(bios, bio)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, nil, apperr.Internal(err)
	}
	return out, emails, bios, nil
}

// FindUsers finds users by id, phone or name.
func (s *Service) FindUsers(ctx context.Context, req *connect.Request[adminv1.FindUsersRequest]) (*connect.Response[adminv1.FindUsersResponse], error) {
	if _, err := s.require(ctx, false); err != nil {
		return nil, err
	}
	q := strings.TrimSpace(req.Msg.GetQuery())
	if q == "" {
		return nil, apperr.BadRequest("Query required")
	}
	var (
		users []*adminv1.UserRow
		err   error
	)
	if uid, perr := id.Parse(strings.ToLower(q)); perr == nil {
		users, _, _, err = s.userRows(ctx, `u.id = $1`, uid)
	} else if looksLikePhone(q) {
		ph, perr := phone.Normalize(q, s.o.DefaultCountry)
		if perr != nil {
			return nil, apperr.BadRequest("Invalid phone number")
		}
		users, _, _, err = s.userRows(ctx, `ac.phone = $1`, ph)
	} else {
		// A literal substring (trigram index users_name_trgm_idx), never a pattern.
		users, _, _, err = s.userRows(ctx, `u.name ILIKE '%' || $1 || '%' ESCAPE '\' ORDER BY u.id DESC LIMIT `+strconv.Itoa(maxFound), escapeLike(q))
	}
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&adminv1.FindUsersResponse{Users: users}), nil
}

func looksLikePhone(q string) bool {
	digits := 0
	for i, r := range q {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0, r == ' ', r == '-', r == '(', r == ')', r == '.':
		default:
			return false
		}
	}
	return digits >= 6
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// GetUserDetail returns one user for the user page.
func (s *Service) GetUserDetail(ctx context.Context, req *connect.Request[adminv1.GetUserDetailRequest]) (*connect.Response[adminv1.GetUserDetailResponse], error) {
	if _, err := s.require(ctx, false); err != nil {
		return nil, err
	}
	uid, err := id.Parse(req.Msg.GetUserId())
	if err != nil {
		return nil, apperr.BadRequest("Invalid user id")
	}
	users, emails, bios, err := s.userRows(ctx, `u.id = $1`, uid)
	if err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, apperr.NotFound("User not found")
	}
	res := &adminv1.GetUserDetailResponse{User: users[0], Email: emails[0], Bio: bios[0], Counts: &adminv1.UserCounts{}}
	c := res.Counts
	// Counts: each an indexed count over the owner's table.
	if err := s.o.DB.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM follows WHERE followee_id = $1)::int,
			(SELECT count(*) FROM follows WHERE follower_id = $1)::int,
			(SELECT count(*) FROM posts WHERE user_id = $1)::int,
			(SELECT count(*) FROM stories WHERE user_id = $1)::int,
			(SELECT count(*) FROM messages WHERE sender_id = $1)::int,
			(SELECT count(*) FROM moderation_reports WHERE author_id = $1)::int,
			(SELECT count(*) FROM moderation_reports WHERE reporter_id = $1)::int`, uid).
		Scan(&c.Followers, &c.Following, &c.Posts, &c.Stories, &c.Messages, &c.ReportsAgainst, &c.ReportsBy); err != nil {
		return nil, apperr.Internal(err)
	}
	if res.ReportsAgainst, err = s.reports(ctx, `r.author_id = $1`, uid); err != nil {
		return nil, err
	}
	if res.ReportsBy, err = s.reports(ctx, `r.reporter_id = $1`, uid); err != nil {
		return nil, err
	}
	if res.Sessions, err = collect(ctx, s, `SELECT id, created_at, last_used_at, expires_at, revoked_at IS NOT NULL
		FROM auth_sessions WHERE user_id = $1 ORDER BY id DESC LIMIT 50`, func(r pgx.Row) (*adminv1.Session, error) {
		var (
			x                  adminv1.Session
			created, used, exp time.Time
		)
		err := r.Scan(&x.Id, &created, &used, &exp, &x.Revoked)
		x.CreatedAt, x.LastUsedAt, x.ExpiresAt = timestamppb.New(created), timestamppb.New(used), timestamppb.New(exp)
		return &x, err
	}, uid); err != nil {
		return nil, err
	}
	if res.Suspensions, err = collect(ctx, s, `SELECT id, created_at, until, reason, lifted_at, coalesce(created_by, '')
		FROM auth_suspensions WHERE user_id = $1 ORDER BY id DESC LIMIT 50`, func(r pgx.Row) (*adminv1.Suspension, error) {
		var (
			x             adminv1.Suspension
			created       time.Time
			until, lifted *time.Time
		)
		err := r.Scan(&x.Id, &created, &until, &x.Reason, &lifted, &x.CreatedBy)
		x.CreatedAt, x.Ban = timestamppb.New(created), until == nil
		if until != nil {
			x.Until = timestamppb.New(*until)
		}
		if lifted != nil {
			x.LiftedAt = timestamppb.New(*lifted)
		}
		return &x, err
	}, uid); err != nil {
		return nil, err
	}
	if res.Notices, err = collect(ctx, s, `SELECT id, message, created_at, read_at FROM user_notices
		WHERE user_id = $1 ORDER BY id DESC LIMIT 50`, scanNotice, uid); err != nil {
		return nil, err
	}
	if res.History, err = s.logs(ctx, `l.target_id = $1`, []any{uid}, 50); err != nil {
		return nil, err
	}
	return connect.NewResponse(res), nil
}

func scanNotice(r pgx.Row) (*adminv1.Notice, error) {
	var (
		x       adminv1.Notice
		created time.Time
		read    *time.Time
	)
	err := r.Scan(&x.Id, &x.Message, &created, &read)
	x.CreatedAt = timestamppb.New(created)
	if read != nil {
		x.ReadAt = timestamppb.New(*read)
	}
	return &x, err
}

// collect runs sql and scans every row, any failure an internal error.
func collect[T any](ctx context.Context, s *Service, sql string, scan func(pgx.Row) (T, error), args ...any) ([]T, error) {
	rows, err := s.o.DB.Query(ctx, sql, args...)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
	if err != nil {
		return nil, apperr.Internal(err)
	}
	return out, nil
}

// ListModerationLog pages the log newest first; the cursor is the last id.
func (s *Service) ListModerationLog(ctx context.Context, req *connect.Request[adminv1.ListModerationLogRequest]) (*connect.Response[adminv1.ListModerationLogResponse], error) {
	if _, err := s.require(ctx, false); err != nil {
		return nil, err
	}
	m := req.Msg
	limit := int(m.GetPage().GetLimit())
	if limit <= 0 {
		limit = defaultQueuePage
	}
	limit = min(limit, maxQueuePage)
	after := ""
	if c := m.GetPage().GetCursor(); c != "" {
		if !id.Valid(c) {
			return nil, apperr.BadRequest("Invalid cursor")
		}
		after = strings.ToLower(c)
	}
	action := ""
	if m.GetAction() != adminv1.Action_ACTION_UNSPECIFIED {
		action = actionNames[m.GetAction()]
	}
	entries, err := s.logs(ctx, `($1 = '' OR l.id < $1) AND ($2 = '' OR l.actor_id = $2) AND ($3 = '' OR l.target_id = $3) AND ($4 = '' OR l.action = $4)`,
		[]any{after, strings.ToLower(m.GetActorId()), strings.ToLower(m.GetTargetId()), action}, limit+1)
	if err != nil {
		return nil, err
	}
	res := &adminv1.ListModerationLogResponse{Page: &commonv1.PageResponse{}}
	if len(entries) > limit {
		entries = entries[:limit]
		res.Page.NextCursor = entries[limit-1].GetId()
	}
	res.Entries = entries
	return connect.NewResponse(res), nil
}

// ListMediaAuditLogs pages the media upload audit log (media_audit_logs,
// read with the media tier's own code).
func (s *Service) ListMediaAuditLogs(ctx context.Context, req *connect.Request[adminv1.ListMediaAuditLogsRequest]) (*connect.Response[adminv1.ListMediaAuditLogsResponse], error) {
	if _, err := s.require(ctx, false); err != nil {
		return nil, err
	}
	res, err := media.ReadAuditLogs(ctx, s.o.DB, s.o.AuditMaxLimit, req.Msg.GetQuery())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&adminv1.ListMediaAuditLogsResponse{Result: res}), nil
}
