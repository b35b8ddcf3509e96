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
		rows, err = s.db.Query(ctx, `SELECT `+msgCols+` FROM messages WHERE chat_id = $1 AND id > $2 ORDER BY id ASC LIMIT $3`,
			chatID, afterID, limit+1)
	} else {
		rows, err = s.db.Query(ctx, `SELECT `+msgCols+` FROM messages
			WHERE chat_id = $1 AND ($2 = '' OR id < $2) AND ($3::timestamptz IS NULL OR created_at < $3)
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

// appendSQL stores one message (see appendMessage). One statement (one
// round trip, atomic) reads the members and the block between a direct
// chat's two members (the documented read model of blocks), inserts the
// message when the sender may write, and moves the chat's last message and
// the sender's read marker forward (never backward under concurrent sends).
const appendSQL = `
		WITH chk AS (
		  SELECT coalesce(array_agg(cm.user_id::text), '{}') AS members,
		         coalesce(bool_or(cm.user_id = $3), false) AS is_member,
		         count(*) = 2 AND EXISTS (
		           SELECT 1 FROM chat_members o JOIN blocks b
		             ON (b.blocker_id = $3 AND b.blocked_id = o.user_id) OR (b.blocker_id = o.user_id AND b.blocked_id = $3)
		           WHERE o.chat_id = $1 AND o.user_id <> $3) AS blocked
		  FROM chat_members cm WHERE cm.chat_id = $1
		), ins AS (
		  INSERT INTO messages (chat_id, id, sender_id, text, type, call_id, client_message_id)
		  SELECT $1, $2, $3, $4, $5, $6, $7 FROM chk
		  WHERE cardinality(chk.members) > 0 AND (NOT $8::bool OR (chk.is_member AND NOT chk.blocked))
		  ON CONFLICT (chat_id, sender_id, client_message_id) WHERE client_message_id IS NOT NULL DO NOTHING
		  RETURNING *
		), c AS (
		  UPDATE chats SET last_message_id = ins.id, last_message_at = ins.created_at FROM ins
		  WHERE chats.id = ins.chat_id AND (chats.last_message_id IS NULL OR chats.last_message_id < ins.id)
		), r AS (
		  UPDATE chat_members m SET last_read_id = GREATEST(m.last_read_id, ins.id) FROM ins
		  WHERE m.chat_id = ins.chat_id AND m.user_id = ins.sender_id
		)
		SELECT chk.members, chk.is_member, chk.blocked,
		       ins.id, ins.sender_id, ins.text, ins.type, ins.call_id, ins.client_message_id, ins.created_at
		FROM chk LEFT JOIN ins ON true`

// appendArgs are appendSQL's arguments; the message id is made here, so
// ids follow the order in which sends reach the store.
func appendArgs(in sendInput) []any {
	var cmid, callID *string
	if in.ClientMessageID != "" {
		cmid = &in.ClientMessageID
	}
	if in.CallID != "" {
		callID = &in.CallID
	}
	return []any{in.ChatID, id.New().String(), in.SenderID, in.Text, in.Type, callID, cmid, in.CheckSender}
}

// appendRow is appendSQL's result.
type appendRow struct {
	members         []string
	isMember, block bool
	mid             *string
	callOut, cmOut  *string
	senderOut, text *string
	typ             *string
	created         *time.Time
}

func (r *appendRow) scan(row pgx.Row) error {
	return row.Scan(&r.members, &r.isMember, &r.block, &r.mid, &r.senderOut, &r.text, &r.typ, &r.callOut, &r.cmOut, &r.created)
}

// appendResult turns a committed appendRow into appendMessage's result. A
// retry with the same client message id finds the first message (read
// after the commit of the batch that saw the conflict).
func (s *store) appendResult(ctx context.Context, in sendInput, r *appendRow) (*message, []string, bool, error) {
	if len(r.members) == 0 || (in.CheckSender && !r.isMember) {
		return nil, nil, false, errNotMember
	}
	if in.CheckSender && r.block {
		return nil, nil, false, apperr.Forbidden("You cannot message this user").WithReason("FORBIDDEN")
	}
	if r.mid != nil {
		m := message{ID: *r.mid, ChatID: in.ChatID, SenderID: deref(r.senderOut), Text: deref(r.text), Type: deref(r.typ),
			CallID: deref(r.callOut), ClientMessageID: deref(r.cmOut), CreatedAt: *r.created}
		return &m, r.members, false, nil
	}
	// The same client message id was stored before: return that message.
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
// returns the first message and duplicate=true. args are appendArgs(in).
func (s *store) appendMessage(ctx context.Context, in sendInput, args []any) (*message, []string, bool, error) {
	var r appendRow
	if err := r.scan(s.db.QueryRow(ctx, appendSQL, args...)); err != nil {
		return nil, nil, false, apperr.Internal(err)
	}
	return s.appendResult(ctx, in, &r)
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
