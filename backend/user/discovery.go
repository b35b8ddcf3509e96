package user

import (
	"context"
	"time"

	"connectrpc.com/connect"
	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/infliq/infliq/backend/auth/phone"
	userv1 "github.com/infliq/infliq/backend/gen/infliq/user/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/id"
)

// Discovery configures the map and finding people by phone number.
type Discovery struct {
	Presence Presence
	// DefaultCC completes national numbers, as at login (OTP_DEFAULT_COUNTRY_CODE).
	DefaultCC string
	// Lookups limits phone-number lookups per caller; nil allows any.
	Lookups *PhoneLookups
}

// PhoneLookups is the per-user budget of phone-number lookups (search and
// FindByPhones), a GCRA limit in Redis shared by every user-tier replica.
// Each number costs one unit, and a call's units are taken atomically (one
// Redis script), so concurrent calls can never overspend it.
type PhoneLookups struct {
	l      *redis_rate.Limiter
	limit  redis_rate.Limit
	prefix string
}

// NewPhoneLookups allows max numbers per window per user.
func NewPhoneLookups(rdb redis.Cmdable, prefix string, max int, window time.Duration) *PhoneLookups {
	return &PhoneLookups{l: redis_rate.NewLimiter(rdb), limit: redis_rate.Limit{Rate: max, Burst: max, Period: window}, prefix: prefix}
}

// take spends n units of uid's budget, or fails with ResourceExhausted.
func (p *PhoneLookups) take(ctx context.Context, uid id.ID, n int) error {
	if p == nil {
		return nil
	}
	res, err := p.l.AllowN(ctx, p.prefix+uid.String(), p.limit, n)
	if err != nil {
		return apperr.Unavailable(err, "Phone lookup is unavailable; please retry")
	}
	if res.Allowed < n {
		return apperr.RateLimited("Too many phone number lookups; try again later", res.RetryAfter).WithReason("PHONE_LOOKUP_LIMIT")
	}
	return nil
}

// asPhoneNumber reports whether a search query is meant as a phone number:
// only digits, separators and a leading +, and at least 7 digits. Such a
// query is matched as a whole number only, never as a fragment.
func asPhoneNumber(q string) bool {
	digits := 0
	for i, r := range q {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0, r == ' ', r == '-', r == '.', r == '(', r == ')':
		default:
			return false
		}
	}
	return digits >= 7
}

// findByPhone is the phone-number half of SearchUsers: the user holding q
// (normalised as at login), if they allow phone discovery. An invalid
// number costs no lookup and finds nobody.
func (s *Service) findByPhone(ctx context.Context, viewer id.ID, q string) ([]*Profile, error) {
	e164, err := phone.Normalize(q, s.opts.Discovery.DefaultCC)
	if err != nil {
		return nil, nil
	}
	if err := s.opts.Discovery.Lookups.take(ctx, viewer, 1); err != nil {
		return nil, err
	}
	hits, err := s.store.ByPhones(ctx, viewer, []string{e164})
	if err != nil {
		return nil, apperr.Internal(err)
	}
	out := make([]*Profile, len(hits))
	for i, h := range hits {
		out[i] = h.Profile
	}
	return out, nil
}

// FindByPhones is contact discovery for the SDK (see user.proto).
func (s *Service) FindByPhones(ctx context.Context, req *connect.Request[userv1.FindByPhonesRequest]) (*connect.Response[userv1.FindByPhonesResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	sent := map[string][]string{} // E.164 -> the numbers as sent
	var e164s []string
	for _, raw := range req.Msg.GetPhones() {
		n, err := phone.Normalize(raw, s.opts.Discovery.DefaultCC)
		if err != nil {
			continue // not a number: nobody to find, nothing spent
		}
		if _, dup := sent[n]; !dup {
			e164s = append(e164s, n)
		}
		sent[n] = append(sent[n], raw)
	}
	out := &userv1.FindByPhonesResponse{Matches: []*userv1.PhoneMatch{}}
	if len(e164s) == 0 {
		return connect.NewResponse(out), nil
	}
	if err := s.opts.Discovery.Lookups.take(ctx, p.UserID, len(e164s)); err != nil {
		return nil, err
	}
	hits, err := s.store.ByPhones(ctx, p.UserID, e164s)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	for _, h := range hits {
		u := publicUser(h.Profile)
		for _, raw := range sent[h.E164] {
			out.Matches = append(out.Matches, &userv1.PhoneMatch{Phone: raw, E164: h.E164, User: u})
		}
	}
	return connect.NewResponse(out), nil
}

// UpdateMyLocation records the caller's position for the map.
func (s *Service) UpdateMyLocation(ctx context.Context, req *connect.Request[userv1.UpdateMyLocationRequest]) (*connect.Response[userv1.UpdateMyLocationResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	l := req.Msg.GetLocation()
	pos, err := s.store.UpdateLocation(ctx, p.UserID, l.GetLatitude(), l.GetLongitude())
	if err != nil {
		return nil, apperr.Internal(err)
	}
	out := &userv1.UpdateMyLocationResponse{}
	if pos != nil {
		out.Recorded = true
		out.Location = &userv1.Location{Latitude: pos.Lat, Longitude: pos.Lng}
		out.UpdatedAt = timestamppb.New(pos.UpdatedAt)
	}
	return connect.NewResponse(out), nil
}

// publicUser is another user's profile without their position: positions
// leave the server only through the map, coarsened and fresh.
func publicUser(p *Profile) *userv1.User {
	u := toUser(p)
	u.Location = nil
	return u
}

// isAppFallbackCentre reports the map centre the legacy app sends when it
// has no device position (MapDiscoveryScreen's DEFAULT_REGION, New Delhi,
// used when location permission is denied or times out): it is not where
// the caller is, so it is never recorded.
func isAppFallbackCentre(lat, lng float64) bool {
	return lat == 28.6139 && lng == 77.209
}
