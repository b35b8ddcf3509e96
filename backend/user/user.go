// Package user is the user tier: UserService (profiles and the social graph).
package user

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	userv1 "github.com/infliq/infliq/backend/gen/infliq/user/v1"
	"github.com/infliq/infliq/backend/gen/infliq/user/v1/userv1connect"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/tier"
)

// Limits are the bounds UserService enforces.
var Limits = &userv1.GetLimitsResponse{
	MaxPageSize:                 100,
	MaxSearchResults:            20,
	MaxNearbyResults:            50,
	DefaultNearbyDistanceMeters: 50000,
}

const (
	defaultPageSize = 50
	// maxConnectionsPreview bounds the followers/following embedded in a
	// profile (the legacy app shows their length; the counts are exact).
	maxConnectionsPreview = 100
	// maxConnectionIDs bounds the follower/followee ids in a profile. The
	// legacy app decides every Follow button with following.includes(id)
	// and shows followers.length, so the lists are complete up to here.
	maxConnectionIDs     = 5000
	defaultCategoryLimit = 50
)

// AccountPurger deletes or anonymises one user's data in another service.
// It must be idempotent: DeleteAccount retries it after partial failures.
type AccountPurger interface {
	PurgeUser(ctx context.Context, uid id.ID) error
}

// PurgerFunc adapts a function to AccountPurger.
type PurgerFunc func(ctx context.Context, uid id.ID) error

// PurgeUser implements AccountPurger.
func (f PurgerFunc) PurgeUser(ctx context.Context, uid id.ID) error { return f(ctx, uid) }

// Options are the user tier's explicit dependencies besides the database.
type Options struct {
	// Admins may list reports in addition to principals with Admin set.
	Admins []string
	// Bus receives follow notifications after commit; nil disables them.
	Bus bus.Publisher
	// Purgers run before the profile is deleted (posts, chats, media…).
	Purgers []AccountPurger
	// Sessions runs after the profile is deleted: it revokes the user's
	// sessions and deletes their credentials (the auth service).
	Sessions AccountPurger
	// Contacts supplies the caller's own phone/email and stores email
	// changes (the auth service); nil leaves them out.
	Contacts ContactBook
	// Discovery configures the map and phone-number lookups.
	Discovery Discovery
}

// Service implements userv1connect.UserServiceHandler.
type Service struct {
	store  *Store
	log    *slog.Logger
	admins map[id.ID]bool
	opts   Options
}

// NewTier assembles the user tier.
func NewTier(d tier.Deps, pool *pgxpool.Pool, opts ...Options) *tier.Tier {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	t := tier.New("user", d)
	if o.Discovery.DefaultCC == "" {
		o.Discovery.DefaultCC = "+91" // OTP_DEFAULT_COUNTRY_CODE's default
	}
	store := NewStore(pool).WithPresence(o.Discovery.Presence)
	svc := &Service{store: store, log: t.Log(), admins: map[id.ID]bool{}, opts: o}
	for _, a := range o.Admins {
		if uid, err := id.Parse(a); err == nil {
			svc.admins[uid] = true
		}
	}
	path, h := userv1connect.NewUserServiceHandler(svc, t.ConnectOptions()...)
	t.Mount(path, h, userv1connect.UserServiceName, userv1connect.UserServiceGetLimitsProcedure)
	ipath, ih := userv1connect.NewUserInternalServiceHandler(&Internal{db: pool, store: store}, t.ConnectOptions()...)
	t.Mount(ipath, ih, userv1connect.UserInternalServiceName)
	return t
}

// GetLimits returns Limits.
func (s *Service) GetLimits(context.Context, *connect.Request[userv1.GetLimitsRequest]) (*connect.Response[userv1.GetLimitsResponse], error) {
	return connect.NewResponse(Limits), nil
}

// caller is the authenticated user (the middleware guarantees one).
func caller(ctx context.Context) (authn.Principal, error) {
	p, ok := authn.FromContext(ctx)
	if !ok || p.UserID.IsZero() {
		return p, apperr.Unauthorized("Access denied")
	}
	return p, nil
}

// mustID parses an id the validator already checked.
func mustID(s string) id.ID {
	v, _ := id.Parse(s)
	return v
}

func toUser(p *Profile) *userv1.User {
	u := &userv1.User{
		Id: p.ID.String(), Name: p.Name, Bio: p.Bio, Age: p.Age, Gender: p.Gender,
		ProfilePicture: p.ProfilePicture, CoverPhoto: p.CoverPhoto, Categories: p.Categories,
		IsVerified: p.IsVerified, FollowersCount: p.FollowersCount, FollowingCount: p.FollowingCount,
		PostsCount: p.PostsCount, CreatedAt: timestamppb.New(p.CreatedAt),
		IsFollowing: p.IsFollowing, FollowsYou: p.FollowsYou,
	}
	if p.Latitude != nil && p.Longitude != nil {
		u.Location = &userv1.Location{Latitude: *p.Latitude, Longitude: *p.Longitude}
	}
	if u.Categories == nil {
		u.Categories = []string{}
	}
	return u
}

func publicUsers(ps []*Profile) []*userv1.User {
	out := make([]*userv1.User, len(ps))
	for i, p := range ps {
		out[i] = publicUser(p)
	}
	return out
}

func toSummaries(us []Summary) []*commonv1.UserSummary {
	out := make([]*commonv1.UserSummary, len(us))
	for i, u := range us {
		out[i] = &commonv1.UserSummary{Id: u.ID.String(), Name: u.Name, ProfilePicture: u.ProfilePicture, IsVerified: u.IsVerified}
	}
	return out
}

// encodeCursor makes a keyset position opaque.
func encodeCursor(c *Cursor) string {
	if c == nil {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.T.UnixMicro(), 10) + "." + c.ID.String()))
}

// decodeCursor parses a cursor from encodeCursor; anything else is a 400.
func decodeCursor(s string) (*Cursor, error) {
	if s == "" {
		return nil, nil
	}
	bad := apperr.BadRequest("Invalid page cursor")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	ts, hexID, ok := strings.Cut(string(raw), ".")
	if !ok {
		return nil, bad
	}
	micros, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, bad
	}
	uid, err := id.Parse(hexID)
	if err != nil {
		return nil, bad
	}
	return &Cursor{T: time.UnixMicro(micros), ID: uid}, nil
}

// page reads a PageRequest: its cursor and its capped limit.
func page(p *commonv1.PageRequest) (*Cursor, int, error) {
	c, err := decodeCursor(p.GetCursor())
	if err != nil {
		return nil, 0, err
	}
	n := int(p.GetLimit())
	if n <= 0 {
		n = defaultPageSize
	}
	if n > int(Limits.MaxPageSize) {
		n = int(Limits.MaxPageSize)
	}
	return c, n, nil
}

// profileWithConnections loads uid as viewer sees it plus its connections.
func (s *Service) profileWithConnections(ctx context.Context, viewer, uid id.ID) (*Profile, Connections, error) {
	p, c, err := s.store.ProfileWithConnections(ctx, viewer, uid, maxConnectionsPreview, maxConnectionIDs)
	if err != nil {
		return nil, c, apperr.Internal(err)
	}
	if p == nil {
		return nil, c, apperr.NotFound("User not found")
	}
	return p, c, nil
}

func orEmpty(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// GetUser returns a profile unless it is missing or hidden by a block.
func (s *Service) GetUser(ctx context.Context, req *connect.Request[userv1.GetUserRequest]) (*connect.Response[userv1.GetUserResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	uid := mustID(req.Msg.GetUserId())
	prof, c, err := s.profileWithConnections(ctx, p.UserID, uid)
	if err != nil {
		return nil, err
	}
	u := publicUser(prof)
	if uid == p.UserID {
		u = toUser(prof)
	}
	return connect.NewResponse(&userv1.GetUserResponse{User: u,
		Followers: toSummaries(c.Followers.Users), Following: toSummaries(c.Following.Users),
		FollowerIds: orEmpty(c.FollowerIDs), FollowingIds: orEmpty(c.FollowingIDs)}), nil
}

// GetMe returns the caller's profile.
func (s *Service) GetMe(ctx context.Context, _ *connect.Request[userv1.GetMeRequest]) (*connect.Response[userv1.GetMeResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	prof, c, err := s.profileWithConnections(ctx, p.UserID, p.UserID)
	if err != nil {
		return nil, err
	}
	res := &userv1.GetMeResponse{User: toUser(prof),
		Followers: toSummaries(c.Followers.Users), Following: toSummaries(c.Following.Users),
		FollowerIds: orEmpty(c.FollowerIDs), FollowingIds: orEmpty(c.FollowingIDs),
		ShowOnMap: prof.ShowOnMap, PhoneDiscoverable: prof.PhoneDiscoverable}
	if prof.LocationUpdatedAt != nil {
		res.LocationUpdatedAt = timestamppb.New(*prof.LocationUpdatedAt)
	}
	if s.opts.Contacts != nil {
		// The profile is still useful without them: log, don't fail.
		phone, email, err := s.opts.Contacts.Contact(ctx, p.UserID)
		if err != nil && connect.CodeOf(err) != connect.CodeNotFound {
			s.log.WarnContext(ctx, "contact details unavailable", "err", err)
		}
		res.Phone, res.Email = phone, email
	}
	return connect.NewResponse(res), nil
}

// UpdateMe applies the set, whitelisted fields to the caller's profile.
func (s *Service) UpdateMe(ctx context.Context, req *connect.Request[userv1.UpdateMeRequest]) (*connect.Response[userv1.UpdateMeResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	trim := func(v *string) *string {
		if v == nil {
			return nil
		}
		t := strings.TrimSpace(*v)
		return &t
	}
	u := Update{Name: trim(m.Name), Bio: trim(m.Bio), Gender: trim(m.Gender),
		ProfilePicture: trim(m.ProfilePicture), CoverPhoto: trim(m.CoverPhoto), Age: m.Age,
		ShowOnMap: m.ShowOnMap, PhoneDiscoverable: m.PhoneDiscoverable}
	if m.ClearLocation && m.Location != nil {
		return nil, apperr.BadRequest("Set either location or clear_location")
	}
	if m.Location != nil {
		lat, lng := m.Location.GetLatitude(), m.Location.GetLongitude()
		u.SetLocation, u.Lat, u.Lng = true, &lat, &lng
	} else if m.ClearLocation {
		u.SetLocation = true
	}
	if m.Categories != nil {
		cats := dedupe(m.Categories.GetValues())
		u.Categories = &cats
	}
	if m.Email != nil && s.opts.Contacts != nil {
		if err := s.opts.Contacts.SetEmail(ctx, p.UserID, strings.TrimSpace(m.GetEmail())); err != nil {
			switch connect.CodeOf(err) {
			case connect.CodeAlreadyExists:
				return nil, apperr.Exists("Email is already in use").WithReason("EMAIL_TAKEN")
			case connect.CodeInvalidArgument:
				return nil, apperr.BadRequest("Invalid email")
			case connect.CodeNotFound:
				// No credentials (e.g. an imported profile): nothing to set.
			default:
				return nil, apperr.Unavailable(err, "Could not update the email; please retry")
			}
		}
	}
	prof, err := s.store.UpdateProfile(ctx, p.UserID, u)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	if prof == nil {
		return nil, apperr.NotFound("User not found")
	}
	return connect.NewResponse(&userv1.UpdateMeResponse{User: toUser(prof)}), nil
}

func dedupe(in []string) []string {
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for _, v := range in {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// Follow makes the caller follow a user and notifies them after commit.
func (s *Service) Follow(ctx context.Context, req *connect.Request[userv1.FollowRequest]) (*connect.Response[userv1.FollowResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	target := mustID(req.Msg.GetUserId())
	if target == p.UserID {
		return nil, apperr.BadRequest("Cannot follow yourself")
	}
	res, err := s.store.Follow(ctx, p.UserID, target)
	if err != nil {
		return nil, apperr.From(err)
	}
	if res.Created {
		s.notifyFollow(ctx, p.UserID, target, res)
	}
	return connect.NewResponse(&userv1.FollowResponse{Created: res.Created, FollowersCount: res.FollowersCount}), nil
}

// notifyFollow appends the follow's record after commit; the notify tier
// groups it into the target's inbox and emits the notification (legacy
// `notification-<userId>` included). A bus failure never fails the follow,
// which is already committed.
func (s *Service) notifyFollow(ctx context.Context, actor, target id.ID, _ FollowResult) {
	s.record(ctx, bus.Record{Kind: bus.RecFollow, Actor: actor, To: []id.ID{target}})
}

func (s *Service) record(ctx context.Context, rec bus.Record) {
	if s.opts.Bus == nil {
		return
	}
	if err := bus.PublishAll(context.WithoutCancel(ctx), s.opts.Bus, []bus.Publication{{Records: []bus.Record{rec}}}); err != nil {
		s.log.WarnContext(ctx, "follow record not appended", "kind", rec.Kind, "err", err)
	}
}

// Unfollow removes the caller's follow (idempotent).
func (s *Service) Unfollow(ctx context.Context, req *connect.Request[userv1.UnfollowRequest]) (*connect.Response[userv1.UnfollowResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	target := mustID(req.Msg.GetUserId())
	if target == p.UserID {
		return nil, apperr.BadRequest("Cannot unfollow yourself")
	}
	removed, n, err := s.store.Unfollow(ctx, p.UserID, target)
	if err != nil {
		return nil, apperr.From(err)
	}
	if removed {
		// An unfollow within the grouping window takes the follower out of
		// the target's follow group.
		s.record(ctx, bus.Record{Kind: bus.RecUnfollow, Actor: p.UserID, To: []id.ID{target}})
	}
	return connect.NewResponse(&userv1.UnfollowResponse{Removed: removed, FollowersCount: n}), nil
}

// visible fails with NotFound unless uid exists and no block stands
// between it and viewer.
func (s *Service) visible(ctx context.Context, viewer, uid id.ID) error {
	if viewer == uid {
		return nil
	}
	r, err := s.store.Relationship(ctx, viewer, uid)
	if err != nil {
		return apperr.Internal(err)
	}
	if !r.OtherExists || r.Blocked {
		return apperr.NotFound("User not found")
	}
	return nil
}

// ListFollowers pages through a visible user's followers.
func (s *Service) ListFollowers(ctx context.Context, req *connect.Request[userv1.ListFollowersRequest]) (*connect.Response[userv1.ListFollowersResponse], error) {
	users, pg, err := s.connections(ctx, req.Msg.GetUserId(), req.Msg.GetPage(), s.store.Followers)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&userv1.ListFollowersResponse{Users: users, Page: pg}), nil
}

// ListFollowing pages through whom a visible user follows.
func (s *Service) ListFollowing(ctx context.Context, req *connect.Request[userv1.ListFollowingRequest]) (*connect.Response[userv1.ListFollowingResponse], error) {
	users, pg, err := s.connections(ctx, req.Msg.GetUserId(), req.Msg.GetPage(), s.store.Following)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&userv1.ListFollowingResponse{Users: users, Page: pg}), nil
}

// connections is one page of a visible user's followers or followees
// (list is the store's Followers or Following).
func (s *Service) connections(ctx context.Context, rawID string, in *commonv1.PageRequest,
	list func(ctx context.Context, viewer, uid id.ID, after *Cursor, limit int) (SummaryPage, error),
) ([]*commonv1.UserSummary, *commonv1.PageResponse, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, nil, err
	}
	uid := mustID(rawID)
	after, n, err := page(in)
	if err != nil {
		return nil, nil, err
	}
	if err := s.visible(ctx, p.UserID, uid); err != nil {
		return nil, nil, err
	}
	pg, err := list(ctx, p.UserID, uid, after, n)
	if err != nil {
		return nil, nil, apperr.Internal(err)
	}
	return toSummaries(pg.Users), &commonv1.PageResponse{NextCursor: encodeCursor(pg.Next)}, nil
}

// Block blocks a user (idempotent), optionally filing a report.
func (s *Service) Block(ctx context.Context, req *connect.Request[userv1.BlockRequest]) (*connect.Response[userv1.BlockResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	target := mustID(req.Msg.GetUserId())
	if target == p.UserID {
		return nil, apperr.BadRequest("Cannot block yourself")
	}
	created, err := s.store.Block(ctx, p.UserID, target, strings.TrimSpace(req.Msg.GetReason()), strings.TrimSpace(req.Msg.GetDetails()))
	if err != nil {
		return nil, apperr.From(err)
	}
	if created {
		// The notify tier takes each out of the other's notifications.
		s.record(ctx, bus.Record{Kind: bus.RecBlock, Actor: p.UserID, To: []id.ID{target}})
	}
	return connect.NewResponse(&userv1.BlockResponse{Created: created}), nil
}

// Unblock removes the caller's block (idempotent).
func (s *Service) Unblock(ctx context.Context, req *connect.Request[userv1.UnblockRequest]) (*connect.Response[userv1.UnblockResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	removed, err := s.store.Unblock(ctx, p.UserID, mustID(req.Msg.GetUserId()))
	if err != nil {
		return nil, apperr.Internal(err)
	}
	return connect.NewResponse(&userv1.UnblockResponse{Removed: removed}), nil
}

// ListBlocked lists the caller's own blocks; nobody can read another's.
func (s *Service) ListBlocked(ctx context.Context, req *connect.Request[userv1.ListBlockedRequest]) (*connect.Response[userv1.ListBlockedResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	after, n, err := page(req.Msg.GetPage())
	if err != nil {
		return nil, err
	}
	pg, err := s.store.Blocked(ctx, p.UserID, after, n)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	return connect.NewResponse(&userv1.ListBlockedResponse{Users: toSummaries(pg.Users), Page: &commonv1.PageResponse{NextCursor: encodeCursor(pg.Next)}}), nil
}

// ReportUser files a report for moderators.
func (s *Service) ReportUser(ctx context.Context, req *connect.Request[userv1.ReportUserRequest]) (*connect.Response[userv1.ReportUserResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	target := mustID(req.Msg.GetUserId())
	if target == p.UserID {
		return nil, apperr.BadRequest("Cannot report yourself")
	}
	if target.IsZero() { // the all-zero id is no user (and binds as NULL)
		return nil, apperr.NotFound("User not found")
	}
	reason := strings.TrimSpace(req.Msg.GetReason())
	if reason == "" {
		return nil, apperr.BadRequest("Reason is required")
	}
	rid, err := s.store.Report(ctx, p.UserID, target, reason, strings.TrimSpace(req.Msg.GetDetails()))
	if err != nil {
		return nil, apperr.From(err)
	}
	return connect.NewResponse(&userv1.ReportUserResponse{ReportId: rid.String()}), nil
}

// ListReports lists user and post reports for admins.
func (s *Service) ListReports(ctx context.Context, req *connect.Request[userv1.ListReportsRequest]) (*connect.Response[userv1.ListReportsResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if !p.Admin && !s.admins[p.UserID] {
		return nil, apperr.Forbidden("Admin access required")
	}
	after, n, err := page(req.Msg.GetPage())
	if err != nil {
		return nil, err
	}
	rows, next, err := s.store.Reports(ctx, req.Msg.GetStatus(), after, n)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	out := make([]*userv1.Report, len(rows))
	for i, r := range rows {
		out[i] = &userv1.Report{Id: r.ID.String(), TargetType: r.TargetType, TargetId: r.TargetID.String(),
			ReporterId: r.ReporterID.String(), Reason: r.Reason, Details: r.Details, Status: r.Status,
			CreatedAt: timestamppb.New(r.CreatedAt)}
	}
	return connect.NewResponse(&userv1.ListReportsResponse{Reports: out, Page: &commonv1.PageResponse{NextCursor: encodeCursor(next)}}), nil
}

// SearchUsers matches names literally and case-insensitively.
func (s *Service) SearchUsers(ctx context.Context, req *connect.Request[userv1.SearchUsersRequest]) (*connect.Response[userv1.SearchUsersResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	q := strings.TrimSpace(req.Msg.GetQuery())
	if strings.ContainsRune(q, 0) { // PostgreSQL text cannot hold NUL
		return nil, apperr.BadRequest("Invalid search query")
	}
	if q == "" {
		return connect.NewResponse(&userv1.SearchUsersResponse{Users: []*userv1.User{}}), nil
	}
	var found []*Profile
	if asPhoneNumber(q) {
		// A whole number finds its (discoverable) holder; digits are never
		// matched as a fragment, so numbers cannot be enumerated by prefix.
		if found, err = s.findByPhone(ctx, p.UserID, q); err != nil {
			return nil, err
		}
	}
	ps, err := s.store.Search(ctx, p.UserID, q, int(Limits.MaxSearchResults))
	if err != nil {
		return nil, apperr.Internal(err)
	}
	for _, pr := range ps {
		if len(found) == int(Limits.MaxSearchResults) {
			break
		}
		if !slices.ContainsFunc(found, func(f *Profile) bool { return f.ID == pr.ID }) {
			found = append(found, pr)
		}
	}
	return connect.NewResponse(&userv1.SearchUsersResponse{Users: publicUsers(found)}), nil
}

// normCategory lower-cases and trims a category filter.
func normCategory(c string) string { return strings.ToLower(strings.TrimSpace(c)) }

// ListNearbyUsers returns users within the radius, nearest first.
func (s *Service) ListNearbyUsers(ctx context.Context, req *connect.Request[userv1.ListNearbyUsersRequest]) (*connect.Response[userv1.ListNearbyUsersResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	r := float64(m.GetMaxDistanceMeters())
	if r == 0 {
		r = float64(Limits.DefaultNearbyDistanceMeters)
	}
	lat, lng := m.GetCenter().GetLatitude(), m.GetCenter().GetLongitude()
	ps, err := s.store.Nearby(ctx, p.UserID, NearbyQuery{Lat: lat, Lng: lng, Radius: r,
		Category: normCategory(m.GetCategory()), Limit: int(Limits.MaxNearbyResults),
		Record: m.GetSharePosition() && !isAppFallbackCentre(lat, lng)})
	if err != nil {
		return nil, apperr.Internal(err)
	}
	out := make([]*userv1.NearbyUser, len(ps))
	for i, pr := range ps {
		out[i] = &userv1.NearbyUser{User: toUser(pr), DistanceMeters: pr.DistanceMeters}
	}
	return connect.NewResponse(&userv1.ListNearbyUsersResponse{Users: out}), nil
}

// ListUsersByCategory lists users of one category.
func (s *Service) ListUsersByCategory(ctx context.Context, req *connect.Request[userv1.ListUsersByCategoryRequest]) (*connect.Response[userv1.ListUsersByCategoryResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	n := int(req.Msg.GetLimit())
	if n <= 0 {
		n = defaultCategoryLimit
	}
	ps, err := s.store.ByCategory(ctx, p.UserID, normCategory(req.Msg.GetCategory()), n)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	return connect.NewResponse(&userv1.ListUsersByCategoryResponse{Users: publicUsers(ps)}), nil
}

// DeleteAccount purges the caller's data in the other services, deletes
// the profile and graph in one transaction, then revokes the sessions. Every
// step is idempotent, so a retry after a failure finishes the job.
func (s *Service) DeleteAccount(ctx context.Context, _ *connect.Request[userv1.DeleteAccountRequest]) (*connect.Response[userv1.DeleteAccountResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	for _, pg := range s.opts.Purgers {
		if err := pg.PurgeUser(ctx, p.UserID); err != nil {
			return nil, apperr.Unavailable(err, "Account deletion could not finish; please retry")
		}
	}
	if _, err := s.store.DeleteUser(ctx, p.UserID); err != nil {
		if errors.Is(err, ErrOtherData) {
			return nil, apperr.Unavailable(err, "Account deletion could not finish; please retry")
		}
		return nil, apperr.Internal(err)
	}
	if s.opts.Sessions != nil {
		if err := s.opts.Sessions.PurgeUser(ctx, p.UserID); err != nil {
			return nil, apperr.Unavailable(err, "Account deletion could not finish; please retry")
		}
	}
	s.log.InfoContext(ctx, "account deleted", "user_id", p.UserID.String())
	return connect.NewResponse(&userv1.DeleteAccountResponse{}), nil
}
