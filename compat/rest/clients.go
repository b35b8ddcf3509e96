package rest

import (
	"net/http"

	"connectrpc.com/connect"

	"github.com/infliq/infliq/backend/gen/infliq/auth/v1/authv1connect"
	"github.com/infliq/infliq/backend/gen/infliq/call/v1/callv1connect"
	"github.com/infliq/infliq/backend/gen/infliq/chat/v1/chatv1connect"
	"github.com/infliq/infliq/backend/gen/infliq/feed/v1/feedv1connect"
	"github.com/infliq/infliq/backend/gen/infliq/media/v1/mediav1connect"
	"github.com/infliq/infliq/backend/gen/infliq/post/v1/postv1connect"
	"github.com/infliq/infliq/backend/gen/infliq/user/v1/userv1connect"
)

// Clients are the generated Connect clients the legacy routes call.
type Clients struct {
	Auth  authv1connect.AuthServiceClient
	User  userv1connect.UserServiceClient
	Post  postv1connect.PostServiceClient
	Feed  feedv1connect.FeedServiceClient
	Chat  chatv1connect.ChatServiceClient
	Call  callv1connect.CallServiceClient
	Media mediav1connect.MediaServiceClient
}

// URLs are the upstream base URLs.
type URLs struct {
	Auth, User, Post, Feed, Chat, Call, Media string
}

// NewClients builds clients speaking the Connect protocol (binary protobuf)
// over hc; extra options (tracing) apply to every client.
func NewClients(hc *http.Client, u URLs, extra ...connect.ClientOption) *Clients {
	opts := append(extra,
		connect.WithReadMaxBytes(32<<20),
		// Loopback/LAN hops to the tiers: gzip costs more CPU than it saves.
		connect.WithAcceptCompression("gzip", nil, nil),
	)
	return &Clients{
		Auth:  authv1connect.NewAuthServiceClient(hc, u.Auth, opts...),
		User:  userv1connect.NewUserServiceClient(hc, u.User, opts...),
		Post:  postv1connect.NewPostServiceClient(hc, u.Post, opts...),
		Feed:  feedv1connect.NewFeedServiceClient(hc, u.Feed, opts...),
		Chat:  chatv1connect.NewChatServiceClient(hc, u.Chat, opts...),
		Call:  callv1connect.NewCallServiceClient(hc, u.Call, opts...),
		Media: mediav1connect.NewMediaServiceClient(hc, u.Media, opts...),
	}
}
