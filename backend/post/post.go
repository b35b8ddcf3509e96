// Package post is the post tier: PostService (posts, reels and engagement).
package post

import (
	"context"

	"connectrpc.com/connect"

	postv1 "github.com/infliq/infliq/backend/gen/infliq/post/v1"
	"github.com/infliq/infliq/backend/gen/infliq/post/v1/postv1connect"
	"github.com/infliq/infliq/backend/platform/tier"
)

// Limits are the bounds PostService enforces.
var Limits = &postv1.GetLimitsResponse{
	MaxContentLength: 2200,
	MaxCommentLength: 1000,
	MaxPageSize:      50,
}

// Service implements postv1connect.PostServiceHandler.
type Service struct{}

// NewTier assembles the post tier.
func NewTier(d tier.Deps) *tier.Tier {
	t := tier.New("post", d)
	path, h := postv1connect.NewPostServiceHandler(&Service{}, t.ConnectOptions()...)
	t.Mount(path, h, postv1connect.PostServiceName, postv1connect.PostServiceGetLimitsProcedure)
	return t
}

// GetLimits returns Limits.
func (s *Service) GetLimits(context.Context, *connect.Request[postv1.GetLimitsRequest]) (*connect.Response[postv1.GetLimitsResponse], error) {
	return connect.NewResponse(Limits), nil
}
