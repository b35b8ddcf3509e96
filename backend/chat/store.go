package chat

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/db"
	"github.com/infliq/infliq/backend/platform/id"
)

// store is the pgx implementation of the chat tables. It reads users and
// blocks (owned by the user service) in the documented read models below.
type store struct {
	db *pgxpool.Pool
}

// member is a participant as shown in chat payloads.
type member struct {
	ID, Name, Picture string
	Verified          bool
}

// message is a stored message.
type message struct {
	ID, ChatID, SenderID, Text, Type, CallID, ClientMessageID string
	CreatedAt                                                 time.Time
}

// chatRow is a chat as one member sees it.
type chatRow struct {
	ID, Type      string
	LastMessageAt time.Time
	CreatedAt     time.Time
	Last          *message
	Unread        int32
	Members       []member
}

var errNotMember = apperr.NotFound("Chat not found or access denied").WithReason("NOT_FOUND")

// blockedSQL is the documented read model of blocks: true when either user
// blocked the other.
const blockedSQL = `EXISTS (SELECT 1 FROM blocks WHERE (blocker_id = $1 AND blocked_id = $2) OR (blocker_id = $2 AND blocked_id = $1))`

func directKey(a, b id.ID) string {
	x, y := a.String(), b.String()
	if x > y {
		x, y = y, x
	}
	return x + ":" + y
}

// createChat creates a chat of typ with members (creator first), or returns
// the existing direct chat of the pair.
func (s *store) createChat(ctx context.Context, typ string, creator id.ID, members []id.ID) (string, bool, error) {
	chatID := id.New().String()
	created := true
	err := db.InTx(ctx, s.db, func(tx pgx.Tx) error {
		var key *string
		if typ == "chat" {
			k := directKey(members[0], members[1])
			key = &k
			var blocked bool
			if err := tx.QueryRow(ctx, `SELECT `+blockedSQL, members[0].String(), members[1].String()).Scan(&blocked); err != nil {
				return err
			}
			if blocked {
				return apperr.NotFound("User not found").WithReason("NOT_FOUND")
			}
			var existing string
			err := tx.QueryRow(ctx, `
				INSERT INTO chats (id, type, direct_key, created_by) VALUES ($1, 'chat', $2, $3)
				ON CONFLICT (direct_key) DO NOTHING RETURNING id`, chatID, k, creator.String()).Scan(&existing)
			if db.IsNoRows(err) {
				created = false
				return tx.QueryRow(ctx, `SELECT id FROM chats WHERE direct_key = $1`, k).Scan(&chatID)
			}
			if err != nil {
				return err
			}
		} else {
			if _, err := tx.Exec(ctx, `INSERT INTO chats (id, type, direct_key, created_by) VALUES ($1, $2, $3, $4)`,
				chatID, typ, key, creator.String()); err != nil {
				return err
			}
		}
		ids := make([]string, len(members))
		for i, m := range members {
			ids[i] = m.String()
		}
		_, err := tx.Exec(ctx, `
			INSERT INTO chat_members (chat_id, user_id)
			SELECT $1, u FROM unnest($2::text[]) AS u ON CONFLICT DO NOTHING`, chatID, ids)
		if db.IsForeignKeyViolation(err) {
			return apperr.NotFound("User not found").WithReason("NOT_FOUND")
		}
		return err
	})
	if err != nil {
		var ae *apperr.Error
		if errors.As(err, &ae) {
			return "", false, ae
		}
		return "", false, apperr.Internal(err)
	}
	return chatID, created, nil
}

// isMember reports whether uid belongs to chatID.
func (s *store) isMember(ctx context.Context, chatID, uid string) (bool, error) {
	var ok bool
	err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM chat_members WHERE chat_id = $1 AND user_id = $2)`, chatID, uid).Scan(&ok)
	return ok, err
}

const chatCols = `
	c.id, c.type, c.last_message_at, c.created_at,
	lm.id, lm.sender_id, lm.text, lm.type, lm.call_id, lm.client_message_id, lm.created_at,
	(SELECT count(*) FROM messages m WHERE m.chat_id = c.id AND m.sender_id <> cm.user_id
	   AND (cm.last_read_id IS NULL OR m.id > cm.last_read_id))::int`

func scanChat(row pgx.Row) (*chatRow, error) {
	var c chatRow
	var lid, lsender, ltext, ltype, lcall, lcmid *string
	var lat *time.Time
	if err := row.Scan(&c.ID, &c.Type, &c.LastMessageAt, &c.CreatedAt, &lid, &lsender, &ltext, &ltype, &lcall, &lcmid, &lat, &c.Unread); err != nil {
		return nil, err
	}
	if lid != nil {
		c.Last = &message{ID: *lid, ChatID: c.ID, SenderID: deref(lsender), Text: deref(ltext), Type: deref(ltype),
			CallID: deref(lcall), ClientMessageID: deref(lcmid), CreatedAt: *lat}
	}
	return &c, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// getChat loads one chat as uid sees it; errNotMember unless uid is a member.
func (s *store) getChat(ctx context.Context, chatID, uid string) (*chatRow, error) {
	c, err := scanChat(s.db.QueryRow(ctx, `SELECT `+chatCols+`
		FROM chat_members cm JOIN chats c ON c.id = cm.chat_id
		LEFT JOIN messages lm ON lm.chat_id = c.id AND lm.id = c.last_message_id
		  AND NOT EXISTS (SELECT 1 FROM message_hidden h WHERE h.chat_id = lm.chat_id AND h.message_id = lm.id)
		WHERE cm.chat_id = $1 AND cm.user_id = $2`, chatID, uid))
	if db.IsNoRows(err) {
		return nil, errNotMember
	}
	if err != nil {
		return nil, apperr.Internal(err)
	}
	if err := s.fillMembers(ctx, []*chatRow{c}); err != nil {
		return nil, err
	}
	return c, nil
}

// cursor encodes the position after a chat in the list order.
func encodeCursor(c *chatRow) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.LastMessageAt.UnixMicro(), 10) + ":" + c.ID))
}

func decodeCursor(s string) (time.Time, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, "", err
	}
	us, cid, ok := strings.Cut(string(raw), ":")
	if !ok || !id.Valid(cid) {
		return time.Time{}, "", fmt.Errorf("bad cursor")
	}
	n, err := strconv.ParseInt(us, 10, 64)
	if err != nil {
		return time.Time{}, "", err
	}
	return time.UnixMicro(n), cid, nil
}

// listChats returns uid's chats by latest activity, and how many uid has.
func (s *store) listChats(ctx context.Context, uid, cursor string, limit int) ([]*chatRow, string, int32, error) {
	args := []any{uid, limit + 1}
	where := ""
	if cursor != "" {
		at, cid, err := decodeCursor(cursor)
		if err != nil {
			return nil, "", 0, apperr.BadRequest("Invalid cursor")
		}
		args = append(args, at, cid)
		where = ` AND (c.last_message_at, c.id) < ($3, $4)`
	}
	rows, err := s.db.Query(ctx, `SELECT `+chatCols+`
		FROM chat_members cm JOIN chats c ON c.id = cm.chat_id
		LEFT JOIN messages lm ON lm.chat_id = c.id AND lm.id = c.last_message_id
		  AND NOT EXISTS (SELECT 1 FROM message_hidden h WHERE h.chat_id = lm.chat_id AND h.message_id = lm.id)
		WHERE cm.user_id = $1`+where+`
		ORDER BY c.last_message_at DESC, c.id DESC LIMIT $2`, args...)
	if err != nil {
		return nil, "", 0, apperr.Internal(err)
	}
	var out []*chatRow
	for rows.Next() {
		c, err := scanChat(rows)
		if err != nil {
			rows.Close()
			return nil, "", 0, apperr.Internal(err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, "", 0, apperr.Internal(err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = encodeCursor(out[limit-1])
	}
	var total int32
	if err := s.db.QueryRow(ctx, `SELECT count(*)::int FROM chat_members WHERE user_id = $1`, uid).Scan(&total); err != nil {
		return nil, "", 0, apperr.Internal(err)
	}
	if err := s.fillMembers(ctx, out); err != nil {
		return nil, "", 0, err
	}
	return out, next, total, nil
}

// fillMembers populates participants from users (the user service's
// table, read here in one query).
func (s *store) fillMembers(ctx context.Context, chats []*chatRow) error {
	if len(chats) == 0 {
		return nil
	}
	ids := make([]string, len(chats))
	byID := make(map[string]*chatRow, len(chats))
	for i, c := range chats {
		ids[i] = c.ID
		byID[c.ID] = c
	}
	rows, err := s.db.Query(ctx, `
		SELECT cm.chat_id, u.id, u.name, u.profile_picture, u.is_verified
		FROM chat_members cm JOIN users u ON u.id = cm.user_id
		WHERE cm.chat_id = ANY($1::text[]) ORDER BY cm.chat_id, cm.joined_at, u.id`, ids)
	if err != nil {
		return apperr.Internal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var cid string
		var m member
		if err := rows.Scan(&cid, &m.ID, &m.Name, &m.Picture, &m.Verified); err != nil {
			return apperr.Internal(err)
		}
		if c := byID[cid]; c != nil {
			c.Members = append(c.Members, m)
		}
	}
	if err := rows.Err(); err != nil {
		return apperr.Internal(err)
	}
	return nil
}

// notHidden skips messages moderation hid (message_hidden, migration 05050).
const notHidden = `NOT EXISTS (SELECT 1 FROM message_hidden h WHERE h.chat_id = messages.chat_id AND h.message_id = messages.id)`

const msgCols = `id, chat_id, sender_id, text, type, coalesce(call_id, ''), coalesce(client_message_id, ''), created_at`

func scanMessages(rows pgx.Rows) ([]*message, error) {
	defer rows.Close()
	var out []*message
	for rows.Next() {
		var m message
		if err := rows.Scan(&m.ID, &m.ChatID, &m.SenderID, &m.Text, &m.Type, &m.CallID, &m.ClientMessageID, &m.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, &m)
	}
	return out, rows.Err()
}

// listMessages returns one page, ascending, and whether more exist in the
// direction asked. The caller checked membership.
func (s *store) listMessages(ctx context.Context, chatID, beforeID, afterID string, beforeTime *time.Time, limit int) ([]*message, bool, error) {
	var rows pgx.Rows
	var err error
	if afterID != "" {
		rows, err = s.db.Query(ctx, `SELECT `+msgCols+` FROM messages WHERE chat_id = $1 AND id > $2 AND `+notHidden+` ORDER BY id ASC LIMIT $3`,
			chatID, afterID, limit+1)
	} else {
		rows, err = s.db.Query(ctx, `SELECT `+msgCols+` FROM messages
			WHERE chat_id = $1 AND ($2 = '' OR id < $2) AND ($3::timestamptz IS NULL OR created_at < $3) AND `+notHidden+`
			ORDER BY id DESC LIMIT $4`, chatID, beforeID, beforeTime, limit+1)
	}
	if err != nil {
		return nil, false, apperr.Internal(err)
	}
	out, err := scanMessages(rows)
	if err != nil {
		return nil, false, apperr.Internal(err)
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	if afterID == "" {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out, more, nil
}

// sendInput is one message to append.
type sendInput struct {
	ChatID, SenderID, Text, Type, CallID, ClientMessageID string
	// CheckSender enforces membership and blocks (every user send; call logs skip it).
	CheckSender bool
}

// appendSQL stores a batch of messages in one statement (see appendMany):
// the arrays $1..$8 are the items, unnested in order. Per item it reads the
// chat's members and the block between a direct chat's two members (the
// documented read model of blocks), and inserts the message when the sender
// may write; then it moves each chat's last message and each sender's read
// marker forward to the newest message of the batch (never backward under
// concurrent sends). One statement instead of one per message: the per-
// statement executor work was most of PostgreSQL's cost per message.
// Duplicates of a client message id, earlier or in the same batch, are
// skipped by ON CONFLICT and answered by appendResult.
const appendSQL = `
		WITH inp AS (
		  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bool[])
		    WITH ORDINALITY AS t(chat_id, id, sender_id, text, type, call_id, cmid, check_sender, n)
		), chk AS (
		  SELECT inp.*, k.members, k.is_member, k.blocked
		  FROM inp CROSS JOIN LATERAL (
		    SELECT coalesce(array_agg(cm.user_id::text), '{}') AS members,
		           coalesce(bool_or(cm.user_id = inp.sender_id), false) AS is_member,
		           count(*) = 2 AND EXISTS (
		             SELECT 1 FROM chat_members o JOIN blocks b
		               ON (b.blocker_id = inp.sender_id AND b.blocked_id = o.user_id) OR (b.blocker_id = o.user_id AND b.blocked_id = inp.sender_id)
		             WHERE o.chat_id = inp.chat_id AND o.user_id <> inp.sender_id) AS blocked
		    FROM chat_members cm WHERE cm.chat_id = inp.chat_id
		  ) k
		), ins AS (
		  INSERT INTO messages (chat_id, id, sender_id, text, type, call_id, client_message_id)
		  SELECT chat_id, id, sender_id, text, type, call_id, cmid FROM chk
		  WHERE cardinality(members) > 0 AND (NOT check_sender OR (is_member AND NOT blocked))
		  ORDER BY n
		  ON CONFLICT (chat_id, sender_id, client_message_id) WHERE client_message_id IS NOT NULL DO NOTHING
		  RETURNING chat_id, id, sender_id, created_at
		), c AS (
		  UPDATE chats SET last_message_id = x.id, last_message_at = x.created_at
		  FROM (SELECT chat_id, max(id) AS id, max(created_at) AS created_at FROM ins GROUP BY chat_id) x
		  WHERE chats.id = x.chat_id AND (chats.last_message_id IS NULL OR chats.last_message_id < x.id)
		), r AS (
		  UPDATE chat_members m SET last_read_id = GREATEST(m.last_read_id, x.id)
		  FROM (SELECT chat_id, sender_id, max(id) AS id FROM ins GROUP BY chat_id, sender_id) x
		  WHERE m.chat_id = x.chat_id AND m.user_id = x.sender_id
		)
		SELECT chk.n, chk.members, chk.is_member, chk.blocked, ins.created_at
		FROM chk LEFT JOIN ins ON ins.id = chk.id
		ORDER BY chk.n`

// lockChatsSQL serializes the batches that share a chat before appendSQL
// updates the chat and member rows in whatever order its plan visits them,
// so concurrent batches sharing chats queue instead of deadlocking. Needed
// for a batch of one chat too: appendSQL may update a member row before its
// chat (PostgreSQL orders its data-modifying CTEs itself), and concurrent
// tests deadlocked that way; with the chat's lock taken first, its rows are
// only ever written by the holder. The locks are transaction-level advisory
// locks on a hash of each chat id, taken in hash order (so two batches take
// any two locks in the same order): they held the rows back as well as
// row locks (SELECT … FOR NO KEY UPDATE) did, and cost far less (a row
// lock writes the tuple and a WAL record, before appendSQL rewrites the same
// row: that was 20–25 % of PostgreSQL's CPU for a five-message batch). The
// chat and member rows have no other multi-row writer that could wait on a
// batch in another order (markRead writes one member row, createChat only
// inserts).
//
// It also makes the rest of the transaction use generic plans: under
// plan_cache_mode=auto PostgreSQL re-planned appendSQL for every batch
// (~0.5 ms of CPU per batch, about half of a small batch's cost in
// PostgreSQL), while its generic plan is the same index-driven plan
// whatever the arrays hold. set_config(…, true) lasts until the commit.
const lockChatsSQL = `
		SELECT count(pg_advisory_xact_lock(k)), set_config('plan_cache_mode', 'force_generic_plan', true)
		FROM (SELECT DISTINCT hashtextextended('chat:' || c, 0) AS k FROM unnest($1::text[]) AS c ORDER BY k) keys`

// appendRow is appendSQL's result for one item.
type appendRow struct {
	members         []string
	isMember, block bool
	created         *time.Time // nil when not inserted
}

// appendMany runs appendSQL over ins (ids[i] is ins[i]'s new message id) in
// one implicit transaction (pgx sends a batch as one pipeline ending in one
// Sync: one commit) and returns one row per item. On error nothing was
// stored.
func (s *store) appendMany(ctx context.Context, ins []sendInput, ids []string) ([]appendRow, error) {
	n := len(ins)
	chatIDs, senders, texts, types := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	callIDs, cmids, checks := make([]*string, n), make([]*string, n), make([]bool, n)
	for i := range ins {
		in := &ins[i]
		chatIDs[i], senders[i], texts[i], types[i], checks[i] = in.ChatID, in.SenderID, in.Text, in.Type, in.CheckSender
		if in.CallID != "" {
			callIDs[i] = &in.CallID
		}
		if in.ClientMessageID != "" {
			cmids[i] = &in.ClientMessageID
		}
	}
	b := &pgx.Batch{}
	b.Queue(lockChatsSQL, chatIDs)
	b.Queue(appendSQL, chatIDs, ids, senders, texts, types, callIDs, cmids, checks)
	br := s.db.SendBatch(ctx, b)
	rows, err := func() ([]appendRow, error) {
		if _, err := br.Exec(); err != nil {
			return nil, err
		}
		q, err := br.Query()
		if err != nil {
			return nil, err
		}
		defer q.Close()
		out := make([]appendRow, n)
		for q.Next() {
			var k int64
			var r appendRow
			if err := q.Scan(&k, &r.members, &r.isMember, &r.block, &r.created); err != nil {
				return nil, err
			}
			if k < 1 || int(k) > n {
				return nil, fmt.Errorf("chat: append row %d of %d", k, n)
			}
			out[k-1] = r
		}
		return out, q.Err()
	}()
	// Close reads up to ReadyForQuery: the transaction has committed.
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return rows, nil
}

// appendResult turns a committed appendRow of item in (message id mid) into
// the stored message, the chat's member ids and whether it was a duplicate.
// A send whose client message id was stored before (earlier, or by an
// earlier item of the same batch) returns that first message, read after
// the commit.
func (s *store) appendResult(ctx context.Context, in sendInput, mid string, r *appendRow) (*message, []string, bool, error) {
	if len(r.members) == 0 || (in.CheckSender && !r.isMember) {
		return nil, nil, false, errNotMember
	}
	if in.CheckSender && r.block {
		return nil, nil, false, apperr.Forbidden("You cannot message this user").WithReason("FORBIDDEN")
	}
	if r.created != nil {
		m := message{ID: mid, ChatID: in.ChatID, SenderID: in.SenderID, Text: in.Text, Type: in.Type,
			CallID: in.CallID, ClientMessageID: in.ClientMessageID, CreatedAt: *r.created}
		return &m, r.members, false, nil
	}
	rows, err := s.db.Query(ctx, `SELECT `+msgCols+` FROM messages WHERE chat_id = $1 AND sender_id = $2 AND client_message_id = $3`,
		in.ChatID, in.SenderID, in.ClientMessageID)
	if err != nil {
		return nil, nil, false, apperr.Internal(err)
	}
	got, err := scanMessages(rows)
	if err != nil || len(got) == 0 {
		return nil, nil, false, apperr.Internal(fmt.Errorf("chat: idempotent message not found: %v", err))
	}
	return got[0], r.members, true, nil
}

// appendMessage stores one message in its own transaction and returns it
// with the chat's member ids. A retry with the same client message id
// returns the first message and duplicate=true.
func (s *store) appendMessage(ctx context.Context, in sendInput, mid string) (*message, []string, bool, error) {
	rows, err := s.appendMany(ctx, []sendInput{in}, []string{mid})
	if err != nil {
		return nil, nil, false, apperr.Internal(err)
	}
	return s.appendResult(ctx, in, mid, &rows[0])
}

// markRead moves uid's marker to msgID (or the latest message) and returns
// the marker and the chat's members.
func (s *store) markRead(ctx context.Context, chatID, uid, msgID string) (string, []string, error) {
	var marker *string
	err := s.db.QueryRow(ctx, `
		UPDATE chat_members cm SET last_read_id = GREATEST(cm.last_read_id, m.id)
		FROM (SELECT coalesce(
		        (SELECT id FROM messages WHERE chat_id = $1 AND id = nullif($3, '')),
		        (SELECT last_message_id FROM chats WHERE id = $1 AND $3 = '')) AS id) m
		WHERE cm.chat_id = $1 AND cm.user_id = $2
		RETURNING cm.last_read_id`, chatID, uid, msgID).Scan(&marker)
	if db.IsNoRows(err) {
		return "", nil, errNotMember
	}
	if err != nil {
		return "", nil, apperr.Internal(err)
	}
	rows, err := s.db.Query(ctx, `SELECT user_id FROM chat_members WHERE chat_id = $1`, chatID)
	if err != nil {
		return "", nil, apperr.Internal(err)
	}
	members, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", nil, apperr.Internal(err)
	}
	return deref(marker), members, nil
}
