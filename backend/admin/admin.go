// Package admin is the admin tier (:3010): AdminService, the moderation
// console's API, and ModerationService, its user-facing side (reporting
// comments, stories and messages; the outcome of one's reports; notices).
//
// It is a thin facade. It owns only what no other service owns: staff roles
// (admin_roles), the append-only moderation log, reports on comments,
// stories and messages (content_reports), report outcomes and notices
// (migration 10001). Content and accounts stay with their owners, which
// it asks to act through their internal RPCs: auth suspends and revokes
// sessions, post/feed/chat hide content. It reads the owners' tables
// (users, user_reports, post_reports, posts, post_comments, stories,
// messages, calls, auth_credentials, auth_sessions, auth_suspensions,
// media_audit_logs) as a documented read model, as the feed tier reads
// posts: the console's pages are one query each, never an RPC fan-out.
//
// Every AdminService handler checks the caller's role first (require);
// every action appends one log entry and resolves the target's open reports.
package admin

import (
	"context"
	"log/slog"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/infliq/infliq/backend/gen/infliq/admin/v1/adminv1connect"
	"github.com/infliq/infliq/backend/gen/infliq/auth/v1/authv1connect"
	"github.com/infliq/infliq/backend/gen/infliq/chat/v1/chatv1connect"
	"github.com/infliq/infliq/backend/gen/infliq/feed/v1/feedv1connect"
	"github.com/infliq/infliq/backend/gen/infliq/post/v1/postv1connect"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/mediaurl"
	"github.com/infliq/infliq/backend/platform/tier"
)

// Options are the admin tier's dependencies.
type Options struct {
	DB *pgxpool.Pool
	// BootstrapAdmins (MEDIA_ADMIN_USER_IDS) count as admins, so a fresh
	// deployment has one before `infliq admin grant` ran.
	BootstrapAdmins []string
	Accounts        authv1connect.AuthInternalServiceClient
	Posts           postv1connect.PostInternalServiceClient
	Stories         feedv1connect.FeedInternalServiceClient
	Chats           chatv1connect.ChatInternalServiceClient
	// Media renders preview media as client URLs (the media proxy); nil
	// leaves stored values.
	Media *mediaurl.Resolver
	// DefaultCountry completes phone numbers typed without one (as login).
	DefaultCountry string
	// AuditMaxLimit caps a media audit page (MEDIA_AUDIT_READ_MAX_LIMIT).
	AuditMaxLimit int
	// Expiry, when set, runs the ended-suspension job until it is done.
	Expiry context.Context
	// Bus receives the records of warnings after commit (the notify tier
	// turns them into inbox entries and pushes); nil leaves the stored
	// notice only.
	Bus bus.Publisher
}

// Service implements AdminService.
type Service struct {
	o         Options
	log       *slog.Logger
	bootstrap map[string]bool
}

// New builds the service.
func New(log *slog.Logger, o Options) *Service {
	if o.AuditMaxLimit <= 0 {
		o.AuditMaxLimit = 100
	}
	if o.DefaultCountry == "" {
		o.DefaultCountry = "+91"
	}
	s := &Service{o: o, log: log, bootstrap: map[string]bool{}}
	for _, u := range o.BootstrapAdmins {
		if u = strings.ToLower(strings.TrimSpace(u)); u != "" {
			s.bootstrap[u] = true
		}
	}
	return s
}

// NewTier assembles the admin tier. Every procedure needs a token; the
// handlers then check the role. With ctx set, ended suspensions are closed
// every ExpiryInterval until ctx ends.
func NewTier(d tier.Deps, o Options) *tier.Tier {
	if o.Media == nil {
		o.Media = d.MediaURLs
	}
	t := tier.New("admin", d)
	s := New(d.Log, o)
	if o.Expiry != nil {
		go s.RunExpiry(o.Expiry, ExpiryInterval, d.Log)
	}
	path, h := adminv1connect.NewAdminServiceHandler(s, t.ConnectOptions()...)
	t.Mount(path, h, adminv1connect.AdminServiceName)
	mpath, mh := adminv1connect.NewModerationServiceHandler(&Moderation{s: s}, t.ConnectOptions()...)
	t.Mount(mpath, mh, adminv1connect.ModerationServiceName)
	return t
}

// resolveMedia renders a stored media value for a preview.
func (s *Service) resolveMedia(v string) string {
	if s.o.Media == nil || v == "" {
		return v
	}
	return s.o.Media.Resolve(v)
}

// isBootstrap reports a MEDIA_ADMIN_USER_IDS admin.
func (s *Service) isBootstrap(uid string) bool { return s.bootstrap[uid] }

func (s *Service) bootstrapIDs() []string {
	out := make([]string, 0, len(s.bootstrap))
	for k := range s.bootstrap {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

var _ adminv1connect.AdminServiceHandler = (*Service)(nil)

// ctxBackground is for work that must finish once started (owner calls
// already made are followed by their log entry).
func ctxBackground(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }
