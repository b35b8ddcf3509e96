// Package chat is the chat tier: ChatService (chats, members, messages).
package chat

import (
	"context"

	"connectrpc.com/connect"

	chatv1 "github.com/infliq/infliq/backend/gen/infliq/chat/v1"
	"github.com/infliq/infliq/backend/gen/infliq/chat/v1/chatv1connect"
	"github.com/infliq/infliq/backend/platform/tier"
)

// Limits are the bounds ChatService enforces.
var Limits = &chatv1.GetLimitsResponse{
	MaxMessageLength: 4000,
	MaxPageSize:      100,
	MaxGroupMembers:  256,
}

// Service implements chatv1connect.ChatServiceHandler.
type Service struct{}

// NewTier assembles the chat tier.
func NewTier(d tier.Deps) *tier.Tier {
	t := tier.New("chat", d)
	path, h := chatv1connect.NewChatServiceHandler(&Service{}, t.ConnectOptions()...)
	t.Mount(path, h, chatv1connect.ChatServiceName, chatv1connect.ChatServiceGetLimitsProcedure)
	t.HealthField("socketPath", "/socket-chat.io")
	return t
}

// GetLimits returns Limits.
func (s *Service) GetLimits(context.Context, *connect.Request[chatv1.GetLimitsRequest]) (*connect.Response[chatv1.GetLimitsResponse], error) {
	return connect.NewResponse(Limits), nil
}
