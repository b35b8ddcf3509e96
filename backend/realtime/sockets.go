package realtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"

	chatv1 "github.com/infliq/infliq/backend/gen/infliq/chat/v1"
	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	realtimev1 "github.com/infliq/infliq/backend/gen/infliq/realtime/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/safetext"
	"github.com/infliq/infliq/compat/legacyjson"
	"github.com/infliq/infliq/compat/socketio"
)

// conn is one legacy socket's state.
type conn struct {
	so  *socketio.Socket
	uid id.ID
	// who verified at connect; re-checked periodically (expiry, revocation)
	who authn.Principal

	mu      sync.Mutex
	closed  bool
	rooms   map[string]func() // joined chat id → leave its chat channel
	unsubUs func()
	// own holds the ids of this user's latest messages already given to
	// this socket: the sender's echo goes out with its ack (one write), and
	// the same message arriving from the bus is then skipped, or the other
	// way round when the bus is first.
	own    [8]string
	ownPos int
}

// firstDelivery records that message msgID (sent by c's user) reaches c now;
// false when it already did.
func (c *conn) firstDelivery(msgID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, x := range c.own {
		if x == msgID {
			return false
		}
	}
	c.own[c.ownPos] = msgID
	c.ownPos = (c.ownPos + 1) % len(c.own)
	return true
}

// Legacy ack errors (contract §C.2).
const (
	errInvalidChat = "Invalid chat ID"
	errNoAccess    = "Chat not found or access denied"
	errJoin        = "Failed to join chat"
	errPayload     = "Invalid payload"
	errSend        = "Failed to send message"
	errBlocked     = "You cannot message this user"
	errTooFast     = "Too many messages. Slow down and try again shortly."
)

const rpcTimeout = 5 * time.Second

func (s *Service) newSocketServer() *socketio.Server {
	c := s.o.Config
	limit := openFileLimit()
	capacity := maxSessions(c.MaxSessions, limit)
	s.log.Info("realtime: socket capacity", "max_sessions", capacity, "open_file_limit", limit)
	srv := socketio.NewServer(socketio.Options{
		MaxSessions:  capacity,
		PingInterval: c.PingInterval.D(),
		PingTimeout:  c.PingTimeout.D(),
		MaxPayload:   c.MaxPayload,
		Transport:    c.SocketTransport,
		CheckOrigin:  s.checkOrigin,
		Log:          s.log,
		Authenticate: s.authenticate,
		OnConnect:    s.onConnect,
		OnDisconnect: s.onDisconnect,
	})
	srv.On("join-chat", textChecked(s.joinChat, ""))
	srv.On("send-message", textChecked(s.sendMessage, "message-error"))
	srv.On("user-typing", textChecked(s.userTyping, ""))
	return srv
}

// textChecked refuses an event whose arguments hold a NUL or invalid UTF-8
// (checked on the raw bytes, before decoding could replace them) with the
// event's error, naming the field; nothing reaches a service.
func textChecked(h socketio.Handler, errEvent string) socketio.Handler {
	return func(so *socketio.Socket, args []json.RawMessage, ack socketio.AckFunc) {
		for _, a := range args {
			if err := safetext.JSON(a); err != nil {
				msg := errPayload + ": " + apperr.From(err).Msg
				fail(ack, msg)
				if errEvent != "" {
					var in struct {
						ChatID string `json:"chatId"`
					}
					_ = json.Unmarshal(a, &in)
					if !id.Valid(in.ChatID) {
						in.ChatID = ""
					}
					_ = so.Emit(errEvent, map[string]any{"chatId": in.ChatID, "error": msg})
				}
				return
			}
		}
		h(so, args, ack)
	}
}

var errUnauthorized = errors.New("Unauthorized")

// authenticate checks handshake.auth.token like a REST bearer token.
func (s *Service) authenticate(ctx context.Context, auth json.RawMessage) (any, error) {
	var a struct {
		Token string `json:"token"`
	}
	if len(auth) == 0 || json.Unmarshal(auth, &a) != nil || a.Token == "" {
		return nil, errUnauthorized
	}
	p, err := s.verifier.VerifyAccess(ctx, strings.TrimPrefix(a.Token, "Bearer "))
	if err != nil {
		return nil, errUnauthorized
	}
	return &conn{uid: p.UserID, who: p, rooms: map[string]func(){}}, nil
}

func connOf(so *socketio.Socket) *conn {
	c, _ := so.Data().(*conn)
	return c
}

func (s *Service) onConnect(so *socketio.Socket) {
	c := connOf(so)
	if c == nil {
		so.Disconnect()
		return
	}
	c.so = so
	ctx, cancel := context.WithTimeout(context.Background(), rpcTimeout)
	defer cancel()
	un, err := s.o.Sub.SubscribeUser(ctx, c.uid, func(ev *realtimev1.SubscribeResponse) { s.deliverUser(c, ev) })
	if err != nil {
		s.log.Warn("realtime: subscribe failed", "err", err)
		so.Disconnect()
		return
	}
	// The socket may have gone while subscribing: then nothing may stay
	// registered. Lock order: c.mu, then s.mu.
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		un()
		return
	}
	c.unsubUs = un
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
}

func (s *Service) onDisconnect(so *socketio.Socket, _ string) {
	c := connOf(so)
	if c == nil {
		return
	}
	c.mu.Lock()
	c.closed = true
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	unsubs := make([]func(), 0, len(c.rooms)+1)
	for _, un := range c.rooms {
		unsubs = append(unsubs, un)
	}
	if c.unsubUs != nil {
		unsubs = append(unsubs, c.unsubUs)
	}
	c.rooms = nil
	c.mu.Unlock()
	for _, un := range unsubs {
		un()
	}
}

func (c *conn) joined(chatID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.rooms[chatID]
	return ok
}

func reply(ack socketio.AckFunc, v any) {
	if ack != nil {
		ack(v)
	}
}

func fail(ack socketio.AckFunc, msg string) { reply(ack, map[string]any{"ok": false, "error": msg}) }

// chatIDArg reads a chat id given as a bare string or as {chatId}.
func chatIDArg(args []json.RawMessage) (string, bool) {
	if len(args) == 0 {
		return "", false
	}
	var sid string
	if json.Unmarshal(args[0], &sid) != nil {
		var obj struct {
			ChatID string `json:"chatId"`
		}
		if json.Unmarshal(args[0], &obj) != nil {
			return "", false
		}
		sid = obj.ChatID
	}
	sid = strings.ToLower(strings.TrimSpace(sid))
	return sid, id.Valid(sid)
}

func (s *Service) checkMember(c *conn, chatID string) (bool, error) {
	if c.joined(chatID) {
		return true, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), rpcTimeout)
	defer cancel()
	res, err := s.o.Chat.CheckMember(ctx, connect.NewRequest(&chatv1.CheckMemberRequest{ChatId: chatID, UserId: c.uid.String()}))
	if err != nil {
		return false, err
	}
	return res.Msg.GetMember(), nil
}

// joinChat: `join-chat` with a chat id string or {chatId}; members only.
func (s *Service) joinChat(so *socketio.Socket, args []json.RawMessage, ack socketio.AckFunc) {
	c := connOf(so)
	chatID, ok := chatIDArg(args)
	if !ok {
		fail(ack, errInvalidChat)
		return
	}
	member, err := s.checkMember(c, chatID)
	if err != nil {
		s.log.Warn("realtime: membership check failed", "err", err)
		fail(ack, errJoin)
		return
	}
	if !member {
		fail(ack, errNoAccess)
		return
	}
	if !c.joined(chatID) {
		cid, _ := id.Parse(chatID)
		ctx, cancel := context.WithTimeout(context.Background(), rpcTimeout)
		un, err := s.o.Sub.SubscribeChat(ctx, cid, func(ev *realtimev1.SubscribeResponse) { s.deliverChat(c, ev) })
		cancel()
		if err != nil {
			fail(ack, errJoin)
			return
		}
		c.mu.Lock()
		_, dup := c.rooms[chatID]
		if c.closed || dup {
			c.mu.Unlock()
			un()
		} else {
			c.rooms[chatID] = un
			c.mu.Unlock()
		}
	}
	reply(ack, map[string]any{"ok": true, "chatId": chatID})
}

const maxText = 4000

// sendMessage: `send-message` {chatId, text, clientMessageId?}. The sender
// is the token's user; a payload senderId is ignored.
// sendArgs is a validated send-message payload.
type sendArgs struct {
	ChatID, Text, ClientMessageID string
}

// parseSend validates {chatId, text, clientMessageId?} whatever the client
// sent (legacy S3: no payload, wrong types and huge strings are refused,
// never dereferenced). The chat id is returned when it looks like one, so
// message-error can name it.
func parseSend(args []json.RawMessage) (sendArgs, string, bool) {
	if len(args) == 0 {
		return sendArgs{}, "", false
	}
	in, ok := decodeSend(args[0])
	if !ok {
		return sendArgs{}, "", false
	}
	chatID := in.chatID
	if !id.Valid(chatID) {
		return sendArgs{}, "", false
	}
	chatID = strings.ToLower(chatID)
	text := strings.TrimSpace(in.text)
	if text == "" || utf8.RuneCountInString(text) > maxText || !utf8.ValidString(text) || !in.cmidOK || len(in.cmid) > 128 {
		return sendArgs{}, chatID, false
	}
	return sendArgs{ChatID: chatID, Text: text, ClientMessageID: in.cmid}, chatID, true
}

// sendIn is a send-message payload as json.Unmarshal into `any` fields
// reads it: a field that is not a string reads as "" (and clientMessageId
// as not ok, unless absent or null).
type sendIn struct {
	chatID, text, cmid string
	cmidOK             bool
}

// decodeSend reads raw (valid JSON: an argument of a decoded event) in
// one pass without reflection; keys that encoding/json would match
// case-insensitively, or that need unescaping, take decodeSendSlow.
func decodeSend(raw []byte) (sendIn, bool) {
	in := sendIn{cmidOK: true}
	slow := false
	isObj := socketio.ObjectMembers(raw, func(k, v []byte) bool {
		key, plain := socketio.PlainString(k)
		if !plain {
			slow = true
			return false
		}
		switch key {
		case "chatId":
			in.chatID, _ = jsonString(v)
		case "text":
			in.text, _ = jsonString(v)
		case "clientMessageId":
			in.cmid, in.cmidOK = jsonString(v)
			if string(v) == "null" {
				in.cmidOK = true
			}
		default:
			if strings.EqualFold(key, "chatId") || strings.EqualFold(key, "text") || strings.EqualFold(key, "clientMessageId") {
				slow = true
				return false
			}
		}
		return true
	})
	if slow {
		return decodeSendSlow(raw)
	}
	if !isObj {
		// null decodes to an empty payload; anything else is refused.
		if string(bytes.TrimSpace(raw)) == "null" {
			return sendIn{cmidOK: true}, true
		}
		return sendIn{}, false
	}
	return in, true
}

// jsonString decodes a JSON string value; false when v is another type.
func jsonString(v []byte) (string, bool) {
	if len(v) == 0 || v[0] != '"' {
		return "", false
	}
	if s, ok := socketio.PlainString(v); ok {
		return s, true
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return "", false
	}
	return s, true
}

// decodeSendSlow is decodeSend by encoding/json.
func decodeSendSlow(raw []byte) (sendIn, bool) {
	var in struct {
		ChatID          any `json:"chatId"`
		Text            any `json:"text"`
		ClientMessageID any `json:"clientMessageId"`
	}
	if json.Unmarshal(raw, &in) != nil {
		return sendIn{}, false
	}
	out := sendIn{}
	out.chatID, _ = in.ChatID.(string)
	out.text, _ = in.Text.(string)
	out.cmid, out.cmidOK = in.ClientMessageID.(string)
	if in.ClientMessageID == nil {
		out.cmidOK = true
	}
	return out, true
}

// sendMessage: `send-message` {chatId, text, clientMessageId?}. The sender
// is the token's user; a payload senderId is ignored. What the socket is
// sent while the send is under way (its echo from the bus, other events)
// leaves with the ack in one write.
func (s *Service) sendMessage(so *socketio.Socket, args []json.RawMessage, ack socketio.AckFunc) {
	so.Batch(func() { s.send(so, args, ack) })
}

func (s *Service) send(so *socketio.Socket, args []json.RawMessage, ack socketio.AckFunc) {
	if s.sendDur != nil {
		defer func(t time.Time) { s.sendDur.Observe(time.Since(t).Seconds()) }(time.Now())
	}
	c := connOf(so)
	in, chatID, ok := parseSend(args)
	if !ok {
		fail(ack, errPayload)
		_ = so.Emit("message-error", map[string]any{"chatId": chatID, "error": errPayload})
		return
	}
	// Sent with the other sockets' concurrent sends in one call (sendbatch.go).
	res := s.sends.send(&chatv1.SendMessagesAsItem{
		SenderId: c.uid.String(), ChatId: in.ChatID, Text: in.Text, ClientMessageId: in.ClientMessageID,
	})
	if res.err != nil {
		msg := errSend
		switch res.code {
		case connect.CodeNotFound:
			msg = errNoAccess
		case connect.CodePermissionDenied:
			msg = errBlocked
		case connect.CodeInvalidArgument:
			msg = errPayload
		case connect.CodeResourceExhausted:
			msg = errTooFast
		default:
			s.log.Warn("realtime: send failed", "err", res.err)
		}
		fail(ack, msg)
		_ = so.Emit("message-error", map[string]any{"chatId": chatID, "error": msg})
		return
	}
	m := res.msg
	// The echo to the chat room (legacy: io.to(room) includes the sender)
	// goes with the ack unless the bus copy came first; the later copy is
	// skipped. Both carry the same payload (chat answers with the chat id
	// as sent), encoded once.
	payload := newMessagePayload(chatID, m).appendJSON(nil)
	if c.joined(m.GetChatId()) && c.firstDelivery(m.GetId()) {
		echo := payload
		if chatID != m.GetChatId() {
			echo = newMessagePayload(m.GetChatId(), m).appendJSON(nil)
		}
		_ = so.Emit("new-message", json.RawMessage(echo))
	}
	if ack != nil {
		b := make([]byte, 0, len(payload)+len(`{"ok":true,"payload":}`))
		b = append(b, `{"ok":true,"payload":`...)
		b = append(b, payload...)
		ack(json.RawMessage(append(b, '}')))
	}
}

// parseTyping validates {chatId, isTyping}; isTyping is JavaScript-truthy.
func parseTyping(args []json.RawMessage) (string, bool, bool) {
	var in struct {
		ChatID   string `json:"chatId"`
		IsTyping any    `json:"isTyping"`
	}
	if len(args) == 0 || json.Unmarshal(args[0], &in) != nil || !id.Valid(in.ChatID) {
		return "", false, false
	}
	return strings.ToLower(in.ChatID), truthy(in.IsTyping), true
}

// userTyping: `user-typing` {chatId, isTyping} to the chat's other members.
func (s *Service) userTyping(so *socketio.Socket, args []json.RawMessage, ack socketio.AckFunc) {
	c := connOf(so)
	chatID, typing, ok := parseTyping(args)
	if !ok {
		fail(ack, errPayload)
		return
	}
	member, err := s.checkMember(c, chatID)
	if err != nil || !member {
		fail(ack, errNoAccess)
		return
	}
	cid, _ := id.Parse(chatID)
	ctx, cancel := context.WithTimeout(context.Background(), rpcTimeout)
	defer cancel()
	_ = s.bus.PublishToChat(ctx, cid, &realtimev1.SubscribeResponse{Event: &realtimev1.SubscribeResponse_Typing{
		Typing: &realtimev1.TypingEvent{ChatId: chatID, UserId: c.uid.String(), IsTyping: typing}}})
	reply(ack, map[string]any{"ok": true})
}

// truthy is JavaScript's Boolean(v) for JSON values.
func truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case float64:
		return x != 0
	case string:
		return x != ""
	case nil:
		return false
	default:
		return true
	}
}

// newMessage is the legacy `new-message` body: {chatId, message,
// clientMessageId}, the message as legacyjson.Message renders it. Structs,
// with the fields in the sorted key order json.Marshal gives the maps, so
// the bytes are the same: a struct encodes several times faster than a map,
// and every message is encoded once per recipient socket and once for the
// ack.
type newMessage struct {
	ChatID          string        `json:"chatId"`
	ClientMessageID *string       `json:"clientMessageId"`
	Message         legacyMessage `json:"message"`
}

type legacyMessage struct {
	ID        string `json:"_id"`
	CallID    string `json:"callId,omitempty"`
	ChatID    string `json:"chatId"`
	CreatedAt string `json:"createdAt"`
	ID2       string `json:"id"`
	Read      bool   `json:"read"`
	SenderID  string `json:"senderId"`
	Text      string `json:"text"`
	Type      string `json:"type"`
}

var legacyMsgType = map[chatv1.MessageType]string{
	chatv1.MessageType_MESSAGE_TYPE_TEXT: "text", chatv1.MessageType_MESSAGE_TYPE_CALL_STARTED: "call-started",
	chatv1.MessageType_MESSAGE_TYPE_CALL_ENDED: "call-ended", chatv1.MessageType_MESSAGE_TYPE_CALL_MISSED: "call-missed",
}

// sendAck is the ack of a successful send-message.
type sendAck struct {
	OK      bool        `json:"ok"`
	Payload *newMessage `json:"payload"`
}

// newMessagePayload is the legacy `new-message` body.
func newMessagePayload(chatID string, m *chatv1.Message) *newMessage {
	var cmid *string
	if m.GetClientMessageId() != "" {
		c := m.GetClientMessageId()
		cmid = &c
	}
	if chatID == "" {
		chatID = m.GetChatId()
	}
	return &newMessage{ChatID: chatID, ClientMessageID: cmid, Message: legacyMessage{
		ID: m.GetId(), ID2: m.GetId(), ChatID: m.GetChatId(), SenderID: m.GetSenderId(), Text: m.GetText(),
		Type: legacyMsgType[m.GetType()], CreatedAt: legacyjson.Time(m.GetCreatedAt()), CallID: m.GetCallId(),
	}}
}

// appendJSON appends n as json.Marshal encodes it, without reflection
// (TestNewMessageBytes compares the two).
func (n *newMessage) appendJSON(b []byte) []byte {
	m := &n.Message
	if b == nil {
		// Keys and ids take about 300 bytes; escapes may need more.
		size := 320 + len(m.Text) + len(m.CallID)
		if n.ClientMessageID != nil {
			size += len(*n.ClientMessageID)
		}
		b = make([]byte, 0, size)
	}
	b = append(b, `{"chatId":`...)
	b = socketio.AppendString(b, n.ChatID)
	b = append(b, `,"clientMessageId":`...)
	if n.ClientMessageID == nil {
		b = append(b, "null"...)
	} else {
		b = socketio.AppendString(b, *n.ClientMessageID)
	}
	b = append(b, `,"message":{"_id":`...)
	b = socketio.AppendString(b, m.ID)
	if m.CallID != "" {
		b = append(b, `,"callId":`...)
		b = socketio.AppendString(b, m.CallID)
	}
	b = append(b, `,"chatId":`...)
	b = socketio.AppendString(b, m.ChatID)
	b = append(b, `,"createdAt":`...)
	b = socketio.AppendString(b, m.CreatedAt)
	b = append(b, `,"id":`...)
	b = socketio.AppendString(b, m.ID2)
	b = append(b, `,"read":`...)
	b = strconv.AppendBool(b, m.Read)
	b = append(b, `,"senderId":`...)
	b = socketio.AppendString(b, m.SenderID)
	b = append(b, `,"text":`...)
	b = socketio.AppendString(b, m.Text)
	b = append(b, `,"type":`...)
	b = socketio.AppendString(b, m.Type)
	return append(b, "}}"...)
}

func legacyUser(u *commonv1.UserSummary) any {
	if u == nil {
		return nil
	}
	var pic any
	if u.GetProfilePicture() != "" {
		pic = u.GetProfilePicture()
	}
	return map[string]any{"_id": u.GetId(), "id": u.GetId(), "name": u.GetName(), "profilePicture": pic, "profilePhoto": pic}
}

// deliverUser turns an event of c's user channel into the legacy socket
// event. Call and notification events carry the user's id in their name and
// reach only this user's sockets.
func (s *Service) deliverUser(c *conn, ev *realtimev1.SubscribeResponse) {
	uid := c.uid.String()
	switch e := ev.Event.(type) {
	case *realtimev1.SubscribeResponse_Message:
		m := e.Message.GetMessage()
		if !c.joined(m.GetChatId()) { // like socket.io rooms: joined chats only
			return
		}
		if m.GetSenderId() == uid && !c.firstDelivery(m.GetId()) {
			return // echoed with the send's ack
		}
		_ = c.so.Emit("new-message", json.RawMessage(newMessagePayload(m.GetChatId(), m).appendJSON(nil)))
	case *realtimev1.SubscribeResponse_Call:
		k := e.Call
		var payload map[string]any
		switch k.GetKind() {
		case "incoming-call":
			payload = map[string]any{"callId": k.GetCallId(), "callerId": k.GetCallerId(), "caller": legacyUser(k.GetCaller()), "type": k.GetType(), "roomName": k.GetRoomName()}
		case "call-accepted":
			payload = map[string]any{"callId": k.GetCallId(), "roomName": k.GetRoomName(), "type": k.GetType(), "receiver": legacyUser(k.GetReceiver())}
		case "call-rejected":
			payload = map[string]any{"callId": k.GetCallId()}
		case "call-ended":
			payload = map[string]any{"callId": k.GetCallId(), "duration": k.GetDurationSeconds()}
		case "call-missed": // new: the ring timed out (sent to caller and receiver)
			payload = map[string]any{"callId": k.GetCallId(), "callerId": k.GetCallerId(), "type": k.GetType(), "roomName": k.GetRoomName()}
		default:
			return
		}
		_ = c.so.Emit(k.GetKind()+"-"+uid, payload)
	case *realtimev1.SubscribeResponse_Notification:
		n := e.Notification
		meta := map[string]string{}
		for k, v := range n.GetMeta() {
			meta[k] = v
		}
		created := ev.GetTime()
		if n.CreatedAt != nil {
			created = n.GetCreatedAt()
		}
		payload := map[string]any{"id": n.GetId(), "type": n.GetType(), "title": n.GetTitle(),
			"message": n.GetMessage(), "createdAt": legacyjson.Time(created), "meta": meta}
		if u := n.GetUpdate(); u != nil { // from the notify tier: the inbox's unread count
			payload["unreadCount"] = u.GetUnreadCount()
		}
		_ = c.so.Emit("notification-"+uid, payload)
	}
}

// deliverChat relays a chat channel event (typing) to c, except to the
// typing user's own sockets.
func (s *Service) deliverChat(c *conn, ev *realtimev1.SubscribeResponse) {
	t := ev.GetTyping()
	if t == nil || t.GetUserId() == c.uid.String() {
		return
	}
	_ = c.so.Emit("user-typing", map[string]any{"chatId": t.GetChatId(), "userId": t.GetUserId(), "isTyping": t.GetIsTyping()})
}
