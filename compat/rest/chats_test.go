package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/infliq/infliq/backend/chat"
	"github.com/infliq/infliq/backend/gateway"
	chatv1 "github.com/infliq/infliq/backend/gen/infliq/chat/v1"
	"github.com/infliq/infliq/backend/gen/infliq/chat/v1/chatv1connect"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/cache/redistest"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/httpx"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/logx"
	"github.com/infliq/infliq/backend/platform/metrics"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
)

// chatEdge runs the chat tier behind the real gateway and legacy router.
type chatEdge struct {
	pool    *pgxpool.Pool
	gw      string
	chatURL string
	h1      *http.Client
}

func newChatEdge(t *testing.T) *chatEdge {
	t.Helper()
	pool := pgtest.New(t)
	rdb := redistest.New(t)
	chatURL, _, h1 := tiertest.Serve(t, chat.NewTier(tiertest.Deps(), pool, bus.New(rdb, redistest.Prefix(), 100)).Handler())
	cu, _ := url.Parse(chatURL)
	legacy := New(Deps{Log: logx.Discard(), Verifier: tiertest.Verifier(),
		Clients: NewClients(&http.Client{Transport: httpx.NewTransport()}, URLs{Chat: chatURL})})
	g := gateway.New(gateway.Options{Upstreams: gateway.Upstreams{"chat": cu}, Legacy: legacy, Edge: config.Gateway{MaxBodyBytes: 1 << 20}, Log: logx.Discard(), Metrics: metrics.New()})
	gw, _, _ := tiertest.Serve(t, g)
	return &chatEdge{pool: pool, gw: gw, chatURL: chatURL, h1: h1}
}

func (e *chatEdge) user(t *testing.T, name string) id.ID {
	t.Helper()
	uid := id.New()
	if _, err := e.pool.Exec(context.Background(), `INSERT INTO users (id, name, profile_picture) VALUES ($1, $2, 'p.jpg')`, uid.String(), name); err != nil {
		t.Fatal(err)
	}
	return uid
}

func (e *chatEdge) do(t *testing.T, method, path, tok string, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, e.gw+path, bytes.NewBufferString(body))
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := e.h1.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func TestLegacyChatRoutes(t *testing.T) {
	e := newChatEdge(t)
	alice, bob, mallory := e.user(t, "alice"), e.user(t, "bob"), e.user(t, "mallory")
	ta, tb, tm := tiertest.Token(t, alice), tiertest.Token(t, bob), tiertest.Token(t, mallory)

	st, c := e.do(t, "POST", "/api/chats", ta, `{"type":"chat","participants":["`+bob.String()+`"]}`)
	if st != 200 || c["_id"] == nil || c["_id"] != c["id"] || c["type"] != "chat" {
		t.Fatalf("create: %d %v", st, c)
	}
	chatID := c["_id"].(string)
	parts := c["participants"].([]any)
	if len(parts) != 2 || parts[0].(map[string]any)["profilePhoto"] != "p.jpg" || parts[0].(map[string]any)["profilePicture"] != "p.jpg" {
		t.Fatalf("participants: %v", parts)
	}
	// The app's ProfileScreen sends this again: the same chat comes back.
	if st, c2 := e.do(t, "POST", "/api/chats", tb, `{"participants":["`+alice.String()+`"]}`); st != 200 || c2["_id"] != chatID {
		t.Fatalf("dedup: %d %v", st, c2)
	}

	cc := chatv1connect.NewChatServiceClient(http.DefaultClient, e.chatURL, tiertest.Bearer(ta))
	for _, txt := range []string{"one", "two", "three"} {
		if _, err := cc.SendMessage(context.Background(), connect.NewRequest(&chatv1.SendMessageRequest{ChatId: chatID, Text: txt})); err != nil {
			t.Fatal(err)
		}
	}

	st, l := e.do(t, "GET", "/api/chats", tb, "")
	if st != 200 {
		t.Fatalf("list: %d %v", st, l)
	}
	chats := l["chats"].([]any)
	first := chats[0].(map[string]any)
	msgs := first["messages"].([]any)
	if len(chats) != 1 || first["_id"] != chatID || first["lastMessage"] != "three" || msgs[len(msgs)-1].(map[string]any)["text"] != "three" || first["unreadCount"] != float64(3) {
		t.Fatalf("list body: %v", l)
	}
	if p := l["pagination"].(map[string]any); p["total"] != float64(1) || p["hasMore"] != false {
		t.Fatalf("pagination: %v", p)
	}

	st, g := e.do(t, "GET", "/api/chats/"+chatID+"?limit=2", tb, "")
	if st != 200 {
		t.Fatalf("get: %d %v", st, g)
	}
	gc := g["chat"].(map[string]any)
	gm := gc["messages"].([]any)
	if len(gm) != 2 || gm[0].(map[string]any)["text"] != "two" || gc["hasMore"] != true || gm[1].(map[string]any)["senderId"] != alice.String() || gm[1].(map[string]any)["type"] != "text" {
		t.Fatalf("get body: %v", g)
	}

	// Authorization: another user's chat is a 404, no token a 401.
	if st, b := e.do(t, "GET", "/api/chats/"+chatID, tm, ""); st != 404 || b["error"] != "Chat not found" {
		t.Fatalf("non-member: %d %v", st, b)
	}
	if st, _ := e.do(t, "GET", "/api/chats", "", ""); st != 401 {
		t.Fatalf("no token: %d", st)
	}
	if st, l := e.do(t, "GET", "/api/chats", tm, ""); st != 200 || len(l["chats"].([]any)) != 0 {
		t.Fatalf("mallory's list: %d %v", st, l)
	}

	// Bad input is a clear 4xx.
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/api/chats/not-an-id", ""},
		{"GET", "/api/chats/" + chatID + "?before=yesterday", ""},
		{"GET", "/api/chats?limit=-1", ""},
		{"POST", "/api/chats", `{"participants":"x"}`},
		{"POST", "/api/chats", `{"participants":[]}`},
		{"POST", "/api/chats", `{"participants":["` + alice.String() + `"]}`},
		{"POST", "/api/chats", `{"type":"evil","participants":["` + bob.String() + `"]}`},
		{"POST", "/api/chats", `{"participants":["../x"]}`},
		{"POST", "/api/chats", `{`},
	} {
		if st, b := e.do(t, c.method, c.path, ta, c.body); st != 400 {
			t.Errorf("%s %s %s: %d %v", c.method, c.path, c.body, st, b)
		}
	}
	if st, b := e.do(t, "POST", "/api/chats", ta, `{"participants":["`+id.New().String()+`"]}`); st != 404 {
		t.Errorf("unknown user: %d %v", st, b)
	}
}
