// Package notify is the notify tier: the notification inbox (grouped as
// Mastodon groups, with an unread marker), preferences, push tokens, and
// the consumer that turns the domain records the owning services append to
// the bus after commit (likes, comments, mentions, follows, messages, calls)
// into inbox groups, realtime updates and pushes, exactly once per record.
package notify

import (
	"context"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	notifyv1 "github.com/infliq/infliq/backend/gen/infliq/notify/v1"
	"github.com/infliq/infliq/backend/gen/infliq/notify/v1/notifyv1connect"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/job"
	"github.com/infliq/infliq/backend/platform/tier"
)

// DefaultWindow is how long a group stays open for joining after it
// started (Mastodon uses 12 hours); follows group by the local day.
const DefaultWindow = 12 * time.Hour

// Options are the notify tier's explicit dependencies.
type Options struct {
	Pool *pgxpool.Pool
	// Pub delivers new and updated groups to the user's sockets and streams.
	Pub bus.Publisher
	// Online reports live connections (bus.Redis.Online); nil: nobody is.
	Online func(ctx context.Context, uids ...id.ID) ([]bool, error)
	// Push is the push outbox (backend/notify/push); nil sends nothing.
	Push Pusher
	// Window overrides DefaultWindow (tests).
	Window time.Duration
	// Cache, when set, keeps each user's first inbox page (see inboxCache);
	// CachePrefix namespaces its keys.
	Cache       redis.UniversalClient
	CachePrefix string
}

// Service implements notifyv1connect.NotificationServiceHandler and
// applies bus records.
type Service struct {
	pool   *pgxpool.Pool
	pub    bus.Publisher
	online func(ctx context.Context, uids ...id.ID) ([]bool, error)
	push   Pusher
	window time.Duration
	log    *slog.Logger
	cache  *inboxCache
	// applies counts Apply calls (benchmarks: records per batch).
	applies atomic.Int64
}

// New returns the service without serving it (the consumer and tests).
func New(log *slog.Logger, o Options) *Service {
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.Push == nil {
		o.Push = NopPusher{}
	}
	s := &Service{pool: o.Pool, pub: o.Pub, online: o.Online, push: o.Push, window: o.Window, log: log}
	if o.Cache != nil {
		s.cache = &inboxCache{rdb: o.Cache, prefix: o.CachePrefix + "inbox:"}
	}
	return s
}

// NewTier assembles the notify tier around s.
func NewTier(d tier.Deps, s *Service) *tier.Tier {
	t := tier.New("notify", d)
	path, h := notifyv1connect.NewNotificationServiceHandler(s, t.ConnectOptions()...)
	t.Mount(path, h, notifyv1connect.NotificationServiceName)
	return t
}

// Apply applies records (exactly once each) and then publishes the groups
// they created or changed, with the unread count. A failed publish is
// logged: the inbox is the record, the live update a courtesy.
func (s *Service) Apply(ctx context.Context, recs []bus.Record) error {
	s.applies.Add(1)
	res, err := s.apply(ctx, recs)
	if err != nil {
		return err
	}
	// Ended sessions: their devices' push tokens go (idempotent, so no
	// exactly-once bookkeeping is needed).
	for _, r := range recs {
		if r.Kind == bus.RecSessionEnded && r.Tag != "" {
			if err := s.push.ForgetSession(ctx, r.Actor, r.Tag); err != nil {
				return err
			}
		}
	}
	s.invalidate(ctx, res.touched)
	if len(res.touched) > 0 && s.pub != nil {
		if err := s.publish(ctx, res.touched); err != nil {
			s.log.Warn("notify: publishing updates failed", "n", len(res.touched), "err", err)
		}
	}
	return nil
}

// invalidate drops the cached first pages of the touched users. A failure
// is logged; the pages then expire within pageTTL.
func (s *Service) invalidate(ctx context.Context, ts []touched) {
	if s.cache == nil || len(ts) == 0 {
		return
	}
	seen := map[id.ID]bool{}
	var uids []id.ID
	for _, t := range ts {
		if !seen[t.user] {
			seen[t.user] = true
			uids = append(uids, t.user)
		}
	}
	if err := s.cache.invalidate(context.WithoutCancel(ctx), uids...); err != nil {
		s.log.Warn("notify: inbox cache not invalidated", "n", len(uids), "err", err)
	}
}

func caller(ctx context.Context) (authn.Principal, error) {
	p, ok := authn.FromContext(ctx)
	if !ok {
		return authn.Principal{}, apperr.Unauthorized("No token provided")
	}
	return p, nil
}

const (
	defaultPage = 20
	maxPage     = 50
)

// ListNotifications pages through the caller's groups.
func (s *Service) ListNotifications(ctx context.Context, req *connect.Request[notifyv1.ListNotificationsRequest]) (*connect.Response[notifyv1.ListNotificationsResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	limit := int(req.Msg.GetPage().GetLimit())
	if limit <= 0 {
		limit = defaultPage
	}
	limit = min(limit, maxPage)
	before := int64(0)
	if c := req.Msg.GetPage().GetCursor(); c != "" {
		if before, err = strconv.ParseInt(c, 10, 64); err != nil || before <= 0 {
			return nil, apperr.BadRequest("Invalid cursor")
		}
	}
	kinds := make([]int16, len(req.Msg.GetKinds()))
	for i, k := range req.Msg.GetKinds() {
		kinds[i] = int16(k)
	}
	// The first default page is the one read again and again: cached.
	cached := s.cache != nil && before == 0 && len(kinds) == 0 && limit == defaultPage
	gen := ""
	if cached {
		var hit *notifyv1.ListNotificationsResponse
		var ok bool
		if hit, gen, ok = s.cache.get(ctx, p.UserID); ok {
			return connect.NewResponse(hit), nil
		}
	}
	list, last, unread, err := listGroups(ctx, s.pool, p.UserID, kinds, before, limit)
	if err != nil {
		return nil, apperr.From(err)
	}
	out := &notifyv1.ListNotificationsResponse{Notifications: list, UnreadCount: unread, Page: &commonv1.PageResponse{}}
	if len(list) == limit {
		out.Page.NextCursor = strconv.FormatInt(last, 10)
	}
	if cached && gen != "" {
		s.cache.put(ctx, p.UserID, gen, out)
	}
	return connect.NewResponse(out), nil
}

// GetUnreadCount counts the caller's unread groups.
func (s *Service) GetUnreadCount(ctx context.Context, _ *connect.Request[notifyv1.GetUnreadCountRequest]) (*connect.Response[notifyv1.GetUnreadCountResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	n, err := unreadCounts(ctx, s.pool, p.UserID)
	if err != nil {
		return nil, apperr.From(err)
	}
	return connect.NewResponse(&notifyv1.GetUnreadCountResponse{UnreadCount: n[p.UserID]}), nil
}

// MarkRead moves the caller's read marker forward.
func (s *Service) MarkRead(ctx context.Context, req *connect.Request[notifyv1.MarkReadRequest]) (*connect.Response[notifyv1.MarkReadResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	upTo := id.Nil
	if g := req.Msg.GetUpToId(); g != "" {
		if upTo, err = id.Parse(g); err != nil {
			return nil, apperr.BadRequest("Invalid notification id")
		}
	}
	if err := markRead(ctx, s.pool, p.UserID, upTo); err != nil {
		return nil, apperr.From(err)
	}
	s.invalidate(ctx, []touched{{user: p.UserID}})
	n, err := unreadCounts(ctx, s.pool, p.UserID)
	if err != nil {
		return nil, apperr.From(err)
	}
	return connect.NewResponse(&notifyv1.MarkReadResponse{UnreadCount: n[p.UserID]}), nil
}

// GetPreferences returns the caller's preferences.
func (s *Service) GetPreferences(ctx context.Context, _ *connect.Request[notifyv1.GetPreferencesRequest]) (*connect.Response[notifyv1.GetPreferencesResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	pr, err := loadPrefs(ctx, s.pool, p.UserID)
	if err != nil {
		return nil, apperr.From(err)
	}
	return connect.NewResponse(&notifyv1.GetPreferencesResponse{Preferences: pr.proto()}), nil
}

// UpdatePreferences replaces the caller's preferences.
func (s *Service) UpdatePreferences(ctx context.Context, req *connect.Request[notifyv1.UpdatePreferencesRequest]) (*connect.Response[notifyv1.UpdatePreferencesResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	pr, err := prefsFrom(req.Msg.GetPreferences())
	if err != nil {
		return nil, err
	}
	if err := savePrefs(ctx, s.pool, p.UserID, pr); err != nil {
		return nil, apperr.From(err)
	}
	return connect.NewResponse(&notifyv1.UpdatePreferencesResponse{Preferences: pr.proto()}), nil
}

var platforms = map[notifyv1.PushPlatform]string{notifyv1.PushPlatform_PUSH_PLATFORM_IOS: "ios", notifyv1.PushPlatform_PUSH_PLATFORM_ANDROID: "android"}

// RegisterPushToken registers a token for the caller's session.
func (s *Service) RegisterPushToken(ctx context.Context, req *connect.Request[notifyv1.RegisterPushTokenRequest]) (*connect.Response[notifyv1.RegisterPushTokenResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.push.RegisterToken(ctx, p.UserID, req.Msg.GetToken(), platforms[req.Msg.GetPlatform()], p.SessionID); err != nil {
		return nil, apperr.From(err)
	}
	return connect.NewResponse(&notifyv1.RegisterPushTokenResponse{}), nil
}

// UnregisterPushToken forgets one of the caller's tokens.
func (s *Service) UnregisterPushToken(ctx context.Context, req *connect.Request[notifyv1.UnregisterPushTokenRequest]) (*connect.Response[notifyv1.UnregisterPushTokenResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.push.UnregisterToken(ctx, p.UserID, req.Msg.GetToken()); err != nil {
		return nil, apperr.From(err)
	}
	return connect.NewResponse(&notifyv1.UnregisterPushTokenResponse{}), nil
}

// Cleanup retention: applied-record ids are kept well past any redelivery
// (a pending record is claimed within a minute), groups for 90 days.
const (
	CleanupInterval = time.Hour
	keepEvents      = 7 * 24 * time.Hour
	keepGroups      = 90 * 24 * time.Hour
)

// RunCleanup deletes old applied-record ids and groups every interval
// until ctx ends.
func RunCleanup(ctx context.Context, pool *pgxpool.Pool, interval time.Duration, log *slog.Logger) {
	job.Every(ctx, interval, func(ctx context.Context) {
		if err := cleanup(ctx, pool, time.Now(), keepEvents, keepGroups); err != nil && ctx.Err() == nil {
			log.Warn("notify: cleanup failed", "err", err)
		}
	})
}
