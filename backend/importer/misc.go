package importer

import (
	"bytes"
	"context"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/infliq/infliq/backend/platform/id"
)

// calls imports call records into the call service's table (when its
// migration is applied).
func callsJob() job {
	return job{name: "calls", coll: "calls", since: []string{"createdAt", "startedAt", "endedAt"}, tables: []string{"calls"},
		build: buildCall, write: writeCalls}
}

var callStatuses = map[string]bool{"ringing": true, "active": true, "ended": true, "rejected": true, "missed": true}

func buildCall(r *run, b *batch, d *doc, x id.ID) {
	st := b.st("calls")
	caller, ok1 := d.oid("callerId")
	receiver, ok2 := d.oid("receiverId")
	typ, status, room := d.str("type"), d.str("status"), d.str("roomName")
	started, ended := d.time("startedAt"), d.time("endedAt")
	dur := d.count("duration", math.MaxInt32)
	created := d.created(x)
	if typ == "" {
		typ = "video"
	}
	if status == "" {
		status = "ringing"
	}
	switch {
	case d.err != "":
		b.reject("calls", x.String(), d.err)
		return
	case !ok1 || !ok2:
		b.reject("calls", x.String(), "callerId or receiverId missing")
		return
	case caller == receiver:
		b.reject("calls", x.String(), "caller is the receiver")
		return
	case typ != "audio" && typ != "video":
		b.reject("calls", x.String(), "type is neither audio nor video")
		return
	case !callStatuses[status]:
		b.reject("calls", x.String(), "status unknown")
		return
	case !r.known(caller) || !r.known(receiver):
		b.reject("calls", x.String(), "caller or receiver not found (dangling reference)")
		return
	}
	// A call legacy never resolved is over once its ring timeout has
	// passed: the call service's sweep would otherwise "miss" it now,
	// writing a chat message dated today for a call months old. It comes
	// in resolved, with its own times; the sweep only looks at ringing
	// calls, so it never touches imported history.
	if (status == "ringing" || status == "active") && created.Before(r.now.Add(-r.RingTimeout)) {
		if status == "ringing" {
			status = "missed"
			st.note("normalised status: stale ringing call imported as missed", 1)
		} else {
			status = "ended"
			if ended.IsZero() {
				ended = started
				if started.IsZero() {
					ended = created
				}
				ended = ended.Add(time.Duration(dur) * time.Second)
			}
			st.note("normalised status: stale active call imported as ended", 1)
		}
		st.Normalised++
	}
	if room == "" || b.ids["room:"+room] != "" {
		room = "legacy-" + x.String()
	}
	b.ids["room:"+room] = x.String()
	b.add("imp_calls", x.String(), caller.String(), receiver.String(), typ, status, room, created, nzt(started), nzt(ended), dur)
}

func writeCalls(ctx context.Context, r *run, tx pgx.Tx, b *batch) error {
	if err := copyRows(ctx, tx, b, "imp_calls", "id", "caller_id", "receiver_id", "type", "status", "room_name",
		"created_at", "started_at", "ended_at", "duration"); err != nil {
		return err
	}
	st := b.st("calls")
	n, err := count(ctx, tx, `SELECT count(*) FROM imp_calls c WHERE NOT EXISTS (SELECT 1 FROM users WHERE id = c.caller_id)
		OR NOT EXISTS (SELECT 1 FROM users WHERE id = c.receiver_id)`)
	if err != nil {
		return err
	}
	st.reject("caller or receiver not found (dangling reference)", n)
	if _, err := tx.Exec(ctx, `UPDATE imp_calls i SET room_name = 'legacy-' || i.id
		WHERE EXISTS (SELECT 1 FROM calls c WHERE c.room_name = i.room_name AND c.id <> i.id)`); err != nil {
		return err
	}
	return upsert(ctx, tx, st, len(b.data["imp_calls"])-int(n), `
		INSERT INTO calls AS c (id, caller_id, receiver_id, type, status, room_name, created_at, started_at, ended_at, duration)
		SELECT i.id, i.caller_id, i.receiver_id, i.type, i.status, i.room_name, i.created_at, i.started_at, i.ended_at, i.duration
		FROM imp_calls i JOIN users a ON a.id = i.caller_id JOIN users b ON b.id = i.receiver_id
		ON CONFLICT (id) DO UPDATE SET type = excluded.type, status = excluded.status, room_name = excluded.room_name,
		  created_at = excluded.created_at, started_at = excluded.started_at, ended_at = excluded.ended_at, duration = excluded.duration
		WHERE (c.type, c.status, c.room_name, c.created_at, c.started_at, c.ended_at, c.duration) IS DISTINCT FROM
		  (excluded.type, excluded.status, excluded.room_name, excluded.created_at, excluded.started_at, excluded.ended_at, excluded.duration)
		RETURNING xmax = 0`)
}

// audits imports the media upload audit log. userId was a string there.
func auditsJob() job {
	return job{name: "mediauploadaudits", coll: "mediauploadaudits", unordered: true, since: []string{"createdAt"}, build: buildAudit, write: writeAudits}
}

var auditStatuses = map[string]bool{"success": true, "rejected": true, "error": true}

func buildAudit(r *run, b *batch, d *doc, x id.ID) {
	user, ip, route, action := d.str("userId"), d.str("ip"), d.str("route"), d.str("action")
	status, mime, folder := d.str("status"), d.str("mimeType"), d.str("folder")
	key, errText := d.str("key"), d.str("error")
	size := d.count("size", math.MaxInt64)
	created := d.created(x)
	exp := d.time("expiresAt")
	var meta any
	if v, ok := d.val("metadata"); ok {
		j, err := bson.MarshalExtJSON(bson.D{{Key: "v", Value: v}}, false, false)
		switch {
		case err != nil:
			d.fail("metadata is not representable as JSON")
		case bytes.Contains(j, []byte(`\u0000`)):
			// jsonb cannot hold U+0000.
			d.fail("metadata contains a NUL character")
		default:
			meta = string(j[len(`{"v":`) : len(j)-1])
		}
	}
	if status == "" {
		status = "success"
	}
	switch {
	case d.err != "":
		b.reject("mediauploadaudits", x.String(), d.err)
		return
	case !auditStatuses[status]:
		b.reject("mediauploadaudits", x.String(), "status unknown")
		return
	}
	if exp.IsZero() {
		exp = created.Add(30 * 24 * time.Hour) // MEDIA_AUDIT_LOG_RETENTION_DAYS default
	}
	b.add("imp_audits", x.String(), user, ip, route, action, status, mime, size, folder, nz(key), nz(errText), meta, created, exp)
}

func writeAudits(ctx context.Context, r *run, tx pgx.Tx, b *batch) error {
	if err := copyRows(ctx, tx, b, "imp_audits", "id", "user_id", "ip", "route", "action", "status", "mime_type", "size_bytes",
		"folder", "key", "error", "metadata", "created_at", "expires_at"); err != nil {
		return err
	}
	return upsert(ctx, tx, b.st("mediauploadaudits"), len(b.data["imp_audits"]), `
		INSERT INTO media_audit_logs AS a (id, user_id, ip, route, action, status, mime_type, size_bytes, folder, key, error, metadata, created_at, expires_at)
		SELECT id, user_id, ip, route, action, status, mime_type, size_bytes, folder, key, error, metadata, created_at, expires_at FROM imp_audits
		ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, ip = excluded.ip, route = excluded.route, action = excluded.action,
		  status = excluded.status, mime_type = excluded.mime_type, size_bytes = excluded.size_bytes, folder = excluded.folder,
		  key = excluded.key, error = excluded.error, metadata = excluded.metadata, created_at = excluded.created_at, expires_at = excluded.expires_at
		WHERE (a.user_id, a.ip, a.route, a.action, a.status, a.mime_type, a.size_bytes, a.folder, a.key, a.error, a.metadata, a.created_at, a.expires_at)
		  IS DISTINCT FROM (excluded.user_id, excluded.ip, excluded.route, excluded.action, excluded.status, excluded.mime_type,
		  excluded.size_bytes, excluded.folder, excluded.key, excluded.error, excluded.metadata, excluded.created_at, excluded.expires_at)
		RETURNING xmax = 0`)
}

// reports imports M2's content reports: post reports into post_reports,
// user reports into user_reports (when the user service's migration that
// creates it is applied).
func reportsJob() job {
	return job{name: "contentreports", coll: "contentreports", since: []string{"createdAt", "actionedAt"}, build: buildReport, write: writeReports}
}

var reportStatuses = map[string]bool{"pending": true, "reviewed": true, "actioned": true}

func buildReport(r *run, b *batch, d *doc, x id.ID) {
	st := b.st("contentreports")
	reporter, ok1 := d.oid("reporterId")
	target, ok2 := d.oid("targetId")
	tt, reason, details, status := d.str("targetType"), d.str("reason"), d.str("details"), d.str("status")
	created := d.created(x)
	if status == "" {
		status = "pending"
	}
	switch {
	case d.err != "":
		b.reject("contentreports", x.String(), d.err)
		return
	case !ok1 || !ok2:
		b.reject("contentreports", x.String(), "reporterId or targetId missing")
		return
	case tt != "post" && tt != "user":
		b.reject("contentreports", x.String(), "targetType is neither post nor user")
		return
	case strings.TrimSpace(reason) == "":
		b.reject("contentreports", x.String(), "reason empty")
		return
	case !reportStatuses[status]:
		b.reject("contentreports", x.String(), "status unknown")
		return
	case !r.known(reporter) || (tt == "user" && !r.known(target)):
		b.reject("contentreports", x.String(), "reporter or reported user not found (dangling reference)")
		return
	}
	// A user report's reason column holds 100 characters (the user
	// service's limit): a longer legacy reason is kept whole at the head
	// of details instead of being cut.
	if tt == "user" && utf8.RuneCountInString(reason) > 100 {
		details = strings.TrimSpace(reason + "\n\n" + details)
		reason = string([]rune(reason)[:100])
		st.note("normalised reason: over 100 characters, kept whole in details", 1)
		st.Normalised++
	}
	if tt == "user" && utf8.RuneCountInString(details) > 1000 {
		b.reject("contentreports", x.String(), "details over 1000 characters (the user_reports limit)")
		return
	}
	if k := "report:" + tt + target.String() + reporter.String(); b.ids[k] != "" {
		st.skip("duplicate report of the same target by the same reporter", 1)
		return
	} else {
		b.ids[k] = x.String()
	}
	b.add("imp_reports", x.String(), reporter.String(), tt, target.String(), reason, details, status, created)
}

func writeReports(ctx context.Context, r *run, tx pgx.Tx, b *batch) error {
	if err := copyRows(ctx, tx, b, "imp_reports", "id", "reporter_id", "target_type", "target_id", "reason", "details", "status", "created_at"); err != nil {
		return err
	}
	st := b.st("contentreports")
	n, err := count(ctx, tx, `SELECT count(*) FROM imp_reports i WHERE NOT EXISTS (SELECT 1 FROM users WHERE id = i.reporter_id)
		OR (i.target_type = 'user' AND NOT EXISTS (SELECT 1 FROM users WHERE id = i.target_id))`)
	if err != nil {
		return err
	}
	st.reject("reporter or reported user not found (dangling reference)", n)
	dup, err := count(ctx, tx, `SELECT count(*) FROM imp_reports i WHERE i.target_type = 'post' AND EXISTS
		(SELECT 1 FROM post_reports p WHERE p.post_id = i.target_id AND p.reporter_id = i.reporter_id AND p.id <> i.id)`)
	if err != nil {
		return err
	}
	st.skip("duplicate report of the same target by the same reporter", dup)
	var posts, users int64
	if err := tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE target_type = 'post'), count(*) FILTER (WHERE target_type = 'user') FROM imp_reports i
		WHERE EXISTS (SELECT 1 FROM users WHERE id = i.reporter_id)`).Scan(&posts, &users); err != nil {
		return err
	}
	if err := upsert(ctx, tx, st, int(posts-dup), `
		INSERT INTO post_reports AS p (id, reporter_id, post_id, reason, details, status, created_at)
		SELECT i.id, i.reporter_id, i.target_id, i.reason, i.details, i.status, i.created_at FROM imp_reports i
		JOIN users u ON u.id = i.reporter_id
		WHERE i.target_type = 'post' AND NOT EXISTS
		  (SELECT 1 FROM post_reports p WHERE p.post_id = i.target_id AND p.reporter_id = i.reporter_id AND p.id <> i.id)
		ON CONFLICT (id) DO UPDATE SET reason = excluded.reason, details = excluded.details, status = excluded.status, created_at = excluded.created_at
		WHERE (p.reason, p.details, p.status, p.created_at) IS DISTINCT FROM (excluded.reason, excluded.details, excluded.status, excluded.created_at)
		RETURNING xmax = 0`); err != nil {
		return err
	}
	var ok bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass('user_reports') IS NOT NULL`).Scan(&ok); err != nil {
		return err
	}
	dangUser, err := count(ctx, tx, `SELECT count(*) FROM imp_reports i WHERE i.target_type = 'user' AND EXISTS (SELECT 1 FROM users WHERE id = i.reporter_id)
		AND NOT EXISTS (SELECT 1 FROM users WHERE id = i.target_id)`)
	if err != nil {
		return err
	}
	users -= dangUser
	if !ok {
		st.skip("user report: table user_reports missing in PostgreSQL (its migration is not applied)", users)
		return nil
	}
	return upsert(ctx, tx, st, int(users), `
		INSERT INTO user_reports AS p (id, reporter_id, target_id, reason, details, status, created_at)
		SELECT i.id, i.reporter_id, i.target_id, i.reason, i.details, i.status, i.created_at FROM imp_reports i
		JOIN users u ON u.id = i.reporter_id JOIN users t ON t.id = i.target_id
		WHERE i.target_type = 'user'
		ON CONFLICT (id) DO UPDATE SET reason = excluded.reason, details = excluded.details, status = excluded.status, created_at = excluded.created_at
		WHERE (p.reason, p.details, p.status, p.created_at) IS DISTINCT FROM (excluded.reason, excluded.details, excluded.status, excluded.created_at)
		RETURNING xmax = 0`)
}
