package auth

import (
	"context"
	"errors"
	"strings"
	"time"

	"connectrpc.com/connect"

	authv1 "github.com/infliq/infliq/backend/gen/infliq/auth/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/id"
)

// Internal implements authv1connect.AuthInternalServiceHandler for the user
// service's account deletion.
type Internal struct {
	s *Service
}

// RevokeUserSessions ends every session of the user.
func (i *Internal) RevokeUserSessions(ctx context.Context, req *connect.Request[authv1.RevokeUserSessionsRequest]) (*connect.Response[authv1.RevokeUserSessionsResponse], error) {
	uid, err := id.Parse(req.Msg.GetUserId())
	if err != nil {
		return nil, apperr.BadRequest("Invalid user id")
	}
	n, err := i.s.revokeAll(ctx, uid, "revoked by service")
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.RevokeUserSessionsResponse{Revoked: int32(n)}), nil
}

// DeleteCredentials removes phone, email, password hash and sessions; the
// user's access tokens stop working.
func (i *Internal) DeleteCredentials(ctx context.Context, req *connect.Request[authv1.DeleteCredentialsRequest]) (*connect.Response[authv1.DeleteCredentialsResponse], error) {
	uid, err := id.Parse(req.Msg.GetUserId())
	if err != nil {
		return nil, apperr.BadRequest("Invalid user id")
	}
	if _, err := i.s.revokeAll(ctx, uid, "account deleted"); err != nil {
		return nil, err
	}
	deleted, err := i.s.store.deleteCredentials(ctx, uid)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	return connect.NewResponse(&authv1.DeleteCredentialsResponse{Deleted: deleted}), nil
}

// SetEmail sets or clears the user's email (a login, so auth owns it).
func (i *Internal) SetEmail(ctx context.Context, req *connect.Request[authv1.SetEmailRequest]) (*connect.Response[authv1.SetEmailResponse], error) {
	uid, err := id.Parse(req.Msg.GetUserId())
	if err != nil {
		return nil, apperr.BadRequest("Invalid user id")
	}
	email := strings.TrimSpace(req.Msg.GetEmail())
	if email != "" && !validEmail(email) {
		return nil, apperr.BadRequest("Invalid email address")
	}
	found, err := i.s.store.setEmail(ctx, uid, email)
	switch {
	case errors.Is(err, errExists):
		return nil, apperr.Exists("Email already in use")
	case err != nil:
		return nil, apperr.Internal(err)
	case !found:
		return nil, apperr.NotFound("User not found")
	}
	return connect.NewResponse(&authv1.SetEmailResponse{Email: email}), nil
}

// GetContact returns the user's phone and email.
func (i *Internal) GetContact(ctx context.Context, req *connect.Request[authv1.GetContactRequest]) (*connect.Response[authv1.GetContactResponse], error) {
	uid, err := id.Parse(req.Msg.GetUserId())
	if err != nil {
		return nil, apperr.BadRequest("Invalid user id")
	}
	c, found, err := i.s.store.byID(ctx, uid)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	if !found {
		return nil, apperr.NotFound("User not found")
	}
	return connect.NewResponse(&authv1.GetContactResponse{
		Phone: c.Phone, Email: c.Email, PhoneVerified: c.PhoneVerified, HasPassword: c.PasswordHash != "" && !c.NeedsReset,
	}), nil
}

// SuspendAccount suspends or bans the user and revokes every session, so
// their access tokens are refused from now on (every tier's verifier reads
// the revocations).
func (i *Internal) SuspendAccount(ctx context.Context, req *connect.Request[authv1.SuspendAccountRequest]) (*connect.Response[authv1.SuspendAccountResponse], error) {
	m := req.Msg
	uid, err := id.Parse(m.GetUserId())
	if err != nil {
		return nil, apperr.BadRequest("Invalid user id")
	}
	var until *time.Time
	if m.Until != nil {
		t := m.GetUntil().AsTime()
		if !t.After(time.Now()) {
			return nil, apperr.BadRequest("Suspension end is in the past")
		}
		until = &t
	}
	actor := optionalID(m.GetActorId())
	sid := id.New()
	found, err := i.s.store.suspend(ctx, sid, uid, until, m.GetReason(), actor)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	if !found {
		return nil, apperr.NotFound("User not found")
	}
	n, err := i.s.revokeAll(ctx, uid, "suspended")
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.SuspendAccountResponse{SuspensionId: sid.String(), Revoked: int32(n)}), nil
}

// LiftSuspension ends the user's suspension or ban.
func (i *Internal) LiftSuspension(ctx context.Context, req *connect.Request[authv1.LiftSuspensionRequest]) (*connect.Response[authv1.LiftSuspensionResponse], error) {
	uid, err := id.Parse(req.Msg.GetUserId())
	if err != nil {
		return nil, apperr.BadRequest("Invalid user id")
	}
	lifted, err := i.s.store.lift(ctx, uid, optionalID(req.Msg.GetActorId()))
	if err != nil {
		return nil, apperr.Internal(err)
	}
	return connect.NewResponse(&authv1.LiftSuspensionResponse{Lifted: lifted}), nil
}

func optionalID(s string) *id.ID {
	v, err := id.Parse(s)
	if err != nil {
		return nil
	}
	return &v
}
