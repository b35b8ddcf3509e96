package chat

import (
	"context"
	"net/http"
	"testing"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	chatv1 "github.com/infliq/infliq/backend/gen/infliq/chat/v1"
	"github.com/infliq/infliq/backend/gen/infliq/chat/v1/chatv1connect"
	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/cache/redistest"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/backend/platform/tier"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
)

type env struct {
	pool     *pgxpool.Pool
	rdb      *redis.Client
	bus      *bus.Redis
	url      string
	h2c, h1  *http.Client
	internal chatv1connect.ChatInternalServiceClient
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{pool: pgtest.New(t), rdb: redistest.New(t)}
	e.bus = bus.New(e.rdb, redistest.Prefix(), 100)
	e.url, e.h2c, e.h1 = tiertest.Serve(t, NewTier(tiertest.Deps(), e.pool, e.bus).Handler())
	e.internal = chatv1connect.NewChatInternalServiceClient(e.h2c, e.url, append(tier.InternalClientOptions(tiertest.InternalToken), connect.WithGRPC())...)
	return e
}

// user inserts a users row (the user service's table) and returns its id.
func (e *env) user(t *testing.T, name string) id.ID {
	t.Helper()
	uid := id.New()
	if _, err := e.pool.Exec(context.Background(), `INSERT INTO users (id, name, profile_picture) VALUES ($1, $2, $3)`, uid.String(), name, "https://x/"+name+".jpg"); err != nil {
		t.Fatal(err)
	}
	return uid
}

// client returns a ChatService client for uid; grpc picks the protocol.
func (e *env) client(t *testing.T, uid id.ID, grpc bool) chatv1connect.ChatServiceClient {
	opts := []connect.ClientOption{tiertest.Bearer(tiertest.Token(t, uid))}
	if grpc {
		return chatv1connect.NewChatServiceClient(e.h2c, e.url, append(opts, connect.WithGRPC())...)
	}
	return chatv1connect.NewChatServiceClient(e.h1, e.url, opts...)
}

func code(err error) connect.Code { return connect.CodeOf(err) }

func TestChatLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	alice, bob, carol := e.user(t, "alice"), e.user(t, "bob"), e.user(t, "carol")
	ca, cb, cc := e.client(t, alice, true), e.client(t, bob, false), e.client(t, carol, true)

	// A direct chat is deduplicated on the pair, whoever creates it.
	r1, err := ca.CreateChat(ctx, connect.NewRequest(&chatv1.CreateChatRequest{ParticipantIds: []string{bob.String()}}))
	if err != nil || !r1.Msg.Created || len(r1.Msg.Chat.Participants) != 2 {
		t.Fatalf("create: %v %v", r1, err)
	}
	chatID := r1.Msg.Chat.Id
	r2, err := cb.CreateChat(ctx, connect.NewRequest(&chatv1.CreateChatRequest{Type: chatv1.ChatType_CHAT_TYPE_DIRECT, ParticipantIds: []string{alice.String(), bob.String()}}))
	if err != nil || r2.Msg.Created || r2.Msg.Chat.Id != chatID {
		t.Fatalf("dedup: %v %v", r2, err)
	}
	if r2.Msg.Chat.Participants[0].Name == "" || r2.Msg.Chat.Participants[0].ProfilePicture == "" {
		t.Fatalf("participants not populated: %v", r2.Msg.Chat.Participants)
	}

	// Sends are idempotent on clientMessageId.
	s1, err := ca.SendMessage(ctx, connect.NewRequest(&chatv1.SendMessageRequest{ChatId: chatID, Text: "  hi bob ", ClientMessageId: "c1"}))
	if err != nil || s1.Msg.Duplicate || s1.Msg.Message.Text != "hi bob" || s1.Msg.Message.SenderId != alice.String() {
		t.Fatalf("send: %v %v", s1, err)
	}
	s2, err := ca.SendMessage(ctx, connect.NewRequest(&chatv1.SendMessageRequest{ChatId: chatID, Text: "hi bob", ClientMessageId: "c1"}))
	if err != nil || !s2.Msg.Duplicate || s2.Msg.Message.Id != s1.Msg.Message.Id {
		t.Fatalf("retry: %v %v", s2, err)
	}
	for _, txt := range []string{"two", "three"} {
		if _, err := ca.SendMessage(ctx, connect.NewRequest(&chatv1.SendMessageRequest{ChatId: chatID, Text: txt})); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	_ = e.pool.QueryRow(ctx, `SELECT count(*) FROM messages WHERE chat_id = $1`, chatID).Scan(&n)
	if n != 3 {
		t.Fatalf("stored %d messages", n)
	}

	// Bob sees 3 unread; alice none. A group with carol, created later but quiet,
	// sorts after the direct chat once the direct chat gets a newer message.
	g, err := cc.CreateChat(ctx, connect.NewRequest(&chatv1.CreateChatRequest{Type: chatv1.ChatType_CHAT_TYPE_COMMUNITY, ParticipantIds: []string{bob.String(), alice.String()}}))
	if err != nil || len(g.Msg.Chat.Participants) != 3 || g.Msg.Chat.Type != chatv1.ChatType_CHAT_TYPE_COMMUNITY {
		t.Fatalf("group: %v %v", g, err)
	}
	if _, err := cc.SendMessage(ctx, connect.NewRequest(&chatv1.SendMessageRequest{ChatId: g.Msg.Chat.Id, Text: "group hello"})); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.SendMessage(ctx, connect.NewRequest(&chatv1.SendMessageRequest{ChatId: chatID, Text: "four"})); err != nil {
		t.Fatal(err)
	}
	l, err := cb.ListChats(ctx, connect.NewRequest(&chatv1.ListChatsRequest{}))
	if err != nil || len(l.Msg.Chats) != 2 || l.Msg.Total != 2 {
		t.Fatalf("list: %v %v", l, err)
	}
	if l.Msg.Chats[0].Id != chatID || l.Msg.Chats[0].UnreadCount != 4 || l.Msg.Chats[0].LastMessage.GetText() != "four" || l.Msg.Chats[1].UnreadCount != 1 {
		t.Fatalf("order/unread: %v", l.Msg.Chats)
	}
	// Paging with a cursor.
	p1, err := cb.ListChats(ctx, connect.NewRequest(&chatv1.ListChatsRequest{Page: &commonv1.PageRequest{Limit: 1}}))
	if err != nil || len(p1.Msg.Chats) != 1 || p1.Msg.Page.NextCursor == "" {
		t.Fatalf("page 1: %v %v", p1, err)
	}
	p2, err := cb.ListChats(ctx, connect.NewRequest(&chatv1.ListChatsRequest{Page: &commonv1.PageRequest{Limit: 1, Cursor: p1.Msg.Page.NextCursor}}))
	if err != nil || len(p2.Msg.Chats) != 1 || p2.Msg.Chats[0].Id != g.Msg.Chat.Id || p2.Msg.Page.NextCursor != "" {
		t.Fatalf("page 2: %v %v", p2, err)
	}

	// Reading clears the unread count.
	if _, err := cb.MarkRead(ctx, connect.NewRequest(&chatv1.MarkReadRequest{ChatId: chatID})); err != nil {
		t.Fatal(err)
	}
	gc, err := cb.GetChat(ctx, connect.NewRequest(&chatv1.GetChatRequest{ChatId: chatID}))
	if err != nil || gc.Msg.Chat.UnreadCount != 0 {
		t.Fatalf("after read: %v %v", gc, err)
	}

	// Messages page backwards and forwards, ascending in each page.
	m1, err := cb.ListMessages(ctx, connect.NewRequest(&chatv1.ListMessagesRequest{ChatId: chatID, Limit: 2}))
	if err != nil || len(m1.Msg.Messages) != 2 || !m1.Msg.HasMore || m1.Msg.Messages[0].Text != "three" || m1.Msg.Messages[1].Text != "four" {
		t.Fatalf("latest page: %v %v", m1, err)
	}
	m2, err := cb.ListMessages(ctx, connect.NewRequest(&chatv1.ListMessagesRequest{ChatId: chatID, BeforeId: m1.Msg.Messages[0].Id, Limit: 5}))
	if err != nil || len(m2.Msg.Messages) != 2 || m2.Msg.HasMore || m2.Msg.Messages[0].Text != "hi bob" {
		t.Fatalf("older page: %v %v", m2, err)
	}
	m3, err := cb.ListMessages(ctx, connect.NewRequest(&chatv1.ListMessagesRequest{ChatId: chatID, AfterId: m2.Msg.Messages[0].Id, Limit: 2}))
	if err != nil || len(m3.Msg.Messages) != 2 || !m3.Msg.HasMore || m3.Msg.Messages[0].Text != "two" {
		t.Fatalf("newer page: %v %v", m3, err)
	}
	if _, err := cb.SetTyping(ctx, connect.NewRequest(&chatv1.SetTypingRequest{ChatId: chatID, IsTyping: true})); err != nil {
		t.Fatal(err)
	}

	// Internal: membership and sending on behalf of a user.
	mem, err := e.internal.CheckMember(ctx, connect.NewRequest(&chatv1.CheckMemberRequest{ChatId: chatID, UserId: carol.String()}))
	if err != nil || mem.Msg.Member {
		t.Fatalf("carol is no member: %v %v", mem, err)
	}
	sa, err := e.internal.SendMessageAs(ctx, connect.NewRequest(&chatv1.SendMessageAsRequest{SenderId: bob.String(), Message: &chatv1.SendMessageRequest{ChatId: chatID, Text: "from socket"}}))
	if err != nil || sa.Msg.Message.SenderId != bob.String() {
		t.Fatalf("send as: %v %v", sa, err)
	}
	sys, err := e.internal.AppendSystemMessage(ctx, connect.NewRequest(&chatv1.AppendSystemMessageRequest{SenderId: carol.String(), PeerId: alice.String(),
		Type: chatv1.MessageType_MESSAGE_TYPE_CALL_STARTED, Text: "Video call started", CallId: id.New().String()}))
	if err != nil || sys.Msg.Message.Type != chatv1.MessageType_MESSAGE_TYPE_CALL_STARTED {
		t.Fatalf("system message: %v %v", sys, err)
	}
	// Without the internal token the internal service is refused.
	outsider := chatv1connect.NewChatInternalServiceClient(e.h2c, e.url, tiertest.Bearer(tiertest.Token(t, carol)))
	if _, err := outsider.CheckMember(ctx, connect.NewRequest(&chatv1.CheckMemberRequest{ChatId: chatID, UserId: carol.String()})); code(err) != connect.CodePermissionDenied {
		t.Fatalf("internal without token: %v", err)
	}
	// A user's token cannot send as anyone through the batched send either.
	as := &chatv1.SendMessagesAsItem{SenderId: alice.String(), ChatId: chatID, Text: "forged"}
	if _, err := outsider.SendMessagesAs(ctx, connect.NewRequest(&chatv1.SendMessagesAsRequest{Items: []*chatv1.SendMessagesAsItem{as}})); code(err) != connect.CodePermissionDenied {
		t.Fatalf("batched send without token: %v", err)
	}
}

func TestChatAuthorization(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	alice, bob, mallory := e.user(t, "alice"), e.user(t, "bob"), e.user(t, "mallory")
	ca, cm := e.client(t, alice, true), e.client(t, mallory, false)
	r, err := ca.CreateChat(ctx, connect.NewRequest(&chatv1.CreateChatRequest{ParticipantIds: []string{bob.String()}}))
	if err != nil {
		t.Fatal(err)
	}
	chatID := r.Msg.Chat.Id
	// Another user's chat id is not found, on every RPC.
	if _, err := cm.GetChat(ctx, connect.NewRequest(&chatv1.GetChatRequest{ChatId: chatID})); code(err) != connect.CodeNotFound {
		t.Fatalf("get: %v", err)
	}
	if _, err := cm.ListMessages(ctx, connect.NewRequest(&chatv1.ListMessagesRequest{ChatId: chatID})); code(err) != connect.CodeNotFound {
		t.Fatalf("list messages: %v", err)
	}
	if _, err := cm.SendMessage(ctx, connect.NewRequest(&chatv1.SendMessageRequest{ChatId: chatID, Text: "spam"})); code(err) != connect.CodeNotFound {
		t.Fatalf("send: %v", err)
	}
	if _, err := cm.MarkRead(ctx, connect.NewRequest(&chatv1.MarkReadRequest{ChatId: chatID})); code(err) != connect.CodeNotFound {
		t.Fatalf("mark read: %v", err)
	}
	if _, err := cm.SetTyping(ctx, connect.NewRequest(&chatv1.SetTypingRequest{ChatId: chatID, IsTyping: true})); code(err) != connect.CodeNotFound {
		t.Fatalf("typing: %v", err)
	}
	if _, err := e.internal.SendMessageAs(ctx, connect.NewRequest(&chatv1.SendMessageAsRequest{SenderId: mallory.String(), Message: &chatv1.SendMessageRequest{ChatId: chatID, Text: "x"}})); code(err) != connect.CodeNotFound {
		t.Fatalf("send as non-member: %v", err)
	}
	// A block stops sending in the direct chat and creating one.
	if _, err := e.pool.Exec(ctx, `INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2)`, bob.String(), alice.String()); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.SendMessage(ctx, connect.NewRequest(&chatv1.SendMessageRequest{ChatId: chatID, Text: "hello?"})); code(err) != connect.CodePermissionDenied {
		t.Fatalf("send while blocked: %v", err)
	}
	if _, err := e.client(t, bob, true).CreateChat(ctx, connect.NewRequest(&chatv1.CreateChatRequest{ParticipantIds: []string{alice.String()}})); code(err) != connect.CodeNotFound {
		t.Fatalf("create while blocked: %v", err)
	}
	// Unauthenticated callers are refused.
	anon := chatv1connect.NewChatServiceClient(e.h1, e.url)
	if _, err := anon.ListChats(ctx, connect.NewRequest(&chatv1.ListChatsRequest{})); code(err) != connect.CodeUnauthenticated {
		t.Fatalf("anonymous: %v", err)
	}
}

func TestChatBadInput(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	alice, bob := e.user(t, "alice"), e.user(t, "bob")
	ca := e.client(t, alice, true)
	for name, call := range map[string]func() error{
		"self only": func() error {
			_, err := ca.CreateChat(ctx, connect.NewRequest(&chatv1.CreateChatRequest{ParticipantIds: []string{alice.String()}}))
			return err
		},
		"direct with 3": func() error {
			_, err := ca.CreateChat(ctx, connect.NewRequest(&chatv1.CreateChatRequest{ParticipantIds: []string{bob.String(), id.New().String()}}))
			return err
		},
		"bad id": func() error {
			_, err := ca.CreateChat(ctx, connect.NewRequest(&chatv1.CreateChatRequest{ParticipantIds: []string{"../etc"}}))
			return err
		},
		"bad chat id": func() error {
			_, err := ca.GetChat(ctx, connect.NewRequest(&chatv1.GetChatRequest{ChatId: "nope"}))
			return err
		},
		"blank text": func() error {
			_, err := ca.SendMessage(ctx, connect.NewRequest(&chatv1.SendMessageRequest{ChatId: id.New().String(), Text: "   "}))
			return err
		},
		"huge text": func() error {
			_, err := ca.SendMessage(ctx, connect.NewRequest(&chatv1.SendMessageRequest{ChatId: id.New().String(), Text: string(make([]byte, 5000))}))
			return err
		},
		"bad cursor": func() error {
			_, err := ca.ListChats(ctx, connect.NewRequest(&chatv1.ListChatsRequest{Page: &commonv1.PageRequest{Cursor: "!!"}}))
			return err
		},
	} {
		if err := call(); code(err) != connect.CodeInvalidArgument {
			t.Errorf("%s: %v", name, err)
		}
	}
	// An unknown user is not found, never a 500.
	if _, err := ca.CreateChat(ctx, connect.NewRequest(&chatv1.CreateChatRequest{ParticipantIds: []string{id.New().String()}})); code(err) != connect.CodeNotFound {
		t.Fatalf("unknown user: %v", err)
	}
}
