// Package chat is the chat tier: ChatService (chats, members, messages) and
// ChatInternalService (sends on behalf of the realtime tier, call logs).
// Events are published to the bus after the database commit.
package chat

import (
	"context"
	"log/slog"
	"math"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	chatv1 "github.com/infliq/infliq/backend/gen/infliq/chat/v1"
	"github.com/infliq/infliq/backend/gen/infliq/chat/v1/chatv1connect"
	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	realtimev1 "github.com/infliq/infliq/backend/gen/infliq/realtime/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/tier"
)

// Limits are the bounds ChatService enforces.
var Limits = &chatv1.GetLimitsResponse{
	MaxMessageLength: 4000,
	MaxPageSize:      100,
	MaxGroupMembers:  256,
}

const defaultPage = 50

// Service implements chatv1connect.ChatServiceHandler.
type Service struct {
	st    *store
	pub   bus.Publisher
	log   *slog.Logger
	sends *sender // group commit of sends (batch.go)
	limit *SendLimit
}

// NewTier assembles the chat tier.
func NewTier(d tier.Deps, pool *pgxpool.Pool, pub bus.Publisher, opts ...Option) *tier.Tier {
	t := tier.New("chat", d)
	st := &store{db: pool}
	svc := &Service{st: st, pub: pub, log: d.Log, sends: newSender(st, pub, d.Log, d.Tracing)}
	for _, o := range opts {
		o(svc)
	}
	t.TextCheckedPerItem(chatv1connect.ChatInternalServiceSendMessagesAsProcedure)
	path, h := chatv1connect.NewChatServiceHandler(svc, t.ConnectOptions()...)
	t.Mount(path, h, chatv1connect.ChatServiceName, chatv1connect.ChatServiceGetLimitsProcedure)
	// Internal replies stay uncompressed: a batched send's reply (a few KB
	// per call, sibling tiers on the same network) cost chat more CPU to
	// gzip, and realtime to gunzip, than it saves on the wire.
	ipath, ih := chatv1connect.NewChatInternalServiceHandler(&Internal{svc: svc},
		append(t.ConnectOptions(), connect.WithCompressMinBytes(math.MaxInt))...)
	t.Mount(ipath, ih, chatv1connect.ChatInternalServiceName)
	t.HealthField("socketPath", "/socket-chat.io")
	return t
}

func caller(ctx context.Context) (authn.Principal, error) {
	p, ok := authn.FromContext(ctx)
	if !ok {
		return p, apperr.Unauthorized("No token provided")
	}
	return p, nil
}

// GetLimits returns Limits.
func (s *Service) GetLimits(context.Context, *connect.Request[chatv1.GetLimitsRequest]) (*connect.Response[chatv1.GetLimitsResponse], error) {
	return connect.NewResponse(Limits), nil
}

var typeNames = map[chatv1.ChatType]string{
	chatv1.ChatType_CHAT_TYPE_UNSPECIFIED: "chat", chatv1.ChatType_CHAT_TYPE_DIRECT: "chat",
	chatv1.ChatType_CHAT_TYPE_COMMUNITY: "community", chatv1.ChatType_CHAT_TYPE_DEBATE: "debate",
}

var typeValues = map[string]chatv1.ChatType{
	"chat": chatv1.ChatType_CHAT_TYPE_DIRECT, "community": chatv1.ChatType_CHAT_TYPE_COMMUNITY, "debate": chatv1.ChatType_CHAT_TYPE_DEBATE,
}

var msgTypeNames = map[chatv1.MessageType]string{
	chatv1.MessageType_MESSAGE_TYPE_TEXT: "text", chatv1.MessageType_MESSAGE_TYPE_CALL_STARTED: "call-started",
	chatv1.MessageType_MESSAGE_TYPE_CALL_ENDED: "call-ended", chatv1.MessageType_MESSAGE_TYPE_CALL_MISSED: "call-missed",
}

var msgTypeValues = map[string]chatv1.MessageType{
	"text": chatv1.MessageType_MESSAGE_TYPE_TEXT, "call-started": chatv1.MessageType_MESSAGE_TYPE_CALL_STARTED,
	"call-ended": chatv1.MessageType_MESSAGE_TYPE_CALL_ENDED, "call-missed": chatv1.MessageType_MESSAGE_TYPE_CALL_MISSED,
}

// CreateChat implements ChatService.
func (s *Service) CreateChat(ctx context.Context, req *connect.Request[chatv1.CreateChatRequest]) (*connect.Response[chatv1.CreateChatResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	typ := typeNames[req.Msg.GetType()]
	members := []id.ID{p.UserID}
	seen := map[id.ID]bool{p.UserID: true}
	for _, raw := range req.Msg.GetParticipantIds() {
		u, err := id.Parse(strings.ToLower(raw))
		if err != nil {
			return nil, apperr.BadRequest("Invalid participant id")
		}
		if !seen[u] {
			seen[u] = true
			members = append(members, u)
		}
	}
	if typ == "chat" && len(members) != 2 {
		return nil, apperr.BadRequest("Individual chats must have exactly 2 participants")
	}
	if len(members) > int(Limits.MaxGroupMembers) {
		return nil, apperr.BadRequest("Too many participants")
	}
	chatID, created, err := s.st.createChat(ctx, typ, p.UserID, members)
	if err != nil {
		return nil, err
	}
	c, err := s.st.getChat(ctx, chatID, p.UserID.String())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&chatv1.CreateChatResponse{Chat: chatProto(c), Created: created}), nil
}

// ListChats implements ChatService.
func (s *Service) ListChats(ctx context.Context, req *connect.Request[chatv1.ListChatsRequest]) (*connect.Response[chatv1.ListChatsResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	limit := int(req.Msg.GetPage().GetLimit())
	if limit <= 0 {
		limit = 20
	}
	rows, next, total, err := s.st.listChats(ctx, p.UserID.String(), req.Msg.GetPage().GetCursor(), limit)
	if err != nil {
		return nil, err
	}
	out := &chatv1.ListChatsResponse{Page: &commonv1.PageResponse{NextCursor: next}, Total: total}
	for _, c := range rows {
		out.Chats = append(out.Chats, chatProto(c))
	}
	return connect.NewResponse(out), nil
}

// GetChat implements ChatService.
func (s *Service) GetChat(ctx context.Context, req *connect.Request[chatv1.GetChatRequest]) (*connect.Response[chatv1.GetChatResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.st.getChat(ctx, strings.ToLower(req.Msg.GetChatId()), p.UserID.String())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&chatv1.GetChatResponse{Chat: chatProto(c)}), nil
}

// ListMessages implements ChatService.
func (s *Service) ListMessages(ctx context.Context, req *connect.Request[chatv1.ListMessagesRequest]) (*connect.Response[chatv1.ListMessagesResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	chatID := strings.ToLower(m.GetChatId())
	if err := s.requireMember(ctx, chatID, p.UserID.String()); err != nil {
		return nil, err
	}
	if m.GetBeforeId() != "" && m.GetAfterId() != "" {
		return nil, apperr.BadRequest("Use before_id or after_id, not both")
	}
	limit := int(m.GetLimit())
	if limit <= 0 {
		limit = defaultPage
	}
	var before *time.Time
	if m.BeforeTime != nil {
		t := m.GetBeforeTime().AsTime()
		before = &t
	}
	msgs, more, err := s.st.listMessages(ctx, chatID, strings.ToLower(m.GetBeforeId()), strings.ToLower(m.GetAfterId()), before, limit)
	if err != nil {
		return nil, err
	}
	out := &chatv1.ListMessagesResponse{HasMore: more}
	for _, msg := range msgs {
		out.Messages = append(out.Messages, messageProto(msg))
	}
	return connect.NewResponse(out), nil
}

func (s *Service) requireMember(ctx context.Context, chatID, uid string) error {
	ok, err := s.st.isMember(ctx, chatID, uid)
	if err != nil {
		return apperr.Internal(err)
	}
	if !ok {
		return errNotMember
	}
	return nil
}

// SendMessage implements ChatService.
func (s *Service) SendMessage(ctx context.Context, req *connect.Request[chatv1.SendMessageRequest]) (*connect.Response[chatv1.SendMessageResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.limit.check(ctx, s.log, p.UserID.String()); err != nil {
		return nil, err
	}
	msg, dup, err := s.send(ctx, p.UserID.String(), req.Msg)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&chatv1.SendMessageResponse{Message: msg, Duplicate: dup}), nil
}

// send persists a user's text message and publishes it after commit.
func (s *Service) send(ctx context.Context, sender string, m *chatv1.SendMessageRequest) (*chatv1.Message, bool, error) {
	text := strings.TrimSpace(m.GetText())
	if text == "" {
		return nil, false, apperr.BadRequest("Message text is required")
	}
	// Stored with concurrent sends in one commit, then published to every
	// member's user channel (sequenced and logged, so streams can replay
	// it): see batch.go.
	stored, _, dup, err := s.sends.send(ctx, sendInput{
		ChatID: strings.ToLower(m.GetChatId()), SenderID: sender, Text: text, Type: "text",
		ClientMessageID: m.GetClientMessageId(), CheckSender: true,
	})
	if err != nil {
		return nil, false, err
	}
	return messageProto(stored), dup, nil
}

// MarkRead implements ChatService.
func (s *Service) MarkRead(ctx context.Context, req *connect.Request[chatv1.MarkReadRequest]) (*connect.Response[chatv1.MarkReadResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	chatID := strings.ToLower(req.Msg.GetChatId())
	marker, members, err := s.st.markRead(ctx, chatID, p.UserID.String(), strings.ToLower(req.Msg.GetMessageId()))
	if err != nil {
		return nil, err
	}
	if marker != "" {
		ev := &realtimev1.SubscribeResponse{Event: &realtimev1.SubscribeResponse_Read{Read: &realtimev1.ReadEvent{
			ChatId: chatID, UserId: p.UserID.String(), MessageId: marker}}}
		if err := s.pub.PublishToUsers(context.WithoutCancel(ctx), memberIDs(members), ev); err != nil {
			s.log.WarnContext(ctx, "chat: publish failed", "err", err)
		}
	}
	return connect.NewResponse(&chatv1.MarkReadResponse{LastReadId: marker}), nil
}

// SetTyping implements ChatService.
func (s *Service) SetTyping(ctx context.Context, req *connect.Request[chatv1.SetTypingRequest]) (*connect.Response[chatv1.SetTypingResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	chatID := strings.ToLower(req.Msg.GetChatId())
	if err := s.requireMember(ctx, chatID, p.UserID.String()); err != nil {
		return nil, err
	}
	cid, _ := id.Parse(chatID)
	ev := &realtimev1.SubscribeResponse{Event: &realtimev1.SubscribeResponse_Typing{Typing: &realtimev1.TypingEvent{
		ChatId: chatID, UserId: p.UserID.String(), IsTyping: req.Msg.GetIsTyping()}}}
	if err := s.pub.PublishToChat(ctx, cid, ev); err != nil {
		return nil, apperr.Unavailable(err, "Realtime unavailable")
	}
	return connect.NewResponse(&chatv1.SetTypingResponse{}), nil
}

func messageProto(m *message) *chatv1.Message {
	return &chatv1.Message{
		Id: m.ID, ChatId: m.ChatID, SenderId: m.SenderID, Text: m.Text, Type: msgTypeValues[m.Type],
		CallId: m.CallID, CreatedAt: timestamppb.New(m.CreatedAt), ClientMessageId: m.ClientMessageID,
	}
}

func chatProto(c *chatRow) *chatv1.Chat {
	out := &chatv1.Chat{
		Id: c.ID, Type: typeValues[c.Type], LastMessageAt: timestamppb.New(c.LastMessageAt),
		CreatedAt: timestamppb.New(c.CreatedAt), UnreadCount: c.Unread,
	}
	if c.Last != nil {
		out.LastMessage = messageProto(c.Last)
	}
	for _, m := range c.Members {
		out.Participants = append(out.Participants, &commonv1.UserSummary{Id: m.ID, Name: m.Name, ProfilePicture: m.Picture, IsVerified: m.Verified})
	}
	return out
}
