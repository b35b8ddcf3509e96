// Package auth is the auth tier: AuthService (credentials, OTP, sessions).
package auth

import (
	"context"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	authv1 "github.com/infliq/infliq/backend/gen/infliq/auth/v1"
	"github.com/infliq/infliq/backend/gen/infliq/auth/v1/authv1connect"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/tier"
)

// Service implements authv1connect.AuthServiceHandler.
type Service struct{}

// NewTier assembles the auth tier.
func NewTier(d tier.Deps) *tier.Tier {
	t := tier.New("auth", d)
	path, h := authv1connect.NewAuthServiceHandler(&Service{}, t.ConnectOptions()...)
	t.Mount(path, h, authv1connect.AuthServiceName)
	return t
}

// GetSession describes the caller's access token.
func (s *Service) GetSession(ctx context.Context, _ *connect.Request[authv1.GetSessionRequest]) (*connect.Response[authv1.GetSessionResponse], error) {
	p, ok := authn.FromContext(ctx)
	if !ok {
		return nil, apperr.Unauthorized("No token provided")
	}
	resp := &authv1.GetSessionResponse{UserId: p.UserID.String(), LegacyToken: p.Legacy}
	if !p.IssuedAt.IsZero() {
		resp.IssuedAt = timestamppb.New(p.IssuedAt)
	}
	if !p.ExpiresAt.IsZero() {
		resp.ExpiresAt = timestamppb.New(p.ExpiresAt)
	}
	return connect.NewResponse(resp), nil
}
