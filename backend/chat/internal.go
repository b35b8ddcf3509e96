package chat

import (
	"context"
	"strings"

	"connectrpc.com/connect"

	chatv1 "github.com/infliq/infliq/backend/gen/infliq/chat/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/id"
)

// Internal implements chatv1connect.ChatInternalServiceHandler. The authn
// middleware admits only callers holding the internal token.
type Internal struct {
	svc *Service
}

// SendMessageAs sends as sender_id, with the same membership, block and
// idempotency rules as SendMessage.
func (s *Internal) SendMessageAs(ctx context.Context, req *connect.Request[chatv1.SendMessageAsRequest]) (*connect.Response[chatv1.SendMessageAsResponse], error) {
	msg, dup, err := s.svc.send(ctx, strings.ToLower(req.Msg.GetSenderId()), req.Msg.GetMessage())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&chatv1.SendMessageAsResponse{Message: msg, Duplicate: dup}), nil
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
