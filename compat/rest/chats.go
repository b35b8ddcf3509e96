package rest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	chatv1 "github.com/infliq/infliq/backend/gen/infliq/chat/v1"
	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/compat/legacyjson"
)

// Legacy chat routes (contract §A.6, §A.10, §B.2 rows 21–23).
func (rt *Router) registerChats() {
	rt.authed("GET /api/chats", rt.listChats)
	rt.authed("GET /api/chats/{chatId}", rt.getChat)
	rt.authed("POST /api/chats", rt.createChat)
}

// chatListCap bounds GET /api/chats: the app never pages, so the first page
// holds up to this many chats (the legacy monolith returned all of them,
// with every message; the microservice only 20).
const chatListCap = 100

var legacyChatType = map[chatv1.ChatType]string{
	chatv1.ChatType_CHAT_TYPE_DIRECT: "chat", chatv1.ChatType_CHAT_TYPE_COMMUNITY: "community", chatv1.ChatType_CHAT_TYPE_DEBATE: "debate",
}

func legacyParticipants(ps []*commonv1.UserSummary) []map[string]any {
	out := make([]map[string]any, 0, len(ps))
	for _, p := range ps {
		out = append(out, map[string]any{"_id": p.GetId(), "id": p.GetId(), "name": p.GetName(),
			"profilePicture": p.GetProfilePicture(), "profilePhoto": p.GetProfilePicture()})
	}
	return out
}

// legacyChat renders a chat; messages are the given ones (the list shows
// the last message only, so the app's preview keeps working without the
// unbounded arrays of the legacy backends).
func legacyChat(c *chatv1.Chat, msgs []*chatv1.Message) map[string]any {
	ms := make([]map[string]any, 0, len(msgs))
	for _, m := range msgs {
		ms = append(ms, legacyjson.Message(m))
	}
	out := map[string]any{
		"_id": c.GetId(), "id": c.GetId(), "type": legacyChatType[c.GetType()], "participants": legacyParticipants(c.GetParticipants()),
		"messages": ms, "lastMessage": c.GetLastMessage().GetText(), "lastMessageAt": legacyjson.Time(c.GetLastMessageAt()),
		"createdAt": legacyjson.Time(c.GetCreatedAt()), "unreadCount": c.GetUnreadCount(), "__v": 0,
	}
	return out
}

func positiveInt(r *http.Request, name string, def, max int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, apperr.BadRequest("Invalid " + name)
	}
	return min(n, max), nil
}

func (rt *Router) listChats(w http.ResponseWriter, r *http.Request, _ authn.Principal) {
	page, err := positiveInt(r, "page", 1, 1000)
	if err != nil {
		writeError(w, err)
		return
	}
	limit, err := positiveInt(r, "limit", chatListCap, chatListCap)
	if err != nil {
		writeError(w, err)
		return
	}
	// Pages are cursor-based underneath; walk to the asked page.
	var res *connect.Response[chatv1.ListChatsResponse]
	cursor := ""
	for i := 0; i < page; i++ {
		res, err = rt.d.Clients.Chat.ListChats(r.Context(), Forward(r, connect.NewRequest(&chatv1.ListChatsRequest{
			Page: &commonv1.PageRequest{Cursor: cursor, Limit: int32(limit)}})))
		if err != nil {
			writeError(w, err)
			return
		}
		cursor = res.Msg.GetPage().GetNextCursor()
		if cursor == "" && i < page-1 {
			res.Msg.Chats = nil
			break
		}
	}
	chats := make([]map[string]any, 0, len(res.Msg.GetChats()))
	for _, c := range res.Msg.GetChats() {
		var msgs []*chatv1.Message
		if c.LastMessage != nil {
			msgs = []*chatv1.Message{c.LastMessage}
		}
		chats = append(chats, legacyChat(c, msgs))
	}
	total := int(res.Msg.GetTotal())
	writeJSON(w, http.StatusOK, map[string]any{
		"chats":      chats,
		"pagination": map[string]any{"total": total, "page": page, "limit": limit, "hasMore": total > (page-1)*limit+len(chats)},
	})
}

func (rt *Router) getChat(w http.ResponseWriter, r *http.Request, _ authn.Principal) {
	chatID := strings.ToLower(r.PathValue("chatId"))
	if !id.Valid(chatID) {
		writeLegacy(w, http.StatusBadRequest, "Invalid Chat ID format", "BAD_REQUEST")
		return
	}
	limit, err := positiveInt(r, "limit", 50, 100)
	if err != nil {
		writeError(w, err)
		return
	}
	req := &chatv1.ListMessagesRequest{ChatId: chatID, Limit: int32(limit)}
	if b := r.URL.Query().Get("before"); b != "" {
		t, err := time.Parse(time.RFC3339Nano, b)
		if err != nil {
			writeLegacy(w, http.StatusBadRequest, "Invalid before date", "BAD_REQUEST")
			return
		}
		req.BeforeTime = timestamppb.New(t)
	}
	c, err := rt.d.Clients.Chat.GetChat(r.Context(), Forward(r, connect.NewRequest(&chatv1.GetChatRequest{ChatId: chatID})))
	if err != nil {
		if connect.CodeOf(err) == connect.CodeNotFound {
			writeLegacy(w, http.StatusNotFound, "Chat not found", "NOT_FOUND")
			return
		}
		writeError(w, err)
		return
	}
	ms, err := rt.d.Clients.Chat.ListMessages(r.Context(), Forward(r, connect.NewRequest(req)))
	if err != nil {
		writeError(w, err)
		return
	}
	out := legacyChat(c.Msg.GetChat(), ms.Msg.GetMessages())
	out["hasMore"] = ms.Msg.GetHasMore()
	writeJSON(w, http.StatusOK, map[string]any{"chat": out})
}

func (rt *Router) createChat(w http.ResponseWriter, r *http.Request, _ authn.Principal) {
	var body struct {
		Type         *string         `json:"type"`
		Participants json.RawMessage `json:"participants"`
	}
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, err)
		return
	}
	var parts []string
	if len(body.Participants) == 0 || json.Unmarshal(body.Participants, &parts) != nil {
		writeLegacy(w, http.StatusBadRequest, "participants must be an array of user ids", "BAD_REQUEST")
		return
	}
	typ := chatv1.ChatType_CHAT_TYPE_DIRECT
	if body.Type != nil {
		switch *body.Type {
		case "chat":
		case "community":
			typ = chatv1.ChatType_CHAT_TYPE_COMMUNITY
		case "debate":
			typ = chatv1.ChatType_CHAT_TYPE_DEBATE
		default:
			writeLegacy(w, http.StatusBadRequest, "Invalid chat type", "BAD_REQUEST")
			return
		}
	}
	for _, p := range parts {
		if !id.Valid(p) {
			writeLegacy(w, http.StatusBadRequest, "Invalid participant id", "BAD_REQUEST")
			return
		}
	}
	if len(parts) == 0 {
		writeLegacy(w, http.StatusBadRequest, "Individual chats must have exactly 2 participants", "BAD_REQUEST")
		return
	}
	res, err := rt.d.Clients.Chat.CreateChat(r.Context(), Forward(r, connect.NewRequest(&chatv1.CreateChatRequest{Type: typ, ParticipantIds: parts})))
	if err != nil {
		writeError(w, err)
		return
	}
	c := res.Msg.GetChat()
	var msgs []*chatv1.Message
	if c.LastMessage != nil {
		msgs = []*chatv1.Message{c.LastMessage}
	}
	writeJSON(w, http.StatusOK, legacyChat(c, msgs))
}
