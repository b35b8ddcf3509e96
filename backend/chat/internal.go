package chat

import (
	"context"
	"strings"
	"unicode/utf8"

	"connectrpc.com/connect"

	chatv1 "github.com/infliq/infliq/backend/gen/infliq/chat/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/safetext"
)

// Internal implements chatv1connect.ChatInternalServiceHandler. The authn
// middleware admits only callers holding the internal token.
type Internal struct {
	svc *Service
}

// SendMessageAs sends as sender_id, with the same membership, block and
// idempotency rules as SendMessage.
func (s *Internal) SendMessageAs(ctx context.Context, req *connect.Request[chatv1.SendMessageAsRequest]) (*connect.Response[chatv1.SendMessageAsResponse], error) {
	if err := s.svc.limit.check(ctx, s.svc.log, strings.ToLower(req.Msg.GetSenderId())); err != nil {
		return nil, err
	}
	msg, dup, err := s.svc.send(ctx, strings.ToLower(req.Msg.GetSenderId()), req.Msg.GetMessage())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&chatv1.SendMessageAsResponse{Message: msg, Duplicate: dup}), nil
}

// SendMessagesAs is SendMessageAs for each item, with per-item results:
// the valid items go to the group commit together (usually one batch, one
// commit), and an invalid or refused item fails alone.
func (s *Internal) SendMessagesAs(ctx context.Context, req *connect.Request[chatv1.SendMessagesAsRequest]) (*connect.Response[chatv1.SendMessagesAsResponse], error) {
	items := req.Msg.GetItems()
	results := make([]*chatv1.SendMessagesAsResult, len(items))
	ins := make([]sendInput, 0, len(items))
	at := make([]int, 0, len(items)) // ins[j] answers items[at[j]]
	senders := make([]string, len(items))
	for i, it := range items {
		senders[i] = it.GetSenderId()
	}
	limited := s.svc.limit.checkMany(ctx, s.svc.log, senders)
	for i, it := range items {
		if limited[i] != nil {
			results[i] = itemError(limited[i])
			continue
		}
		in, err := itemInput(it)
		if err != nil {
			results[i] = itemError(err)
			continue
		}
		ins = append(ins, in)
		at = append(at, i)
	}
	if len(ins) > 0 {
		for j, res := range s.svc.sends.sendMany(ctx, ins) {
			if res.err != nil {
				if ae := apperr.From(res.err); ae.Code == connect.CodeInternal || ae.Code == connect.CodeUnavailable {
					s.svc.log.WarnContext(ctx, "chat: batched send failed", "err", res.err)
				}
				results[at[j]] = itemError(res.err)
				continue
			}
			results[at[j]] = &chatv1.SendMessagesAsResult{Result: &chatv1.SendMessagesAsResult_Sent{
				Sent: &chatv1.SendMessageAsResponse{Message: messageProto(res.msg), Duplicate: res.dup}}}
		}
	}
	return connect.NewResponse(&chatv1.SendMessagesAsResponse{Results: results}), nil
}

// itemInput applies SendMessageAsRequest's validation rules and send's
// trimming to one item. The rules are checked here rather than declared on
// the item, where the validate interceptor would fail the whole batch.
func itemInput(it *chatv1.SendMessagesAsItem) (sendInput, error) {
	sender, chatID := strings.ToLower(it.GetSenderId()), strings.ToLower(it.GetChatId())
	if !id.Valid(sender) || !id.Valid(chatID) {
		return sendInput{}, apperr.BadRequest("Invalid id")
	}
	if n := utf8.RuneCountInString(it.GetText()); n < 1 || n > int(Limits.MaxMessageLength) {
		return sendInput{}, apperr.BadRequest("Message text must be 1 to 4000 characters")
	}
	for _, f := range []struct{ name, v string }{{"text", it.GetText()}, {"client_message_id", it.GetClientMessageId()}} {
		if why := safetext.String(f.v); why != "" { // the interceptor leaves batches to us
			return sendInput{}, apperr.BadRequest(f.name + " " + why)
		}
	}
	if utf8.RuneCountInString(it.GetClientMessageId()) > 128 {
		return sendInput{}, apperr.BadRequest("Client message id too long")
	}
	text := strings.TrimSpace(it.GetText())
	if text == "" {
		return sendInput{}, apperr.BadRequest("Message text is required")
	}
	return sendInput{ChatID: chatID, SenderID: sender, Text: text, Type: "text",
		ClientMessageID: it.GetClientMessageId(), CheckSender: true}, nil
}

// itemError is err as a per-item result: its Connect code and public
// message (internal causes are not exposed, as for a whole RPC).
func itemError(err error) *chatv1.SendMessagesAsResult {
	ae := apperr.From(err)
	return &chatv1.SendMessagesAsResult{Result: &chatv1.SendMessagesAsResult_Error{
		Error: &chatv1.SendMessagesAsError{Code: ae.Code.String(), Message: ae.Msg}}}
}

// CheckMember reports membership.
func (s *Internal) CheckMember(ctx context.Context, req *connect.Request[chatv1.CheckMemberRequest]) (*connect.Response[chatv1.CheckMemberResponse], error) {
	ok, err := s.svc.st.isMember(ctx, strings.ToLower(req.Msg.GetChatId()), strings.ToLower(req.Msg.GetUserId()))
	if err != nil {
		return nil, apperr.Internal(err)
	}
	return connect.NewResponse(&chatv1.CheckMemberResponse{Member: ok}), nil
}

// AppendSystemMessage writes a call log into the pair's direct chat,
// creating the chat when the two never talked, and publishes it.
func (s *Internal) AppendSystemMessage(ctx context.Context, req *connect.Request[chatv1.AppendSystemMessageRequest]) (*connect.Response[chatv1.AppendSystemMessageResponse], error) {
	m := req.Msg
	sender, _ := id.Parse(strings.ToLower(m.GetSenderId()))
	peer, _ := id.Parse(strings.ToLower(m.GetPeerId()))
	if sender == peer {
		return nil, apperr.BadRequest("Sender and peer must differ")
	}
	chatID, _, err := s.svc.st.createChat(ctx, "chat", sender, []id.ID{sender, peer})
	if err != nil {
		return nil, err
	}
	stored, _, _, err := s.svc.sends.send(ctx, sendInput{
		ChatID: chatID, SenderID: sender.String(), Text: m.GetText(), Type: msgTypeNames[m.GetType()], CallID: strings.ToLower(m.GetCallId()),
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&chatv1.AppendSystemMessageResponse{Message: messageProto(stored)}), nil
}

// SetMessageHidden hides or shows one message for every reader ('removed').
func (s *Internal) SetMessageHidden(ctx context.Context, req *connect.Request[chatv1.SetMessageHiddenRequest]) (*connect.Response[chatv1.SetMessageHiddenResponse], error) {
	mid := strings.ToLower(req.Msg.GetMessageId())
	var found bool
	var err error
	if req.Msg.GetHidden() {
		err = s.svc.st.db.QueryRow(ctx, `WITH t AS (SELECT chat_id, id FROM messages WHERE id = $1),
			ins AS (INSERT INTO message_hidden (chat_id, message_id, cause) SELECT chat_id, id, 'removed' FROM t ON CONFLICT DO NOTHING)
			SELECT EXISTS (SELECT 1 FROM t)`, mid).Scan(&found)
	} else {
		err = s.svc.st.db.QueryRow(ctx, `WITH d AS (DELETE FROM message_hidden WHERE message_id = $1 AND cause = 'removed')
			SELECT EXISTS (SELECT 1 FROM messages WHERE id = $1)`, mid).Scan(&found)
	}
	if err != nil {
		return nil, apperr.Internal(err)
	}
	return connect.NewResponse(&chatv1.SetMessageHiddenResponse{Found: found}), nil
}

// SetAuthorHidden hides or shows every message a suspended user sent ('author').
func (s *Internal) SetAuthorHidden(ctx context.Context, req *connect.Request[chatv1.SetAuthorHiddenRequest]) (*connect.Response[chatv1.SetAuthorHiddenResponse], error) {
	uid := strings.ToLower(req.Msg.GetUserId())
	var n int32
	var err error
	if req.Msg.GetHidden() {
		err = s.svc.st.db.QueryRow(ctx, `WITH c AS (INSERT INTO message_hidden (chat_id, message_id, cause)
			SELECT chat_id, id, 'author' FROM messages WHERE sender_id = $1 ON CONFLICT DO NOTHING RETURNING 1)
			SELECT count(*) FROM c`, uid).Scan(&n)
	} else {
		err = s.svc.st.db.QueryRow(ctx, `WITH c AS (DELETE FROM message_hidden h USING messages m
			WHERE h.chat_id = m.chat_id AND h.message_id = m.id AND m.sender_id = $1 AND h.cause = 'author' RETURNING 1)
			SELECT count(*) FROM c`, uid).Scan(&n)
	}
	if err != nil {
		return nil, apperr.Internal(err)
	}
	return connect.NewResponse(&chatv1.SetAuthorHiddenResponse{Changed: n}), nil
}
