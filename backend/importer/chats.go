package importer

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/infliq/infliq/backend/platform/id"
)

// chats imports chats, their members and their embedded messages; each
// message keeps its own ObjectId.
func chatsJob() job {
	return job{name: "chats", coll: "chats", since: []string{"createdAt", "updatedAt", "lastMessageAt"}, build: buildChat, write: writeChats}
}

var messageTypes = map[string]bool{"text": true, "call-started": true, "call-ended": true, "call-missed": true}

func buildChat(r *run, b *batch, d *doc, x id.ID) {
	typ := d.str("type")
	if typ == "" {
		typ = "chat"
	}
	members, bad := d.ids("participants")
	lastAt := d.time("lastMessageAt")
	created := d.created(x)
	msgs := d.values("messages")
	switch {
	case d.err != "":
		b.reject("chats", x.String(), d.err)
		return
	case typ != "chat" && typ != "community" && typ != "debate":
		b.reject("chats", x.String(), "type is not chat, community or debate")
		return
	}
	uniq := uniqueRefs(b.st("chats.members"), members, bad, "participant", r.plan.users)
	for _, m := range uniq {
		b.add("imp_members", x.String(), m.String(), created)
	}
	// A direct chat is keyed by its pair. Legacy created duplicates of a
	// pair (and "chats" of other sizes); the first keeps the pair key, the
	// others get a key of their own so their history survives.
	var pair any
	if typ == "chat" {
		k := "legacy:" + x.String()
		if len(uniq) == 2 {
			a, c := uniq[0].String(), uniq[1].String()
			if a > c {
				a, c = c, a
			}
			if _, dup := b.ids["pair:"+a+":"+c]; !dup {
				k = a + ":" + c
				b.ids["pair:"+k] = x.String()
			}
		}
		pair = k
	}
	var creator any
	if len(uniq) > 0 {
		creator = uniq[0].String()
	}
	ss := b.st("chats.messages")
	var last id.ID
	var lastMsgAt time.Time
	seen := make(map[id.ID]bool, len(msgs))
	for _, v := range msgs {
		ss.Read++
		md, ok := v.DocumentOK()
		if !ok {
			ss.reject("message is not a document", 1)
			continue
		}
		m := &doc{raw: md}
		mid, ok := m.docID()
		if !ok {
			ss.reject("message _id is not an ObjectId", 1)
			continue
		}
		sender, ok := m.oid("senderId")
		text := m.text("text")
		mt := m.str("type")
		if mt == "" {
			mt = "text"
		}
		var call any
		if c, ok := m.oid("callId"); ok {
			call = c.String()
		}
		at := m.created(mid)
		item := x.String() + "/" + mid.String()
		switch {
		case m.err != "":
			b.reject("chats.messages", item, "message "+m.err)
			continue
		case !ok:
			b.reject("chats.messages", item, "message senderId missing")
			continue
		case !messageTypes[mt]:
			b.reject("chats.messages", item, "message type unknown")
			continue
		case seen[mid]:
			b.reject("chats.messages", item, "message _id repeated within the chat")
			continue
		}
		seen[mid] = true
		b.normalised("chats.messages", m)
		b.add("imp_messages", x.String(), mid.String(), sender.String(), text, mt, call, at)
		if !at.Before(lastMsgAt) {
			last, lastMsgAt = mid, at
		}
	}
	if lastAt.IsZero() {
		lastAt = lastMsgAt
	}
	if lastAt.IsZero() {
		lastAt = created
	}
	b.add("imp_chats", x.String(), typ, pair, creator, nzid(last), lastAt, created)
}

func writeChats(ctx context.Context, r *run, tx pgx.Tx, b *batch) error {
	if err := copyRows(ctx, tx, b, "imp_chats", "id", "type", "pair_key", "created_by", "last_message_id", "last_message_at", "created_at"); err != nil {
		return err
	}
	// A pair already held by another chat (an earlier batch or run) keeps
	// it; this chat gets its own key.
	if _, err := tx.Exec(ctx, `UPDATE imp_chats i SET pair_key = 'legacy:' || i.id
		WHERE EXISTS (SELECT 1 FROM chats c WHERE c.direct_key = i.pair_key AND c.id <> i.id)`); err != nil {
		return err
	}
	if err := upsert(ctx, tx, b.st("chats"), len(b.data["imp_chats"]), `
		INSERT INTO chats AS c (id, type, direct_key, created_by, last_message_id, last_message_at, created_at)
		SELECT id, type, pair_key, created_by, last_message_id, last_message_at, created_at FROM imp_chats
		ON CONFLICT (id) DO UPDATE SET type = excluded.type, direct_key = excluded.direct_key, created_by = excluded.created_by,
		  last_message_id = excluded.last_message_id, last_message_at = excluded.last_message_at, created_at = excluded.created_at
		WHERE (c.type, c.direct_key, c.created_by, c.last_message_id, c.last_message_at, c.created_at) IS DISTINCT FROM
		  (excluded.type, excluded.direct_key, excluded.created_by, excluded.last_message_id, excluded.last_message_at, excluded.created_at)
		RETURNING xmax = 0`); err != nil {
		return err
	}
	if err := copyRows(ctx, tx, b, "imp_members", "chat_id", "user_id", "joined_at"); err != nil {
		return err
	}
	if err := childRows(ctx, tx, b.st("chats.members"), len(b.data["imp_members"]), `chat_members (chat_id, user_id, joined_at)`,
		`SELECT m.chat_id, m.user_id, m.joined_at FROM imp_members m JOIN users u ON u.id = m.user_id`); err != nil {
		return err
	}
	if err := copyRows(ctx, tx, b, "imp_messages", "chat_id", "id", "sender_id", "text", "type", "call_id", "created_at"); err != nil {
		return err
	}
	// Senders are not checked: a deleted user's messages stay in the chat.
	return upsert(ctx, tx, b.st("chats.messages"), len(b.data["imp_messages"]), `
		INSERT INTO messages AS m (chat_id, id, sender_id, text, type, call_id, created_at)
		SELECT chat_id, id, sender_id, text, type, call_id, created_at FROM imp_messages
		ON CONFLICT (chat_id, id) DO UPDATE SET sender_id = excluded.sender_id, text = excluded.text, type = excluded.type,
		  call_id = excluded.call_id, created_at = excluded.created_at
		WHERE (m.sender_id, m.text, m.type, m.call_id, m.created_at) IS DISTINCT FROM
		  (excluded.sender_id, excluded.text, excluded.type, excluded.call_id, excluded.created_at)
		RETURNING xmax = 0`)
}
