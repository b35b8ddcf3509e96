// Package post is the post tier: PostService (posts, reels and engagement).
// Handlers are thin; SQL lives in store.go, and reads that render posts go
// through the shared read model in package view.
package post

import (
	"context"
	"log/slog"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5/pgxpool"

	postv1 "github.com/infliq/infliq/backend/gen/infliq/post/v1"
	"github.com/infliq/infliq/backend/gen/infliq/post/v1/postv1connect"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/moderation"
	"github.com/infliq/infliq/backend/platform/tier"
)

// Limits are the bounds PostService enforces (the proto enforces the same
// lengths through protovalidate).
var Limits = &postv1.GetLimitsResponse{
	MaxContentLength: 2200,
	MaxCommentLength: 1000,
	MaxPageSize:      50,
}

// defaultPageSize is used when a request asks for no particular size.
const defaultPageSize = 20

// Service implements postv1connect.PostServiceHandler.
type Service struct {
	db  *pgxpool.Pool
	pub bus.Publisher
	mod *moderation.Matcher
	log *slog.Logger
	// likes applies like operations in group commits (likebatch.go).
	likes *liker
}

// NewTier assembles the post tier. pub receives notification events after
// commits.
func NewTier(d tier.Deps, pool *pgxpool.Pool, pub bus.Publisher, content config.Content) *tier.Tier {
	t := tier.New("post", d)
	s := &Service{db: pool, pub: pub, mod: moderation.New(content.ModerationBlocklist), log: d.Log}
	s.likes = newLiker(pool, pub, d.Log, likeCommitters)
	path, h := postv1connect.NewPostServiceHandler(s, t.ConnectOptions()...)
	t.Mount(path, h, postv1connect.PostServiceName, postv1connect.PostServiceGetLimitsProcedure)
	ipath, ih := postv1connect.NewPostInternalServiceHandler(&Internal{db: pool}, t.ConnectOptions()...)
	t.Mount(ipath, ih, postv1connect.PostInternalServiceName)
	return t
}

// GetLimits returns Limits.
func (s *Service) GetLimits(context.Context, *connect.Request[postv1.GetLimitsRequest]) (*connect.Response[postv1.GetLimitsResponse], error) {
	return connect.NewResponse(Limits), nil
}
