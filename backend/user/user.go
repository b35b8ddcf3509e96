// Package user is the user tier: UserService (profiles and the social graph).
package user

import (
	"context"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5/pgxpool"

	userv1 "github.com/infliq/infliq/backend/gen/infliq/user/v1"
	"github.com/infliq/infliq/backend/gen/infliq/user/v1/userv1connect"
	"github.com/infliq/infliq/backend/platform/tier"
)

// Limits are the bounds UserService enforces.
var Limits = &userv1.GetLimitsResponse{
	MaxPageSize:                 100,
	MaxSearchResults:            20,
	MaxNearbyResults:            50,
	DefaultNearbyDistanceMeters: 50000,
}

// Service implements userv1connect.UserServiceHandler.
type Service struct{}

// NewTier assembles the user tier.
func NewTier(d tier.Deps, db *pgxpool.Pool) *tier.Tier {
	t := tier.New("user", d)
	path, h := userv1connect.NewUserServiceHandler(&Service{}, t.ConnectOptions()...)
	t.Mount(path, h, userv1connect.UserServiceName, userv1connect.UserServiceGetLimitsProcedure)
	ipath, ih := userv1connect.NewUserInternalServiceHandler(&Internal{db: db}, t.ConnectOptions()...)
	t.Mount(ipath, ih, userv1connect.UserInternalServiceName)
	return t
}

// GetLimits returns Limits.
func (s *Service) GetLimits(context.Context, *connect.Request[userv1.GetLimitsRequest]) (*connect.Response[userv1.GetLimitsResponse], error) {
	return connect.NewResponse(Limits), nil
}
