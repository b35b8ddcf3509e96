package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/infliq/infliq/backend/gen/infliq/admin/v1"
	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/db"
	"github.com/infliq/infliq/backend/platform/id"
)

// Role names as stored in admin_roles.
const (
	RoleAdmin     = "admin"
	RoleModerator = "moderator"
)

func roleName(r adminv1.Role) string {
	switch r {
	case adminv1.Role_ROLE_ADMIN:
		return RoleAdmin
	case adminv1.Role_ROLE_MODERATOR:
		return RoleModerator
	}
	return ""
}

func roleEnum(s string) adminv1.Role {
	switch s {
	case RoleAdmin:
		return adminv1.Role_ROLE_ADMIN
	case RoleModerator:
		return adminv1.Role_ROLE_MODERATOR
	}
	return adminv1.Role_ROLE_UNSPECIFIED
}

// staff is an authenticated caller's standing.
type staff struct {
	ID        id.ID
	Admin     bool
	Moderator bool
	Bootstrap bool
}

// caller returns the authenticated user and their roles (one primary-key
// read). The role is never taken from the token or the request.
func (s *Service) caller(ctx context.Context) (staff, error) {
	p, ok := authn.FromContext(ctx)
	if !ok || p.UserID.IsZero() {
		return staff{}, apperr.Unauthorized("No token provided")
	}
	st := staff{ID: p.UserID, Bootstrap: s.isBootstrap(p.UserID.String())}
	roles, err := userRoles(ctx, s.o.DB, p.UserID)
	if err != nil {
		return staff{}, apperr.Internal(err)
	}
	for _, r := range roles {
		st.Admin = st.Admin || r == RoleAdmin
		st.Moderator = st.Moderator || r == RoleModerator
	}
	st.Admin = st.Admin || st.Bootstrap
	return st, nil
}

var (
	errNotStaff = apperr.Forbidden("Moderator or admin role required").WithReason("NOT_STAFF")
	errNotAdmin = apperr.Forbidden("Admin role required").WithReason("NOT_ADMIN")
)

// require authenticates and checks the role: moderator (admins included)
// or, with admin set, admin only.
func (s *Service) require(ctx context.Context, admin bool) (staff, error) {
	st, err := s.caller(ctx)
	if err != nil {
		return st, err
	}
	if !st.Admin && !st.Moderator {
		return st, errNotStaff
	}
	if admin && !st.Admin {
		return st, errNotAdmin
	}
	return st, nil
}

func userRoles(ctx context.Context, q db.Querier, uid id.ID) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT role FROM admin_roles WHERE user_id = $1 ORDER BY role`, uid)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// ErrNoSuchUser is returned by Grant for a user without a profile.
var ErrNoSuchUser = errors.New("admin: no such user")

// Grant gives uid a role and logs it; changed is false when it was held
// already (nothing is logged then). actor is the zero ID for the CLI.
func Grant(ctx context.Context, pool *pgxpool.Pool, actor, uid id.ID, role, reason string) (entryID id.ID, changed bool, err error) {
	return setRole(ctx, pool, actor, uid, role, reason, true)
}

// Revoke takes a role away and logs it; changed is false when it was not held.
func Revoke(ctx context.Context, pool *pgxpool.Pool, actor, uid id.ID, role, reason string) (entryID id.ID, changed bool, err error) {
	return setRole(ctx, pool, actor, uid, role, reason, false)
}

func setRole(ctx context.Context, pool *pgxpool.Pool, actor, uid id.ID, role, reason string, grant bool) (id.ID, bool, error) {
	if role != RoleAdmin && role != RoleModerator {
		return id.Nil, false, fmt.Errorf("admin: unknown role %q (admin or moderator)", role)
	}
	logID := id.New()
	var changed bool
	err := db.InTx(ctx, pool, func(tx pgx.Tx) error {
		var tag interface{ RowsAffected() int64 }
		var err error
		if grant {
			tag, err = tx.Exec(ctx, `INSERT INTO admin_roles (user_id, role, granted_by) VALUES ($1, $2, nullif($3, '000000000000000000000000'))
				ON CONFLICT DO NOTHING`, uid, role, actor.String())
			if db.IsForeignKeyViolation(err) {
				return ErrNoSuchUser
			}
		} else {
			tag, err = tx.Exec(ctx, `DELETE FROM admin_roles WHERE user_id = $1 AND role = $2`, uid, role)
		}
		if err != nil {
			return err
		}
		if changed = tag.RowsAffected() == 1; !changed {
			return nil
		}
		action := "grant_role"
		if !grant {
			action = "revoke_role"
		}
		_, err = tx.Exec(ctx, `INSERT INTO moderation_log (id, actor_id, action, target_kind, target_id, reason, detail)
			VALUES ($1, $2, $3, 'user', $4, $5, $6)`, logID, actor, action, uid, reason, role)
		return err
	})
	return logID, changed, err
}

// GetMyRoles returns the caller's roles.
func (s *Service) GetMyRoles(ctx context.Context, _ *connect.Request[adminv1.GetMyRolesRequest]) (*connect.Response[adminv1.GetMyRolesResponse], error) {
	st, err := s.require(ctx, false)
	if err != nil {
		return nil, err
	}
	res := &adminv1.GetMyRolesResponse{UserId: st.ID.String(), BootstrapAdmin: st.Bootstrap}
	if st.Admin {
		res.Roles = append(res.Roles, adminv1.Role_ROLE_ADMIN)
	}
	if st.Moderator {
		res.Roles = append(res.Roles, adminv1.Role_ROLE_MODERATOR)
	}
	return connect.NewResponse(res), nil
}

// ListStaff lists role holders, bootstrap admins included.
func (s *Service) ListStaff(ctx context.Context, _ *connect.Request[adminv1.ListStaffRequest]) (*connect.Response[adminv1.ListStaffResponse], error) {
	if _, err := s.require(ctx, false); err != nil {
		return nil, err
	}
	rows, err := s.o.DB.Query(ctx, `
		SELECT u.id, u.name, u.profile_picture, u.is_verified, r.role, r.created_at, coalesce(r.granted_by, ''), false
		FROM admin_roles r JOIN users u ON u.id = r.user_id
		UNION ALL
		SELECT u.id, u.name, u.profile_picture, u.is_verified, 'admin', u.created_at, '', true
		FROM users u WHERE u.id = ANY($1::text[])
		ORDER BY 5, 1`, s.bootstrapIDs())
	if err != nil {
		return nil, apperr.Internal(err)
	}
	defer rows.Close()
	res := &adminv1.ListStaffResponse{}
	for rows.Next() {
		var (
			u    commonv1.UserSummary
			m    adminv1.StaffMember
			role string
			at   time.Time
		)
		if err := rows.Scan(&u.Id, &u.Name, &u.ProfilePicture, &u.IsVerified, &role, &at, &m.GrantedBy, &m.Bootstrap); err != nil {
			return nil, apperr.Internal(err)
		}
		m.User, m.Role, m.GrantedAt = &u, roleEnum(role), timestamppb.New(at)
		res.Staff = append(res.Staff, &m)
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Internal(err)
	}
	return connect.NewResponse(res), nil
}

// GrantRole gives a role (admins only).
func (s *Service) GrantRole(ctx context.Context, req *connect.Request[adminv1.GrantRoleRequest]) (*connect.Response[adminv1.GrantRoleResponse], error) {
	st, err := s.require(ctx, true)
	if err != nil {
		return nil, err
	}
	e, err := s.roleAction(ctx, st, req.Msg.GetUserId(), req.Msg.GetRole(), req.Msg.GetReason(), true)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&adminv1.GrantRoleResponse{Entry: e}), nil
}

// RevokeRole takes a role away (admins only).
func (s *Service) RevokeRole(ctx context.Context, req *connect.Request[adminv1.RevokeRoleRequest]) (*connect.Response[adminv1.RevokeRoleResponse], error) {
	st, err := s.require(ctx, true)
	if err != nil {
		return nil, err
	}
	e, err := s.roleAction(ctx, st, req.Msg.GetUserId(), req.Msg.GetRole(), req.Msg.GetReason(), false)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&adminv1.RevokeRoleResponse{Entry: e}), nil
}

func (s *Service) roleAction(ctx context.Context, st staff, user string, r adminv1.Role, reason string, grant bool) (*adminv1.LogEntry, error) {
	uid, err := id.Parse(user)
	if err != nil {
		return nil, apperr.BadRequest("Invalid user id")
	}
	role := roleName(r)
	if role == "" {
		return nil, apperr.BadRequest("Unknown role")
	}
	if !grant && uid == st.ID && role == RoleAdmin {
		// An admin cannot lock the console out by accident.
		return nil, apperr.Conflict("You cannot revoke your own admin role")
	}
	logID, changed, err := setRole(ctx, s.o.DB, st.ID, uid, role, reason, grant)
	switch {
	case errors.Is(err, ErrNoSuchUser):
		return nil, apperr.NotFound("User not found")
	case err != nil:
		return nil, apperr.Internal(err)
	case !changed:
		return nil, nil // idempotent: nothing changed, nothing logged
	}
	return s.logEntry(ctx, logID)
}
