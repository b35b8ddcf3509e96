package notify

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	notifyv1 "github.com/infliq/infliq/backend/gen/infliq/notify/v1"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/db"
	"github.com/infliq/infliq/backend/platform/id"
)

// previewMax bounds a group's preview in runes: enough for a notification
// line, never a whole message.
const previewMax = 100

// joinRow is one actor joining one recipient's group.
type joinRow struct {
	event   id.ID
	user    id.ID
	kind    notifyv1.Kind
	key     string // grouping key; "" for follows (the recipient's local day, computed in SQL)
	subject id.ID
	item    id.ID
	actor   id.ID
	at      time.Time
	preview string
	gid     id.ID // the group opened if none is open
}

// leaveRow is one actor leaving the open group (unlike, unfollow).
type leaveRow struct {
	event id.ID
	user  id.ID
	kind  notifyv1.Kind
	key   string
	actor id.ID
	at    time.Time
}

// applied is a join that took effect.
type applied struct {
	event     id.ID
	user      id.ID
	kind      notifyv1.Kind
	group     id.ID
	actor     id.ID
	actorName string
	subject   id.ID
	item      id.ID
	preview   string
	push      bool
}

// touched is a group whose view changed.
type touched struct{ user, group id.ID }

// applyResult is what a batch changed, for the realtime side.
type applyResult struct {
	touched []touched
	joins   int
}

// apply applies fresh records exactly once: their ids are recorded in the
// transaction that applies them, so a record delivered again is skipped.
func (s *Service) apply(ctx context.Context, recs []bus.Record) (applyResult, error) {
	var res applyResult
	if len(recs) == 0 {
		return res, nil
	}
	online, err := s.presence(ctx, recs)
	if err != nil {
		return res, err
	}
	err = db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		res = applyResult{}
		ids := make([]string, len(recs))
		for i, r := range recs {
			ids[i] = r.ID.String()
		}
		rows, err := tx.Query(ctx, `INSERT INTO notification_events (event_id) SELECT DISTINCT unnest($1::text[])
			ON CONFLICT DO NOTHING RETURNING event_id`, ids)
		if err != nil {
			return err
		}
		fresh := map[id.ID]bool{}
		for rows.Next() {
			var e id.ID
			if err := rows.Scan(&e); err != nil {
				return err
			}
			fresh[e] = true
		}
		if err := rows.Err(); err != nil {
			return err
		}
		var joins []joinRow
		var leaves []leaveRow
		var urgent []PushMessage
		var mentionRecs, blockRecs, noticeRecs []bus.Record
		todo := make([]bus.Record, 0, len(fresh))
		for _, r := range recs {
			if fresh[r.ID] {
				delete(fresh, r.ID) // a record listed twice in one batch applies once
				todo = append(todo, r)
			}
		}
		for _, r := range cancelPairs(todo) {
			if r.Kind == bus.RecBlock {
				blockRecs = append(blockRecs, r)
			}
			if r.Kind == bus.RecModeration {
				noticeRecs = append(noticeRecs, r)
			}
			j, l, u := rowsOf(r, online)
			joins, leaves, urgent = append(joins, j...), append(leaves, l...), append(urgent, u...)
			if (r.Kind == bus.RecPost || r.Kind == bus.RecComment) && strings.Contains(r.Text, "@") {
				mentionRecs = append(mentionRecs, r)
			}
		}
		if len(mentionRecs) > 0 {
			m, err := mentions(ctx, tx, mentionRecs)
			if err != nil {
				return err
			}
			joins = append(joins, m...)
		}
		done, err := join(ctx, tx, joins, s.window)
		if err != nil {
			return err
		}
		noticed, err := notices(ctx, tx, noticeRecs)
		if err != nil {
			return err
		}
		done = append(done, noticed...)
		left, err := leave(ctx, tx, leaves, s.window)
		if err != nil {
			return err
		}
		unblocked, err := blocks(ctx, tx, blockRecs)
		if err != nil {
			return err
		}
		left = append(left, unblocked...)
		msgs := urgent
		seen := map[touched]bool{}
		for _, a := range done {
			if t := (touched{a.user, a.group}); !seen[t] {
				seen[t] = true
				res.touched = append(res.touched, t)
			}
			if a.push {
				msgs = append(msgs, pushOf(a))
			}
		}
		for _, t := range left {
			if !seen[t] {
				seen[t] = true
				res.touched = append(res.touched, t)
			}
		}
		res.joins = len(done)
		if len(msgs) > 0 {
			return s.push.EnqueueTx(ctx, tx, msgs...)
		}
		return nil
	})
	return res, err
}

// cancelPairs drops each like that its own unlike follows in the same
// batch, with that unlike (toggle storms): applied one after the other
// they join and leave the same open group, so the inbox ends as it was,
// and the like's push is never due. Their ids are recorded all the same.
// An unlike followed by a like is kept: the re-like moves the actor to the
// front of the group.
func cancelPairs(recs []bus.Record) []bus.Record {
	type key struct{ actor, subject id.ID }
	var likes map[key]int // the pending like's index
	var drop map[int]bool
	for i, r := range recs {
		switch r.Kind {
		case bus.RecLike:
			if likes == nil {
				likes = map[key]int{}
			}
			likes[key{r.Actor, r.Subject}] = i
		case bus.RecUnlike:
			k := key{r.Actor, r.Subject}
			if j, ok := likes[k]; ok && sameTo(recs[j], r) {
				if drop == nil {
					drop = map[int]bool{}
				}
				drop[i], drop[j] = true, true
				delete(likes, k)
			}
		}
	}
	if len(drop) == 0 {
		return recs
	}
	out := make([]bus.Record, 0, len(recs)-len(drop))
	for i, r := range recs {
		if !drop[i] {
			out = append(out, r)
		}
	}
	return out
}

func sameTo(a, b bus.Record) bool {
	return len(a.To) > 0 && len(b.To) > 0 && a.To[0] == b.To[0]
}

// presence reports which message recipients have a live connection (they
// read the message there; the inbox and push are for the others).
func (s *Service) presence(ctx context.Context, recs []bus.Record) (map[id.ID]bool, error) {
	var uids []id.ID
	for _, r := range recs {
		if r.Kind == bus.RecMessage {
			uids = append(uids, r.To...)
		}
	}
	if len(uids) == 0 || s.online == nil {
		return nil, nil
	}
	on, err := s.online(ctx, uids...)
	if err != nil {
		return nil, err
	}
	out := make(map[id.ID]bool, len(uids))
	for i, u := range uids {
		if on[i] {
			out[u] = true
		}
	}
	return out, nil
}

// rowsOf turns a record into joins, leaves and urgent pushes. Mentions are
// resolved apart (they need the database).
func rowsOf(r bus.Record, online map[id.ID]bool) (joins []joinRow, leaves []leaveRow, urgent []PushMessage) {
	to := id.Nil
	if len(r.To) > 0 {
		to = r.To[0]
	}
	j := joinRow{event: r.ID, user: to, subject: r.Subject, actor: r.Actor, at: r.At, gid: id.NewAt(r.At)}
	switch r.Kind {
	case bus.RecLike:
		j.kind, j.key = notifyv1.Kind_KIND_LIKE, r.Subject.String()
	case bus.RecUnlike:
		return nil, []leaveRow{{event: r.ID, user: to, kind: notifyv1.Kind_KIND_LIKE, key: r.Subject.String(), actor: r.Actor, at: r.At}}, nil
	case bus.RecComment:
		j.kind, j.key, j.item, j.preview = notifyv1.Kind_KIND_COMMENT, r.Subject.String(), r.Item, preview(r.Text)
	case bus.RecFollow:
		j.kind, j.subject = notifyv1.Kind_KIND_FOLLOW, id.Nil
	case bus.RecUnfollow:
		return nil, []leaveRow{{event: r.ID, user: to, kind: notifyv1.Kind_KIND_FOLLOW, actor: r.Actor, at: r.At}}, nil
	case bus.RecCallMissed:
		j.kind, j.key = notifyv1.Kind_KIND_MISSED_CALL, r.Subject.String()
	case bus.RecCallDeclined:
		j.kind, j.key = notifyv1.Kind_KIND_CALL_DECLINED, r.Subject.String()
	case bus.RecMessage:
		for _, u := range r.To {
			if u == r.Actor || online[u] {
				continue
			}
			m := j
			m.user, m.kind, m.key, m.item, m.preview = u, notifyv1.Kind_KIND_MESSAGE, r.Subject.String(), r.Item, preview(r.Text)
			m.gid = id.NewAt(r.At)
			joins = append(joins, m)
		}
		return joins, nil, nil
	case bus.RecCallStarted:
		// A ring wakes the phone whatever the presence, preferences or quiet
		// hours: the push package sends Urgent messages at once.
		if to.IsZero() || to == r.Actor {
			return nil, nil, nil
		}
		return nil, nil, []PushMessage{{
			UserID: to, Kind: "call", Title: "Incoming call", Body: "Incoming " + callType(r.Tag) + " call",
			Data:        map[string]string{"type": "call", "callId": r.Subject.String(), "callerId": r.Actor.String(), "callType": callType(r.Tag)},
			CollapseKey: "call:" + r.Subject.String(), Urgent: true, DedupeKey: r.ID.String(),
		}}
	default: // post (mentions only), call_ended, kinds of a newer producer
		return nil, nil, nil
	}
	if to.IsZero() {
		return nil, nil, nil
	}
	return []joinRow{j}, nil, nil
}

func callType(tag string) string {
	if tag == "audio" {
		return "audio"
	}
	return "video"
}

// phoneLike finds runs of 7 or more digits, spaces, dots, dashes and
// brackets that may be a phone number.
var phoneLike = regexp.MustCompile(`\+?[0-9][0-9 ().-]{5,}[0-9]`)

// preview cuts text to a notification line. Phone numbers someone typed
// are masked: a preview lands on lock screens and in push payloads.
func preview(text string) string {
	text = strings.Join(strings.Fields(strings.ToValidUTF8(text, "")), " ")
	text = phoneLike.ReplaceAllStringFunc(text, func(m string) string {
		digits := 0
		for _, r := range m {
			if r >= '0' && r <= '9' {
				digits++
			}
		}
		if digits < 7 {
			return m
		}
		return "•••"
	})
	if utf8.RuneCountInString(text) <= previewMax {
		return text
	}
	r := []rune(text)
	return string(r[:previewMax-1]) + "…"
}

// joinSQL applies joins ($1…$10, one element per join) in one statement:
// the rows that pass the checks (not oneself, no block either way, the
// kind kept in the inbox, the like or follow still there: events may
// arrive out of order, the tables are the truth), the open group of each
// key (the head keeps it while it started less than the window before the
// event; follows group by the recipient's local day), the group's latest
// activity and a new seq, and the actors. The actors' triggers keep
// actors_count. Heads and groups are written in key order, so concurrent
// consumers lock them in one order.
const joinSQL = `WITH e AS (
	SELECT * FROM unnest($1::text[], $2::text[], $3::int2[], $4::text[], $5::text[], $6::text[], $7::text[],
		$8::timestamptz[], $9::text[], $10::text[]) WITH ORDINALITY
		AS e(event_id, user_id, kind, key, subject_id, item_id, actor_id, at, preview, gid, n)
), ok AS (
	SELECT e.event_id, e.user_id, e.kind, e.subject_id, e.item_id, e.actor_id, e.at, e.preview, e.gid, e.n,
		CASE WHEN e.kind = 1 THEN to_char(e.at AT TIME ZONE COALESCE(NULLIF(nu.time_zone, ''), 'UTC'), 'YYYY-MM-DD') ELSE e.key END AS key,
		NOT (e.kind = ANY (COALESCE(nu.push_off, '{}'))) AS push
	FROM e LEFT JOIN notification_users nu ON nu.user_id = e.user_id
	WHERE e.actor_id <> e.user_id
	  AND NOT (e.kind = ANY (COALESCE(nu.inbox_off, '{}')))
	  AND EXISTS (SELECT 1 FROM users u WHERE u.id = e.user_id)
	  AND EXISTS (SELECT 1 FROM users u WHERE u.id = e.actor_id)
	  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = e.user_id AND b.blocked_id = e.actor_id)
	  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = e.actor_id AND b.blocked_id = e.user_id)
	  AND (e.kind <> 2 OR EXISTS (SELECT 1 FROM post_likes l WHERE l.post_id = e.subject_id AND l.user_id = e.actor_id))
	  AND (e.kind <> 1 OR EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = e.actor_id AND f.followee_id = e.user_id))
), k AS (
	SELECT user_id, kind, key, min(at) AS first_at, max(at) AS last_at,
		(array_agg(gid ORDER BY at, n))[1] AS gid,
		(array_agg(subject_id ORDER BY at DESC, n DESC))[1] AS subject_id,
		(array_agg(item_id ORDER BY at DESC, n DESC))[1] AS item_id,
		(array_agg(preview ORDER BY at DESC, n DESC))[1] AS preview
	FROM ok GROUP BY user_id, kind, key
), h AS (
	INSERT INTO notification_heads AS h (user_id, kind, key, group_id, started_at)
	SELECT user_id, kind, key, gid, first_at FROM k ORDER BY user_id, kind, key
	ON CONFLICT (user_id, kind, key) DO UPDATE SET
		group_id = CASE WHEN h.started_at > excluded.started_at - (CASE WHEN h.kind = 1 THEN interval '2 days' ELSE $11::interval END) THEN h.group_id ELSE excluded.group_id END,
		started_at = CASE WHEN h.started_at > excluded.started_at - (CASE WHEN h.kind = 1 THEN interval '2 days' ELSE $11::interval END) THEN h.started_at ELSE excluded.started_at END
	RETURNING h.user_id, h.kind, h.key, h.group_id, h.started_at
), g AS (
	INSERT INTO notification_groups AS g (id, user_id, kind, subject_id, item_id, preview, created_at, latest_at, seq)
	SELECT h.group_id, h.user_id, h.kind, NULLIF(k.subject_id, ''), NULLIF(k.item_id, ''), k.preview, h.started_at, k.last_at, nextval('notification_seq')
	FROM h JOIN k USING (user_id, kind, key) ORDER BY h.group_id
	ON CONFLICT (id) DO UPDATE SET latest_at = greatest(g.latest_at, excluded.latest_at), seq = excluded.seq,
		item_id = COALESCE(excluded.item_id, g.item_id),
		preview = CASE WHEN excluded.preview <> '' THEN excluded.preview ELSE g.preview END
	RETURNING g.id
), a AS (
	INSERT INTO notification_actors AS a (group_id, actor_id, at)
	SELECT DISTINCT ON (h.group_id, ok.actor_id) h.group_id, ok.actor_id, ok.at
	FROM ok JOIN h USING (user_id, kind, key)
	ORDER BY h.group_id, ok.actor_id, ok.at DESC
	ON CONFLICT (group_id, actor_id) DO UPDATE SET at = greatest(a.at, excluded.at)
	RETURNING a.group_id
)
SELECT ok.event_id, ok.user_id, ok.kind, h.group_id, ok.actor_id, COALESCE(u.name, ''), ok.subject_id, ok.item_id, ok.preview, ok.push
FROM ok JOIN h USING (user_id, kind, key) LEFT JOIN users u ON u.id = ok.actor_id`

func join(ctx context.Context, tx pgx.Tx, js []joinRow, window time.Duration) ([]applied, error) {
	if len(js) == 0 {
		return nil, nil
	}
	n := len(js)
	ev, us, ks, keys, subj, items, actors, prev, gids := make([]string, n), make([]string, n), make([]int16, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	ats := make([]time.Time, n)
	for i, j := range js {
		ev[i], us[i], ks[i], keys[i], actors[i], ats[i], prev[i], gids[i] =
			j.event.String(), j.user.String(), int16(j.kind), j.key, j.actor.String(), j.at, j.preview, j.gid.String()
		if !j.subject.IsZero() {
			subj[i] = j.subject.String()
		}
		if !j.item.IsZero() {
			items[i] = j.item.String()
		}
	}
	rows, err := tx.Query(ctx, joinSQL, ev, us, ks, keys, subj, items, actors, ats, prev, gids, window)
	if err != nil {
		return nil, fmt.Errorf("notify: join: %w", err)
	}
	defer rows.Close()
	var out []applied
	for rows.Next() {
		var a applied
		var kind int16
		var subject, item string
		if err := rows.Scan(&a.event, &a.user, &kind, &a.group, &a.actor, &a.actorName, &subject, &item, &a.preview, &a.push); err != nil {
			return nil, err
		}
		a.kind = notifyv1.Kind(kind)
		a.subject, _ = id.Parse(subject)
		a.item, _ = id.Parse(item)
		out = append(out, a)
	}
	return out, rows.Err()
}

// noticeSQL opens one group per moderation notice ($1…$5, one element
// per notice): never grouped (no head), no actors, kept whatever the
// inbox preferences; the push follows push_off. A user deleted meanwhile
// gets nothing.
const noticeSQL = `WITH e AS (
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[]) AS e(event_id, user_id, gid, at, preview)
)
INSERT INTO notification_groups (id, user_id, kind, preview, created_at, latest_at, seq)
SELECT e.gid, e.user_id, 8, e.preview, e.at, e.at, nextval('notification_seq')
FROM e WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = e.user_id) ORDER BY e.gid
RETURNING id, user_id, preview,
	NOT (8 = ANY (COALESCE((SELECT nu.push_off FROM notification_users nu WHERE nu.user_id = notification_groups.user_id), '{}')))`

// notices applies moderation records (bus.RecModeration).
func notices(ctx context.Context, tx pgx.Tx, recs []bus.Record) ([]applied, error) {
	var ev, us, gids, prev []string
	var ats []time.Time
	byGroup := map[string]id.ID{}
	for _, r := range recs {
		if len(r.To) == 0 || r.To[0].IsZero() {
			continue
		}
		g := id.NewAt(r.At)
		ev, us, gids, ats, prev = append(ev, r.ID.String()), append(us, r.To[0].String()), append(gids, g.String()),
			append(ats, r.At), append(prev, preview(r.Text))
		byGroup[g.String()] = r.ID
	}
	if len(ev) == 0 {
		return nil, nil
	}
	rows, err := tx.Query(ctx, noticeSQL, ev, us, gids, ats, prev)
	if err != nil {
		return nil, fmt.Errorf("notify: notice: %w", err)
	}
	defer rows.Close()
	var out []applied
	for rows.Next() {
		a := applied{kind: notifyv1.Kind_KIND_MODERATION}
		if err := rows.Scan(&a.group, &a.user, &a.preview, &a.push); err != nil {
			return nil, err
		}
		a.event = byGroup[a.group.String()]
		out = append(out, a)
	}
	return out, rows.Err()
}

// leaveSQL removes actors from the open group of their key when the like
// or follow is really gone (an unlike processed before its like removes
// nothing, and the like then finds no row and adds nothing). The actors'
// trigger lowers the count and drops an emptied group.
const leaveSQL = `WITH e AS (
	SELECT * FROM unnest($1::text[], $2::int2[], $3::text[], $4::text[], $5::timestamptz[]) AS e(user_id, kind, key, actor_id, at)
), ok AS (
	SELECT e.user_id, e.kind, e.actor_id, e.at,
		CASE WHEN e.kind = 1 THEN to_char(e.at AT TIME ZONE COALESCE(NULLIF(nu.time_zone, ''), 'UTC'), 'YYYY-MM-DD') ELSE e.key END AS key
	FROM e LEFT JOIN notification_users nu ON nu.user_id = e.user_id
	WHERE (e.kind <> 2 OR NOT EXISTS (SELECT 1 FROM post_likes l WHERE l.post_id = e.key AND l.user_id = e.actor_id))
	  AND (e.kind <> 1 OR NOT EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = e.actor_id AND f.followee_id = e.user_id))
)
DELETE FROM notification_actors a USING ok JOIN notification_heads h USING (user_id, kind, key)
WHERE a.group_id = h.group_id AND a.actor_id = ok.actor_id
  AND h.started_at > ok.at - (CASE WHEN ok.kind = 1 THEN interval '2 days' ELSE $6::interval END)
RETURNING ok.user_id, a.group_id`

func leave(ctx context.Context, tx pgx.Tx, ls []leaveRow, window time.Duration) ([]touched, error) {
	if len(ls) == 0 {
		return nil, nil
	}
	n := len(ls)
	us, ks, keys, actors, ats := make([]string, n), make([]int16, n), make([]string, n), make([]string, n), make([]time.Time, n)
	for i, l := range ls {
		us[i], ks[i], keys[i], actors[i], ats[i] = l.user.String(), int16(l.kind), l.key, l.actor.String(), l.at
	}
	rows, err := tx.Query(ctx, leaveSQL, us, ks, keys, actors, ats, window)
	if err != nil {
		return nil, fmt.Errorf("notify: leave: %w", err)
	}
	defer rows.Close()
	var out []touched
	for rows.Next() {
		var t touched
		if err := rows.Scan(&t.user, &t.group); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// blocks takes each side of a new block out of the other's groups (the
// actors' trigger lowers the counts and drops emptied groups); later
// events between them are refused by the join checks.
func blocks(ctx context.Context, tx pgx.Tx, recs []bus.Record) ([]touched, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	a, b := make([]string, 0, len(recs)), make([]string, 0, len(recs))
	for _, r := range recs {
		if len(r.To) > 0 {
			a, b = append(a, r.Actor.String()), append(b, r.To[0].String())
		}
	}
	rows, err := tx.Query(ctx, `WITH p AS (
			SELECT x, y FROM unnest($1::text[], $2::text[]) AS p(x, y)
			UNION ALL SELECT y, x FROM unnest($1::text[], $2::text[]) AS p(x, y)
		)
		DELETE FROM notification_actors a USING p, notification_groups g
		WHERE g.user_id = p.x AND a.group_id = g.id AND a.actor_id = p.y
		RETURNING g.user_id, g.id`, a, b)
	if err != nil {
		return nil, fmt.Errorf("notify: block: %w", err)
	}
	defer rows.Close()
	var out []touched
	for rows.Next() {
		var t touched
		if err := rows.Scan(&t.user, &t.group); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

var pushKinds = map[notifyv1.Kind]string{
	notifyv1.Kind_KIND_FOLLOW: "follow", notifyv1.Kind_KIND_LIKE: "like", notifyv1.Kind_KIND_COMMENT: "comment",
	notifyv1.Kind_KIND_MENTION: "mention", notifyv1.Kind_KIND_MESSAGE: "message",
	notifyv1.Kind_KIND_MISSED_CALL: "missed_call", notifyv1.Kind_KIND_CALL_DECLINED: "call_declined",
	notifyv1.Kind_KIND_MODERATION: "moderation",
}

// pushOf is the push of one applied join: a preview line, routing data,
// and a collapse key (likes and follows batch per user, messages per chat).
func pushOf(a applied) PushMessage {
	who := a.actorName
	if who == "" {
		who = "Someone"
	}
	m := PushMessage{UserID: a.user, Kind: pushKinds[a.kind], DedupeKey: a.event.String() + ":" + a.user.String(),
		Data: map[string]string{"type": pushKinds[a.kind], "notificationId": a.group.String(), "actorId": a.actor.String()}}
	switch a.kind {
	case notifyv1.Kind_KIND_FOLLOW:
		m.Title, m.Body, m.CollapseKey = "New follower", who+" started following you", "follows"
	case notifyv1.Kind_KIND_LIKE:
		m.Title, m.Body, m.CollapseKey = "New like", who+" liked your post", "likes"
		m.Data["postId"] = a.subject.String()
	case notifyv1.Kind_KIND_COMMENT:
		m.Title, m.Body, m.CollapseKey = "New comment", who+" commented: "+a.preview, "post:"+a.subject.String()
		m.Data["postId"] = a.subject.String()
	case notifyv1.Kind_KIND_MENTION:
		m.Title, m.Body, m.CollapseKey = "New mention", who+" mentioned you: "+a.preview, "post:"+a.subject.String()
		m.Data["postId"] = a.subject.String()
	case notifyv1.Kind_KIND_MESSAGE:
		m.Title, m.Body, m.CollapseKey = who, a.preview, "chat:"+a.subject.String()
		m.Data["chatId"] = a.subject.String()
	case notifyv1.Kind_KIND_MISSED_CALL:
		m.Title, m.Body, m.CollapseKey = "Missed call", "Missed call from "+who, "call:"+a.subject.String()
		m.Data["callId"] = a.subject.String()
	case notifyv1.Kind_KIND_CALL_DECLINED:
		m.Title, m.Body, m.CollapseKey = "Call declined", who+" declined your call", "call:"+a.subject.String()
		m.Data["callId"] = a.subject.String()
	case notifyv1.Kind_KIND_MODERATION:
		// No actor: who moderated is not shown. One collapse key per notice.
		delete(m.Data, "actorId")
		m.Title, m.Body, m.CollapseKey = "Message from the moderators", a.preview, "moderation:"+a.group.String()
	}
	return m
}
