// Package feed is the feed tier: FeedService (feeds read model and stories).
package feed

import (
	"context"

	"connectrpc.com/connect"

	feedv1 "github.com/infliq/infliq/backend/gen/infliq/feed/v1"
	"github.com/infliq/infliq/backend/gen/infliq/feed/v1/feedv1connect"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/tier"
)

// Service implements feedv1connect.FeedServiceHandler.
type Service struct {
	limits *feedv1.GetLimitsResponse
}

// NewTier assembles the feed tier.
func NewTier(d tier.Deps, stories config.Stories) *tier.Tier {
	t := tier.New("feed", d)
	s := &Service{limits: &feedv1.GetLimitsResponse{
		MaxPageSize:           50,
		MaxStoriesPerUser:     int32(stories.MaxPerUser),
		MaxStoryCaptionLength: int32(stories.CaptionMaxLen),
		StoryTtlSeconds:       24 * 3600,
	}}
	path, h := feedv1connect.NewFeedServiceHandler(s, t.ConnectOptions()...)
	t.Mount(path, h, feedv1connect.FeedServiceName, feedv1connect.FeedServiceGetLimitsProcedure)
	return t
}

// GetLimits returns the feed and story limits in force.
func (s *Service) GetLimits(context.Context, *connect.Request[feedv1.GetLimitsRequest]) (*connect.Response[feedv1.GetLimitsResponse], error) {
	return connect.NewResponse(s.limits), nil
}
