package admin

import (
	"context"
	"errors"
	"slices"
	"sort"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/infliq/infliq/backend/gen/infliq/admin/v1"
	authv1 "github.com/infliq/infliq/backend/gen/infliq/auth/v1"
	chatv1 "github.com/infliq/infliq/backend/gen/infliq/chat/v1"
	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	feedv1 "github.com/infliq/infliq/backend/gen/infliq/feed/v1"
	postv1 "github.com/infliq/infliq/backend/gen/infliq/post/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/db"
	"github.com/infliq/infliq/backend/platform/id"
)

// target is a reported or moderated thing: kind is user, post, comment,
// story or message (the names stored in the tables).
type target struct {
	Kind string
	ID   id.ID
}

var kindNames = map[adminv1.TargetKind]string{
	adminv1.TargetKind_TARGET_KIND_USER: "user", adminv1.TargetKind_TARGET_KIND_POST: "post",
	adminv1.TargetKind_TARGET_KIND_COMMENT: "comment", adminv1.TargetKind_TARGET_KIND_STORY: "story",
	adminv1.TargetKind_TARGET_KIND_MESSAGE: "message",
}

func kindEnum(s string) adminv1.TargetKind {
	for k, v := range kindNames {
		if v == s {
			return k
		}
	}
	return adminv1.TargetKind_TARGET_KIND_UNSPECIFIED
}

func parseTarget(t *adminv1.Target) (target, error) {
	k, ok := kindNames[t.GetKind()]
	if !ok {
		return target{}, apperr.BadRequest("Invalid target kind")
	}
	v, err := id.Parse(t.GetId())
	if err != nil {
		return target{}, apperr.BadRequest("Invalid target id")
	}
	return target{Kind: k, ID: v}, nil
}

func (t target) proto() *adminv1.Target {
	return &adminv1.Target{Kind: kindEnum(t.Kind), Id: t.ID.String()}
}

// Action names as stored in moderation_log.
var actionNames = map[adminv1.Action]string{
	adminv1.Action_ACTION_DISMISS: "dismiss", adminv1.Action_ACTION_REMOVE_CONTENT: "remove_content",
	adminv1.Action_ACTION_RESTORE_CONTENT: "restore_content", adminv1.Action_ACTION_SUSPEND_USER: "suspend_user",
	adminv1.Action_ACTION_BAN_USER: "ban_user", adminv1.Action_ACTION_UNSUSPEND_USER: "unsuspend_user",
	adminv1.Action_ACTION_WARN_USER: "warn_user", adminv1.Action_ACTION_GRANT_ROLE: "grant_role",
	adminv1.Action_ACTION_REVOKE_ROLE: "revoke_role",
}

func actionEnum(s string) adminv1.Action {
	for k, v := range actionNames {
		if v == s {
			return k
		}
	}
	return adminv1.Action_ACTION_UNSPECIFIED
}

// Outcome names as stored in report_outcomes.
var outcomeNames = map[adminv1.Outcome]string{
	adminv1.Outcome_OUTCOME_DISMISSED: "dismissed", adminv1.Outcome_OUTCOME_CONTENT_REMOVED: "content_removed",
	adminv1.Outcome_OUTCOME_USER_WARNED: "user_warned", adminv1.Outcome_OUTCOME_USER_SUSPENDED: "user_suspended",
	adminv1.Outcome_OUTCOME_USER_BANNED: "user_banned", adminv1.Outcome_OUTCOME_REVERSED: "reversed",
}

func outcomeEnum(s string) adminv1.Outcome {
	for k, v := range outcomeNames {
		if v == s {
			return k
		}
	}
	return adminv1.Outcome_OUTCOME_UNSPECIFIED
}

// entry is one action to record.
type entry struct {
	actor   id.ID
	action  adminv1.Action
	target  target
	reason  string
	detail  string
	outcome adminv1.Outcome // unspecified: resolves nothing
	// resolve: targets whose open reports get the outcome.
	resolve []target
	// requireOpen refuses the action when nothing was open (Dismiss).
	requireOpen bool
	// notice, when set, is stored for the target user (WarnUser).
	notice string
}

var errNothingOpen = apperr.Conflict("No open report on this target").WithReason("NO_OPEN_REPORTS")

// record appends the log entry and resolves the open reports in one
// transaction. Actions on one target are serialised by a transaction-scoped
// advisory lock, so parallel actions resolve each report once and a
// Dismiss that finds nothing open fails instead of logging a no-op.
func (s *Service) record(ctx context.Context, e entry) (*adminv1.LogEntry, error) {
	// Owners may have acted already: the entry is written even if the
	// caller goes away now.
	ctx = ctxBackground(ctx)
	logID := id.New()
	resolve := append([]target(nil), e.resolve...)
	sort.Slice(resolve, func(i, j int) bool { // one lock order: no deadlocks
		if resolve[i].Kind != resolve[j].Kind {
			return resolve[i].Kind < resolve[j].Kind
		}
		return resolve[i].ID.String() < resolve[j].ID.String()
	})
	var reporters []id.ID
	err := db.InTx(ctx, s.o.DB, func(tx pgx.Tx) error {
		reporters = reporters[:0]
		var resolved int64
		for _, t := range resolve {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('moderation:' || $1 || ':' || $2, 0))`, t.Kind, t.ID.String()); err != nil {
				return err
			}
			if e.outcome == adminv1.Outcome_OUTCOME_UNSPECIFIED {
				continue
			}
			// The reporters of the reports resolved now are told (after
			// commit) that their report was reviewed.
			var n int64
			var by []string
			err := tx.QueryRow(ctx, `WITH r AS (
					SELECT kind, id, target_id, reporter_id FROM moderation_reports
					WHERE kind = $1 AND target_id = $2 AND resolved_at IS NULL
				), ins AS (
					INSERT INTO report_outcomes (report_kind, report_id, target_id, outcome, log_id)
					SELECT kind, id, target_id, $3, $4 FROM r
					ON CONFLICT DO NOTHING RETURNING report_kind, report_id
				)
				SELECT count(*), COALESCE(array_agg(DISTINCT r.reporter_id::text) FILTER (WHERE r.reporter_id IS NOT NULL), '{}')
				FROM ins JOIN r ON r.kind = ins.report_kind AND r.id = ins.report_id`,
				t.Kind, t.ID, outcomeNames[e.outcome], logID).Scan(&n, &by)
			if err != nil {
				return err
			}
			resolved += n
			for _, r := range by {
				if u, err := id.Parse(r); err == nil && !slices.Contains(reporters, u) {
					reporters = append(reporters, u)
				}
			}
		}
		if e.requireOpen && resolved == 0 {
			return errNothingOpen
		}
		if e.notice != "" {
			if _, err := tx.Exec(ctx, `INSERT INTO user_notices (id, user_id, message, log_id) VALUES ($1, $2, $3, $4)`,
				id.New(), e.target.ID, e.notice, logID); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO moderation_log (id, actor_id, action, target_kind, target_id, reason, detail, resolved_reports)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			logID, e.actor, actionNames[e.action], e.target.Kind, e.target.ID, e.reason, e.detail, resolved)
		return err
	})
	if err != nil {
		var ae *apperr.Error
		if errors.As(err, &ae) {
			return nil, ae
		}
		if db.IsForeignKeyViolation(err) {
			return nil, apperr.NotFound("User not found")
		}
		return nil, apperr.Internal(err)
	}
	s.notify(ctx, e, reporters)
	return s.logEntry(ctx, logID)
}

// reviewedText is what a reporter reads when their report was resolved.
var reviewedText = map[adminv1.Outcome]string{
	adminv1.Outcome_OUTCOME_DISMISSED:       "Your report was reviewed. No action was needed.",
	adminv1.Outcome_OUTCOME_CONTENT_REMOVED: "Your report was reviewed and the content was removed.",
	adminv1.Outcome_OUTCOME_USER_WARNED:     "Your report was reviewed and the account was warned.",
	adminv1.Outcome_OUTCOME_USER_SUSPENDED:  "Your report was reviewed and action was taken against the account.",
	adminv1.Outcome_OUTCOME_USER_BANNED:     "Your report was reviewed and action was taken against the account.",
}

// notify appends, after commit, the records the notify tier turns into
// inbox entries and pushes: the warning for its user, "your report was
// reviewed" for each reporter whose report this action resolved. The
// actor stays zero, so the moderator's identity never reaches a user. A
// bus failure never fails the action, which is committed (the warning
// stays a stored notice, the outcome stays in ListMyReports).
func (s *Service) notify(ctx context.Context, e entry, reporters []id.ID) {
	if s.o.Bus == nil {
		return
	}
	var recs []bus.Record
	if e.notice != "" {
		recs = append(recs, bus.Record{Kind: bus.RecModeration, To: []id.ID{e.target.ID}, Text: e.notice})
	}
	if text := reviewedText[e.outcome]; text != "" {
		for _, u := range reporters {
			if u != e.target.ID {
				recs = append(recs, bus.Record{Kind: bus.RecModeration, To: []id.ID{u}, Text: text})
			}
		}
	}
	if len(recs) == 0 {
		return
	}
	if err := bus.PublishAll(ctx, s.o.Bus, []bus.Publication{{Records: recs}}); err != nil {
		s.log.WarnContext(ctx, "moderation records not appended", "n", len(recs), "err", err)
	}
}

const logCols = `l.id, l.action, l.target_kind, l.target_id, l.reason, l.detail, l.resolved_reports, l.created_at,
	coalesce(l.actor_id, ''), coalesce(u.name, ''), coalesce(u.profile_picture, ''), coalesce(u.is_verified, false)`

func scanLog(row pgx.Row) (*adminv1.LogEntry, error) {
	var (
		e            adminv1.LogEntry
		a            commonv1.UserSummary
		action, kind string
		tid          string
		n            int32
		at           time.Time
	)
	if err := row.Scan(&e.Id, &action, &kind, &tid, &e.Reason, &e.Detail, &n, &at, &a.Id, &a.Name, &a.ProfilePicture, &a.IsVerified); err != nil {
		return nil, err
	}
	e.Action, e.Target, e.ResolvedReports, e.CreatedAt = actionEnum(action),
		&adminv1.Target{Kind: kindEnum(kind), Id: tid}, n, timestamppb.New(at)
	if a.Id != "" { // unset: the CLI
		e.Actor = &a
	}
	return &e, nil
}

func (s *Service) logEntry(ctx context.Context, logID id.ID) (*adminv1.LogEntry, error) {
	e, err := scanLog(s.o.DB.QueryRow(ctx, `SELECT `+logCols+` FROM moderation_log l LEFT JOIN users u ON u.id = l.actor_id WHERE l.id = $1`, logID))
	if err != nil {
		return nil, apperr.Internal(err)
	}
	return e, nil
}

// Dismiss resolves the target's open reports with no action.
func (s *Service) Dismiss(ctx context.Context, req *connect.Request[adminv1.DismissRequest]) (*connect.Response[adminv1.DismissResponse], error) {
	st, err := s.require(ctx, false)
	if err != nil {
		return nil, err
	}
	t, err := parseTarget(req.Msg.GetTarget())
	if err != nil {
		return nil, err
	}
	e, err := s.record(ctx, entry{actor: st.ID, action: adminv1.Action_ACTION_DISMISS, target: t, reason: req.Msg.GetReason(),
		outcome: adminv1.Outcome_OUTCOME_DISMISSED, resolve: []target{t}, requireOpen: true})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&adminv1.DismissResponse{Entry: e}), nil
}

// setHidden asks the content's owner to hide or show it.
func (s *Service) setHidden(ctx context.Context, t target, hidden bool) error {
	var found bool
	var err error
	switch t.Kind {
	case "post", "comment":
		var r *connect.Response[postv1.SetContentHiddenResponse]
		r, err = s.o.Posts.SetContentHidden(ctx, connect.NewRequest(&postv1.SetContentHiddenRequest{Kind: t.Kind, Id: t.ID.String(), Hidden: hidden}))
		found = err == nil && r.Msg.GetFound()
	case "story":
		var r *connect.Response[feedv1.SetContentHiddenResponse]
		r, err = s.o.Stories.SetContentHidden(ctx, connect.NewRequest(&feedv1.SetContentHiddenRequest{Kind: t.Kind, Id: t.ID.String(), Hidden: hidden}))
		found = err == nil && r.Msg.GetFound()
	case "message":
		var r *connect.Response[chatv1.SetMessageHiddenResponse]
		r, err = s.o.Chats.SetMessageHidden(ctx, connect.NewRequest(&chatv1.SetMessageHiddenRequest{MessageId: t.ID.String(), Hidden: hidden}))
		found = err == nil && r.Msg.GetFound()
	default:
		return apperr.BadRequest("Only posts, comments, stories and messages can be removed")
	}
	if err != nil {
		return apperr.Unavailable(err, "Content service unavailable").WithReason("DEPENDENCY_UNAVAILABLE")
	}
	if !found {
		return apperr.NotFound("Content not found")
	}
	return nil
}

// RemoveContent hides the content everywhere and resolves its reports.
func (s *Service) RemoveContent(ctx context.Context, req *connect.Request[adminv1.RemoveContentRequest]) (*connect.Response[adminv1.RemoveContentResponse], error) {
	st, err := s.require(ctx, false)
	if err != nil {
		return nil, err
	}
	t, err := parseTarget(req.Msg.GetTarget())
	if err != nil {
		return nil, err
	}
	if err := s.setHidden(ctx, t, true); err != nil {
		return nil, err
	}
	e, err := s.record(ctx, entry{actor: st.ID, action: adminv1.Action_ACTION_REMOVE_CONTENT, target: t, reason: req.Msg.GetReason(),
		outcome: adminv1.Outcome_OUTCOME_CONTENT_REMOVED, resolve: []target{t}})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&adminv1.RemoveContentResponse{Entry: e}), nil
}

// RestoreContent shows removed content again. Reports stay resolved (a
// reversal answers no report).
func (s *Service) RestoreContent(ctx context.Context, req *connect.Request[adminv1.RestoreContentRequest]) (*connect.Response[adminv1.RestoreContentResponse], error) {
	st, err := s.require(ctx, false)
	if err != nil {
		return nil, err
	}
	t, err := parseTarget(req.Msg.GetTarget())
	if err != nil {
		return nil, err
	}
	if err := s.setHidden(ctx, t, false); err != nil {
		return nil, err
	}
	e, err := s.record(ctx, entry{actor: st.ID, action: adminv1.Action_ACTION_RESTORE_CONTENT, target: t, reason: req.Msg.GetReason(),
		resolve: []target{t}})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&adminv1.RestoreContentResponse{Entry: e}), nil
}

// userTarget checks a user action: the user exists, is not the caller,
// and only admins act on staff.
func (s *Service) userTarget(ctx context.Context, st staff, user string, extra *adminv1.Target) ([]target, error) {
	uid, err := id.Parse(user)
	if err != nil {
		return nil, apperr.BadRequest("Invalid user id")
	}
	if uid == st.ID {
		return nil, apperr.Conflict("You cannot act on your own account")
	}
	var exists, isStaff bool
	if err := s.o.DB.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1), EXISTS (SELECT 1 FROM admin_roles WHERE user_id = $1)`,
		uid).Scan(&exists, &isStaff); err != nil {
		return nil, apperr.Internal(err)
	}
	if !exists {
		return nil, apperr.NotFound("User not found")
	}
	if (isStaff || s.isBootstrap(uid.String())) && !st.Admin {
		return nil, apperr.Forbidden("Only admins can act on staff accounts").WithReason("NOT_ADMIN")
	}
	ts := []target{{Kind: "user", ID: uid}}
	if extra != nil && extra.GetKind() != adminv1.TargetKind_TARGET_KIND_UNSPECIFIED {
		t, err := parseTarget(extra)
		if err != nil {
			return nil, err
		}
		if t != ts[0] {
			ts = append(ts, t)
		}
	}
	return ts, nil
}

// hideAuthor hides or shows everything the user wrote, at every owner.
func (s *Service) hideAuthor(ctx context.Context, uid id.ID, hidden bool) error {
	u := uid.String()
	if _, err := s.o.Posts.SetAuthorHidden(ctx, connect.NewRequest(&postv1.SetAuthorHiddenRequest{UserId: u, Hidden: hidden})); err != nil {
		return apperr.Unavailable(err, "Post service unavailable").WithReason("DEPENDENCY_UNAVAILABLE")
	}
	if _, err := s.o.Stories.SetAuthorHidden(ctx, connect.NewRequest(&feedv1.SetAuthorHiddenRequest{UserId: u, Hidden: hidden})); err != nil {
		return apperr.Unavailable(err, "Feed service unavailable").WithReason("DEPENDENCY_UNAVAILABLE")
	}
	if _, err := s.o.Chats.SetAuthorHidden(ctx, connect.NewRequest(&chatv1.SetAuthorHiddenRequest{UserId: u, Hidden: hidden})); err != nil {
		return apperr.Unavailable(err, "Chat service unavailable").WithReason("DEPENDENCY_UNAVAILABLE")
	}
	return nil
}

// suspend runs SuspendUser and BanUser: the account first (sessions end at
// once), then the content, then the log.
func (s *Service) suspend(ctx context.Context, st staff, user string, until *time.Time, reason string, extra *adminv1.Target) (*adminv1.LogEntry, error) {
	ts, err := s.userTarget(ctx, st, user, extra)
	if err != nil {
		return nil, err
	}
	uid := ts[0].ID
	req := &authv1.SuspendAccountRequest{UserId: uid.String(), Reason: reason, ActorId: st.ID.String()}
	action, outcome, detail := adminv1.Action_ACTION_BAN_USER, adminv1.Outcome_OUTCOME_USER_BANNED, "ban"
	if until != nil {
		req.Until = timestamppb.New(*until)
		action, outcome, detail = adminv1.Action_ACTION_SUSPEND_USER, adminv1.Outcome_OUTCOME_USER_SUSPENDED, "until "+until.UTC().Format(time.RFC3339)
	}
	if _, err := s.o.Accounts.SuspendAccount(ctx, connect.NewRequest(req)); err != nil {
		if connect.CodeOf(err) == connect.CodeNotFound {
			return nil, apperr.NotFound("The user has no login to suspend")
		}
		return nil, apperr.Unavailable(err, "Auth service unavailable").WithReason("DEPENDENCY_UNAVAILABLE")
	}
	if err := s.hideAuthor(ctx, uid, true); err != nil {
		return nil, err
	}
	return s.record(ctx, entry{actor: st.ID, action: action, target: ts[0], reason: reason, detail: detail, outcome: outcome, resolve: ts})
}

// SuspendUser suspends for a duration.
func (s *Service) SuspendUser(ctx context.Context, req *connect.Request[adminv1.SuspendUserRequest]) (*connect.Response[adminv1.SuspendUserResponse], error) {
	st, err := s.require(ctx, false)
	if err != nil {
		return nil, err
	}
	d := req.Msg.GetDuration().AsDuration()
	if d < time.Minute || d > 365*24*time.Hour {
		return nil, apperr.BadRequest("Duration must be between one minute and 365 days")
	}
	until := time.Now().Add(d)
	e, err := s.suspend(ctx, st, req.Msg.GetUserId(), &until, req.Msg.GetReason(), req.Msg.GetTarget())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&adminv1.SuspendUserResponse{Entry: e}), nil
}

// BanUser suspends with no end (admins only).
func (s *Service) BanUser(ctx context.Context, req *connect.Request[adminv1.BanUserRequest]) (*connect.Response[adminv1.BanUserResponse], error) {
	st, err := s.require(ctx, true)
	if err != nil {
		return nil, err
	}
	e, err := s.suspend(ctx, st, req.Msg.GetUserId(), nil, req.Msg.GetReason(), req.Msg.GetTarget())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&adminv1.BanUserResponse{Entry: e}), nil
}

// UnsuspendUser lifts a suspension or ban and shows the user's content.
// Moderators may lift suspensions; lifting a ban takes an admin.
func (s *Service) UnsuspendUser(ctx context.Context, req *connect.Request[adminv1.UnsuspendUserRequest]) (*connect.Response[adminv1.UnsuspendUserResponse], error) {
	st, err := s.require(ctx, false)
	if err != nil {
		return nil, err
	}
	ts, err := s.userTarget(ctx, st, req.Msg.GetUserId(), nil)
	if err != nil {
		return nil, err
	}
	uid := ts[0].ID
	if !st.Admin {
		var banned bool
		if err := s.o.DB.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM auth_credentials WHERE user_id = $1 AND suspended_until = 'infinity')`, uid).Scan(&banned); err != nil {
			return nil, apperr.Internal(err)
		}
		if banned {
			return nil, errNotAdmin
		}
	}
	res, err := s.o.Accounts.LiftSuspension(ctx, connect.NewRequest(&authv1.LiftSuspensionRequest{UserId: uid.String(), ActorId: st.ID.String()}))
	if err != nil {
		return nil, apperr.Unavailable(err, "Auth service unavailable").WithReason("DEPENDENCY_UNAVAILABLE")
	}
	if err := s.hideAuthor(ctx, uid, false); err != nil {
		return nil, err
	}
	if !res.Msg.GetLifted() {
		// Content shown again all the same (a suspension that expired on
		// its own leaves it hidden until someone lifts it), but say so.
		s.log.InfoContext(ctx, "unsuspend: no running suspension", "user_id", uid.String())
	}
	e, err := s.record(ctx, entry{actor: st.ID, action: adminv1.Action_ACTION_UNSUSPEND_USER, target: ts[0], reason: req.Msg.GetReason(), resolve: ts})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&adminv1.UnsuspendUserResponse{Entry: e}), nil
}

// WarnUser stores a notice for the user, resolves their reports and, after
// commit, puts the warning in their notification inbox (see notify).
func (s *Service) WarnUser(ctx context.Context, req *connect.Request[adminv1.WarnUserRequest]) (*connect.Response[adminv1.WarnUserResponse], error) {
	st, err := s.require(ctx, false)
	if err != nil {
		return nil, err
	}
	ts, err := s.userTarget(ctx, st, req.Msg.GetUserId(), req.Msg.GetTarget())
	if err != nil {
		return nil, err
	}
	e, err := s.record(ctx, entry{actor: st.ID, action: adminv1.Action_ACTION_WARN_USER, target: ts[0], reason: req.Msg.GetReason(),
		detail: req.Msg.GetMessage(), outcome: adminv1.Outcome_OUTCOME_USER_WARNED, resolve: ts, notice: req.Msg.GetMessage()})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&adminv1.WarnUserResponse{Entry: e}), nil
}
