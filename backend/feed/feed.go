// Package feed is the feed tier: FeedService. The feeds are a read model
// over follows, blocks, users (user service) and posts, post_likes (post
// service), one indexed SQL query per page (see backend/post/view). The tier
// owns stories and story_views, and runs the expired-story cleanup job.
package feed

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5/pgxpool"

	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	feedv1 "github.com/infliq/infliq/backend/gen/infliq/feed/v1"
	"github.com/infliq/infliq/backend/gen/infliq/feed/v1/feedv1connect"
	postv1 "github.com/infliq/infliq/backend/gen/infliq/post/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/cache"
	"github.com/infliq/infliq/backend/platform/compress"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/mediaurl"
	"github.com/infliq/infliq/backend/platform/tier"
	"github.com/infliq/infliq/backend/post/view"
)

const (
	maxPageSize     = 50
	defaultPageSize = 20
)

// Options configure the feed tier.
type Options struct {
	Stories config.Stories
	// S3 gives the default story media hosts (bucket and CloudFront).
	S3 config.S3
	// ProxyBases are gateway origins (e.g. "http://localhost:3000") whose
	// /api/media/proxy/ URLs are accepted as story media even over http.
	// Set only in development, where the embedded stack serves media there.
	ProxyBases []string
	// HotFeedTTL enables the shared snapshots behind the first pages of the
	// global, reels and home feeds (see view.HotFeed); zero serves every
	// page from the database.
	HotFeedTTL time.Duration
}

// DefaultHotFeedTTL is how long others' new posts and counters may take to
// show on the first global, reels and home pages.
const DefaultHotFeedTTL = time.Second

// Service implements feedv1connect.FeedServiceHandler.
type Service struct {
	db    *pgxpool.Pool
	log   *slog.Logger
	opt   Options
	hosts map[string]bool
	hot   *view.HotFeed
	// marks send a user who just wrote past the snapshots (read-your-writes).
	marks  *cache.WriteMarks
	media  *mediaurl.Resolver // nil: media fields are served as stored
	limits *feedv1.GetLimitsResponse
}

// NewTier assembles the feed tier. The cleanup job is started separately
// with RunCleanup.
//
// Feed pages resolve their media fields themselves (once per snapshot, see
// resolvePosts), so the tier's mediaurl interceptor, which walks every
// response by reflection, is replaced by one that skips them.
func NewTier(d tier.Deps, pool *pgxpool.Pool, o Options) *tier.Tier {
	media := d.MediaURLs
	d.MediaURLs = nil
	t := tier.New("feed", d)
	s := newService(pool, d.Log, o, media)
	s.marks = d.WriteMarks
	opts := append(t.ConnectOptions(),
		// Feed pages are the largest responses clients ask to be gzipped
		// (the home feed arrives through the gateway's proxy with the
		// client's Accept-Encoding); see compress.Gzip for the cost.
		compress.Gzip(),
		withPageCodec())
	if media != nil {
		opts = append(opts, connect.WithInterceptors(resolveOthers{media.Interceptor()}))
	}
	path, h := feedv1connect.NewFeedServiceHandler(s, opts...)
	t.Mount(path, h, feedv1connect.FeedServiceName, feedv1connect.FeedServiceGetLimitsProcedure)
	ipath, ih := feedv1connect.NewFeedInternalServiceHandler(&Internal{db: pool}, t.ConnectOptions()...)
	t.Mount(ipath, ih, feedv1connect.FeedInternalServiceName)
	return t
}

func newService(pool *pgxpool.Pool, log *slog.Logger, o Options, media *mediaurl.Resolver) *Service {
	s := &Service{db: pool, log: log, opt: o, hosts: map[string]bool{}, media: media, limits: &feedv1.GetLimitsResponse{
		MaxPageSize:           maxPageSize,
		MaxStoriesPerUser:     int32(o.Stories.MaxPerUser),
		MaxStoryCaptionLength: int32(o.Stories.CaptionMaxLen),
		StoryTtlSeconds:       int32(storyTTL.Seconds()),
	}}
	if o.HotFeedTTL > 0 {
		s.hot = view.NewHotFeed(o.HotFeedTTL, s.resolvePosts)
	}
	for _, h := range AllowedHosts(o.Stories, o.S3) {
		s.hosts[h] = true
	}
	return s
}

// AllowedHosts is STORY_MEDIA_ALLOWED_HOSTS, or by default the configured
// bucket's virtual-host names and the CloudFront domain. Empty means any
// https host (the legacy behaviour when nothing is configured).
func AllowedHosts(st config.Stories, s3 config.S3) []string {
	var out []string
	add := func(h string) {
		h = strings.ToLower(strings.TrimSpace(h))
		if u, err := url.Parse(h); err == nil && u.Host != "" {
			h = u.Host
		}
		if h != "" {
			out = append(out, strings.TrimSuffix(h, "/"))
		}
	}
	if len(st.MediaAllowHosts) > 0 {
		for _, h := range st.MediaAllowHosts {
			add(h)
		}
		return out
	}
	if s3.Bucket != "" {
		if s3.Region != "" {
			add(s3.Bucket + ".s3." + s3.Region + ".amazonaws.com")
		}
		add(s3.Bucket + ".s3.amazonaws.com")
	}
	if s3.CloudFrontDomain != "" {
		add(s3.CloudFrontDomain)
	}
	return out
}

// GetLimits returns the feed and story limits in force.
func (s *Service) GetLimits(context.Context, *connect.Request[feedv1.GetLimitsRequest]) (*connect.Response[feedv1.GetLimitsResponse], error) {
	return connect.NewResponse(s.limits), nil
}

func caller(ctx context.Context) (id.ID, error) {
	p, ok := authn.FromContext(ctx)
	if !ok || p.UserID.IsZero() {
		return id.Nil, apperr.Unauthorized("No token provided")
	}
	return p.UserID, nil
}

// feedPage parses the page, runs one read-model query for the caller and
// returns the posts and the next cursor. read gets the snapshots to serve
// from: nil (the database) for a caller who wrote within the write-mark
// window, so an author's next read shows their own write; others may see
// it up to HotFeedTTL later.
func (s *Service) feedPage(ctx context.Context, page *commonv1.PageRequest, off *postv1.PageOffset,
	read func(me id.ID, pg view.Page, hot *view.HotFeed) ([]*postv1.Post, string, error)) ([]*postv1.Post, *commonv1.PageResponse, error) {
	me, err := caller(ctx)
	if err != nil {
		return nil, nil, err
	}
	pg, err := view.ParsePage(page, off, defaultPageSize, maxPageSize)
	if err != nil {
		return nil, nil, err
	}
	hot := s.hot
	if hot != nil && s.marks.Marked(ctx, me) {
		hot = nil
	}
	posts, next, err := read(me, pg, hot)
	if err != nil {
		return nil, nil, err
	}
	if hot == nil {
		s.resolvePosts(posts) // otherwise HotFeed did (view.NewHotFeed)
	}
	return posts, &commonv1.PageResponse{NextCursor: next}, nil
}

// resolvePosts turns the stored media values of freshly read posts into
// client URLs in place, as the mediaurl interceptor would
// (TestResolvePostsMatchesRewrite). Snapshot posts are resolved once, when
// loaded, and are never written afterwards: pages share them across
// requests (TestSnapshotPagesAreNotShared).
func (s *Service) resolvePosts(posts []*postv1.Post) {
	r := s.media
	if r == nil {
		return
	}
	for _, p := range posts {
		p.MediaUrl = r.Resolve(p.MediaUrl)
		p.ThumbnailUrl = r.Resolve(p.ThumbnailUrl)
		resolveUser(r, p.Author)
		for _, c := range p.RecentComments {
			resolveUser(r, c.GetAuthor())
		}
	}
}

func resolveUser(r *mediaurl.Resolver, u *commonv1.UserSummary) {
	if u != nil {
		u.ProfilePicture = r.Resolve(u.ProfilePicture)
	}
}

// resolveOthers is the mediaurl interceptor for every response but the
// feed pages, which resolvePosts has resolved already.
type resolveOthers struct{ connect.Interceptor }

func (i resolveOthers) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	rewrite := i.Interceptor.WrapUnary(next)
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		switch req.Spec().Procedure {
		case feedv1connect.FeedServiceHomeFeedProcedure, feedv1connect.FeedServiceGlobalFeedProcedure, feedv1connect.FeedServiceReelsFeedProcedure:
			return next(ctx, req)
		}
		return rewrite(ctx, req)
	}
}

// HomeFeed serves followed users' and the caller's posts (first pages from
// the shared snapshot, see view.HotFeed.Home).
func (s *Service) HomeFeed(ctx context.Context, req *connect.Request[feedv1.HomeFeedRequest]) (*connect.Response[feedv1.HomeFeedResponse], error) {
	posts, page, err := s.feedPage(ctx, req.Msg.GetPage(), req.Msg.GetOffset(), func(me id.ID, pg view.Page, hot *view.HotFeed) ([]*postv1.Post, string, error) {
		return hot.Home(ctx, s.db, me, pg)
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&feedv1.HomeFeedResponse{Posts: posts, Page: page}), nil
}

// GlobalFeed serves everyone's posts and reels.
func (s *Service) GlobalFeed(ctx context.Context, req *connect.Request[feedv1.GlobalFeedRequest]) (*connect.Response[feedv1.GlobalFeedResponse], error) {
	posts, page, err := s.feedPage(ctx, req.Msg.GetPage(), req.Msg.GetOffset(), func(me id.ID, pg view.Page, hot *view.HotFeed) ([]*postv1.Post, string, error) {
		return hot.Global(ctx, s.db, me, "", pg)
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&feedv1.GlobalFeedResponse{Posts: posts, Page: page}), nil
}

// ReelsFeed serves everyone's reels.
func (s *Service) ReelsFeed(ctx context.Context, req *connect.Request[feedv1.ReelsFeedRequest]) (*connect.Response[feedv1.ReelsFeedResponse], error) {
	posts, page, err := s.feedPage(ctx, req.Msg.GetPage(), req.Msg.GetOffset(), func(me id.ID, pg view.Page, hot *view.HotFeed) ([]*postv1.Post, string, error) {
		return hot.Global(ctx, s.db, me, "reel", pg)
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&feedv1.ReelsFeedResponse{Reels: posts, Page: page}), nil
}
