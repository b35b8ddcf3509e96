package notify

import (
	"context"
	"slices"
	"time"

	notifyv1 "github.com/infliq/infliq/backend/gen/infliq/notify/v1"
	"github.com/infliq/infliq/backend/notify/push"
	"github.com/infliq/infliq/backend/platform/id"
)

// Policy is the notify tier's side of the push contract (push.Policy):
// the user's preferences, quiet hours and presence decide non-urgent
// pushes at send time.
type Policy struct{ s *Service }

var (
	_ push.Policy        = Policy{}
	_ push.OnlineBatcher = Policy{}
)

// Policy returns the push policy of s.
func (s *Service) Policy() Policy { return Policy{s} }

var kindsByPush = map[string]notifyv1.Kind{
	"follow": notifyv1.Kind_KIND_FOLLOW, "like": notifyv1.Kind_KIND_LIKE, "comment": notifyv1.Kind_KIND_COMMENT,
	"mention": notifyv1.Kind_KIND_MENTION, "message": notifyv1.Kind_KIND_MESSAGE,
	"missed_call": notifyv1.Kind_KIND_MISSED_CALL, "call_declined": notifyv1.Kind_KIND_CALL_DECLINED, "moderation": notifyv1.Kind_KIND_MODERATION,
}

// Allow reports whether a non-urgent push of kind may go to uid at at; in
// quiet hours it says when it may (the window's end, local time).
func (p Policy) Allow(ctx context.Context, uid id.ID, kind string, at time.Time) (bool, time.Time, error) {
	pr, err := loadPrefs(ctx, p.s.pool, uid)
	if err != nil {
		return false, time.Time{}, err
	}
	if k, ok := kindsByPush[kind]; ok && slices.Contains(pr.pushOff, int16(k)) {
		return false, time.Time{}, nil
	}
	if end, quiet := pr.quietUntil(at); quiet {
		return false, end, nil
	}
	return true, time.Time{}, nil
}

// Online reports whether uid has a live realtime connection.
func (p Policy) Online(ctx context.Context, uid id.ID) (bool, error) {
	if p.s.online == nil {
		return false, nil
	}
	on, err := p.s.online(ctx, uid)
	if err != nil {
		return false, err
	}
	return on[0], nil
}

// OnlineMany answers presence for a whole flush (push.OnlineBatcher): one
// PUBSUB NUMSUB over all the users' channels, a single Redis round trip
// (one per shard on a cluster), instead of a call per user.
func (p Policy) OnlineMany(ctx context.Context, uids []id.ID) (map[id.ID]bool, error) {
	out := make(map[id.ID]bool, len(uids))
	if p.s.online == nil || len(uids) == 0 {
		return out, nil
	}
	on, err := p.s.online(ctx, uids...)
	if err != nil {
		return nil, err
	}
	for i, u := range uids {
		if on[i] {
			out[u] = true
		}
	}
	return out, nil
}

// quietUntil reports whether at falls in the quiet hours and when they
// end. A window may cross midnight (22:00–07:00); times are local to the
// user's zone, so DST days are handled by the calendar, not by offsets.
func (p prefs) quietUntil(at time.Time) (time.Time, bool) {
	if !p.quiet {
		return time.Time{}, false
	}
	loc := time.UTC
	if p.tz != "" {
		if l, err := time.LoadLocation(p.tz); err == nil {
			loc = l
		}
	}
	local := at.In(loc)
	m := int16(local.Hour()*60 + local.Minute())
	day := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	endAt := func(d time.Time) time.Time {
		return time.Date(d.Year(), d.Month(), d.Day(), int(p.end)/60, int(p.end)%60, 0, 0, loc)
	}
	if p.start < p.end { // same day
		if m >= p.start && m < p.end {
			return endAt(day), true
		}
		return time.Time{}, false
	}
	switch { // crosses midnight
	case m >= p.start:
		return endAt(day.AddDate(0, 0, 1)), true
	case m < p.end:
		return endAt(day), true
	}
	return time.Time{}, false
}
