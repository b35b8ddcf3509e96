package notify

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	notifyv1 "github.com/infliq/infliq/backend/gen/infliq/notify/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/db"
	"github.com/infliq/infliq/backend/platform/id"
)

// shownActors is how many of a group's newest actors are listed.
const shownActors = 3

// unreadCap bounds the unread count (a badge shows "999+" long before).
const unreadCap = 1000

// visibleGroup hides groups about a post that is gone (its likes and
// comments went with it).
const visibleGroup = `(g.kind NOT IN (2, 3, 4) OR EXISTS (SELECT 1 FROM posts p WHERE p.id = g.subject_id))`

// groupsSQL renders groups with their newest actors (public profile fields
// only), one row per shown actor, newest group first. %s filters g; $1 is
// the reader (whose marker says read or not), $3 the seq bound, $4 the
// limit.
const groupsSQL = `WITH me AS (
	SELECT COALESCE((SELECT read_seq FROM notification_users WHERE user_id = $1::text), 0) AS read_seq
), page AS (
	SELECT g.* FROM notification_groups g WHERE %s AND g.seq < $3 AND ` + visibleGroup + `
	ORDER BY g.seq DESC LIMIT $4
)
SELECT page.id, page.user_id, page.kind, COALESCE(page.subject_id, ''), COALESCE(page.item_id, ''), page.actors_count,
	page.preview, page.created_at, page.latest_at, page.seq, page.seq <= me.read_seq,
	x.actor_id, x.name, x.profile_picture, x.is_verified
FROM page CROSS JOIN me LEFT JOIN LATERAL (
	SELECT a.actor_id, a.at, u.name, u.profile_picture, u.is_verified
	FROM notification_actors a JOIN users u ON u.id = a.actor_id
	WHERE a.group_id = page.id ORDER BY a.at DESC LIMIT ` + "3" + `
) x ON true
ORDER BY page.seq DESC, x.at DESC`

var (
	// One plan per filter shape: without kinds the (user_id, seq) index
	// serves the page in order.
	listSQL      = fmt.Sprintf(groupsSQL, `g.user_id = $1::text AND cardinality($2::int2[]) = 0`)
	listKindsSQL = fmt.Sprintf(groupsSQL, `g.user_id = $1::text AND g.kind = ANY ($2::int2[])`)
	// Realtime updates render groups of several users: $1 is unused there
	// (each group's own user's marker is read instead).
	byIDsSQL = strings.Replace(fmt.Sprintf(groupsSQL, `g.id = ANY ($2::text[]) AND $1::text IS NULL`),
		"page.seq <= me.read_seq", "page.seq <= COALESCE((SELECT read_seq FROM notification_users nu WHERE nu.user_id = page.user_id), 0)", 1)
	unreadSQL = `SELECT u, (SELECT count(*) FROM (
		SELECT 1 FROM notification_groups g WHERE g.user_id = u
		  AND g.seq > COALESCE((SELECT read_seq FROM notification_users nu WHERE nu.user_id = u), 0)
		  AND ` + visibleGroup + ` LIMIT ` + "1000" + `) x)
	FROM unnest($1::text[]) u`
)

type groupRow struct {
	n    *notifyv1.Notification
	user id.ID
	seq  int64
}

// scanGroups reads groupsSQL rows.
func scanGroups(rows pgx.Rows) ([]groupRow, error) {
	defer rows.Close()
	var out []groupRow
	for rows.Next() {
		var (
			gid, user              id.ID
			kind                   int16
			subject, item, preview string
			count, seq             int64
			created, latest        time.Time
			read                   bool
			actor, name, pic       *string
			verified               *bool
		)
		if err := rows.Scan(&gid, &user, &kind, &subject, &item, &count, &preview, &created, &latest, &seq, &read,
			&actor, &name, &pic, &verified); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].n.Id != gid.String() {
			n := &notifyv1.Notification{Id: gid.String(), Kind: notifyv1.Kind(kind), ActorsCount: count, Preview: preview,
				CreatedAt: timestamppb.New(created), LatestAt: timestamppb.New(latest), Read: read}
			switch n.Kind {
			case notifyv1.Kind_KIND_LIKE, notifyv1.Kind_KIND_COMMENT, notifyv1.Kind_KIND_MENTION:
				n.PostId, n.CommentId = subject, item
			case notifyv1.Kind_KIND_MESSAGE:
				n.ChatId = subject
			case notifyv1.Kind_KIND_MISSED_CALL, notifyv1.Kind_KIND_CALL_DECLINED:
				n.CallId = subject
			}
			out = append(out, groupRow{n: n, user: user, seq: seq})
		}
		if actor != nil {
			g := out[len(out)-1].n
			g.Actors = append(g.Actors, &commonv1.UserSummary{Id: *actor, Name: *name, ProfilePicture: *pic, IsVerified: *verified})
		}
	}
	return out, rows.Err()
}

// listGroups returns a page of uid's groups (seq below before, 0: from
// the newest), the last seq of the page and the unread count, in one
// round trip.
func listGroups(ctx context.Context, pool *pgxpool.Pool, uid id.ID, kinds []int16, before int64, limit int) ([]*notifyv1.Notification, int64, int64, error) {
	if before <= 0 {
		before = math.MaxInt64
	}
	b := &pgx.Batch{}
	q := listSQL
	if len(kinds) > 0 {
		q = listKindsSQL
	}
	b.Queue(q, uid, kinds, before, limit)
	b.Queue(unreadSQL, []string{uid.String()})
	br := pool.SendBatch(ctx, b)
	defer br.Close()
	rows, err := br.Query()
	if err != nil {
		return nil, 0, 0, err
	}
	gs, err := scanGroups(rows)
	if err != nil {
		return nil, 0, 0, err
	}
	var unread int64
	if err := br.QueryRow().Scan(new(string), &unread); err != nil {
		return nil, 0, 0, err
	}
	out := make([]*notifyv1.Notification, len(gs))
	var last int64
	for i, g := range gs {
		out[i], last = g.n, g.seq
	}
	return out, last, unread, br.Close()
}

// groupsByID renders the given groups (for realtime updates).
func groupsByID(ctx context.Context, q db.Querier, ids []id.ID) ([]groupRow, error) {
	s := make([]string, len(ids))
	for i, g := range ids {
		s[i] = g.String()
	}
	rows, err := q.Query(ctx, byIDsSQL, nil, s, int64(math.MaxInt64), len(ids))
	if err != nil {
		return nil, err
	}
	return scanGroups(rows)
}

// unreadCounts counts the unread groups of users (capped at unreadCap).
func unreadCounts(ctx context.Context, q db.Querier, uids ...id.ID) (map[id.ID]int64, error) {
	s := make([]string, len(uids))
	for i, u := range uids {
		s[i] = u.String()
	}
	rows, err := q.Query(ctx, unreadSQL, s)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[id.ID]int64, len(uids))
	for rows.Next() {
		var u id.ID
		var n int64
		if err := rows.Scan(&u, &n); err != nil {
			return nil, err
		}
		out[u] = n
	}
	return out, rows.Err()
}

// markRead moves uid's marker to the group upTo's seq (which must be
// uid's), or with Nil to uid's newest group. It never moves back.
func markRead(ctx context.Context, pool *pgxpool.Pool, uid, upTo id.ID) error {
	var seq *int64
	var err error
	if upTo.IsZero() {
		err = pool.QueryRow(ctx, `SELECT max(seq) FROM notification_groups WHERE user_id = $1`, uid).Scan(&seq)
	} else {
		// Another user's group is "not found": ids are not an oracle.
		err = pool.QueryRow(ctx, `SELECT seq FROM notification_groups WHERE id = $1 AND user_id = $2`, upTo, uid).Scan(&seq)
		if db.IsNoRows(err) {
			return apperr.NotFound("Notification not found")
		}
	}
	if err != nil || seq == nil {
		return err
	}
	_, err = pool.Exec(ctx, `INSERT INTO notification_users AS nu (user_id, read_seq)
		SELECT $1::text, $2::bigint WHERE EXISTS (SELECT 1 FROM users WHERE id = $1::text)
		ON CONFLICT (user_id) DO UPDATE SET read_seq = greatest(nu.read_seq, excluded.read_seq)`, uid, *seq)
	return err
}

// prefs are one user's preferences as stored.
type prefs struct {
	inboxOff, pushOff []int16
	quiet             bool
	start, end        int16 // minutes after local midnight
	tz                string
}

func (p prefs) proto() *notifyv1.Preferences {
	out := &notifyv1.Preferences{TimeZone: p.tz}
	for k := notifyv1.Kind_KIND_FOLLOW; k <= notifyv1.Kind_KIND_MODERATION; k++ {
		out.Kinds = append(out.Kinds, &notifyv1.KindPreference{Kind: k,
			Inbox: !slices.Contains(p.inboxOff, int16(k)), Push: !slices.Contains(p.pushOff, int16(k))})
	}
	if p.quiet {
		out.QuietHours = &notifyv1.QuietHours{StartMinute: int32(p.start), EndMinute: int32(p.end)}
	}
	return out
}

// prefsFrom checks and converts preferences from a request.
func prefsFrom(in *notifyv1.Preferences) (prefs, error) {
	var p prefs
	seen := map[notifyv1.Kind]bool{}
	for _, k := range in.GetKinds() {
		if seen[k.GetKind()] {
			return p, apperr.FieldViolation("preferences.kinds", "unique_kind", "Each kind may be listed once")
		}
		seen[k.GetKind()] = true
		// Moderation notices stay in the inbox whatever the preference.
		if !k.GetInbox() && k.GetKind() != notifyv1.Kind_KIND_MODERATION {
			p.inboxOff = append(p.inboxOff, int16(k.GetKind()))
		}
		if !k.GetPush() {
			p.pushOff = append(p.pushOff, int16(k.GetKind()))
		}
	}
	if q := in.GetQuietHours(); q != nil {
		if q.GetStartMinute() == q.GetEndMinute() {
			return p, apperr.FieldViolation("preferences.quiet_hours", "empty_window", "Quiet hours must start and end at different times")
		}
		p.quiet, p.start, p.end = true, int16(q.GetStartMinute()), int16(q.GetEndMinute())
	}
	if tz := in.GetTimeZone(); tz != "" {
		if _, err := time.LoadLocation(tz); err != nil || tz == "Local" {
			return p, apperr.FieldViolation("preferences.time_zone", "iana_time_zone", "Unknown time zone")
		}
		p.tz = tz
	}
	return p, nil
}

func loadPrefs(ctx context.Context, q db.Querier, uid id.ID) (prefs, error) {
	var p prefs
	var start, end *int16
	err := q.QueryRow(ctx, `SELECT inbox_off, push_off, quiet_start, quiet_end, time_zone FROM notification_users WHERE user_id = $1`, uid).
		Scan(&p.inboxOff, &p.pushOff, &start, &end, &p.tz)
	if db.IsNoRows(err) {
		return prefs{}, nil
	}
	if start != nil && end != nil {
		p.quiet, p.start, p.end = true, *start, *end
	}
	return p, err
}

func savePrefs(ctx context.Context, pool *pgxpool.Pool, uid id.ID, p prefs) error {
	var start, end *int16
	if p.quiet {
		start, end = &p.start, &p.end
	}
	if p.inboxOff == nil {
		p.inboxOff = []int16{}
	}
	if p.pushOff == nil {
		p.pushOff = []int16{}
	}
	return db.InTx(ctx, pool, func(tx pgx.Tx) error {
		// The database groups follows by the local day: it must know the
		// zone too (its tz database may differ from Go's).
		if p.tz != "" {
			if _, err := tx.Exec(ctx, `SAVEPOINT tz`); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `SELECT now() AT TIME ZONE $1`, p.tz); err != nil {
				return apperr.FieldViolation("preferences.time_zone", "iana_time_zone", "Unknown time zone")
			}
		}
		tag, err := tx.Exec(ctx, `INSERT INTO notification_users AS nu (user_id, inbox_off, push_off, quiet_start, quiet_end, time_zone)
			SELECT $1::text, $2::int2[], $3::int2[], $4::int2, $5::int2, $6::text WHERE EXISTS (SELECT 1 FROM users WHERE id = $1::text)
			ON CONFLICT (user_id) DO UPDATE SET inbox_off = excluded.inbox_off, push_off = excluded.push_off,
				quiet_start = excluded.quiet_start, quiet_end = excluded.quiet_end, time_zone = excluded.time_zone`,
			uid, p.inboxOff, p.pushOff, start, end, p.tz)
		if err == nil && tag.RowsAffected() == 0 {
			return apperr.NotFound("User not found")
		}
		return err
	})
}

// cleanup deletes applied-record ids past any redelivery and groups
// nobody will scroll to.
func cleanup(ctx context.Context, pool *pgxpool.Pool, now time.Time, keepEvents, keepGroups time.Duration) error {
	if _, err := pool.Exec(ctx, `DELETE FROM notification_events WHERE event_id < $1`, id.MinAt(now.Add(-keepEvents))); err != nil {
		return err
	}
	if _, err := pool.Exec(ctx, `DELETE FROM notification_heads WHERE started_at < $1`, now.Add(-keepGroups)); err != nil {
		return err
	}
	_, err := pool.Exec(ctx, `DELETE FROM notification_groups WHERE latest_at < $1`, now.Add(-keepGroups))
	return err
}
