package rest

import (
	"context"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/infliq/infliq/backend/importer"
	"github.com/infliq/infliq/backend/importer/importtest"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/mediaurl"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
)

func (g *authGateway) get(path, token string) reply {
	g.t.Helper()
	return g.do("GET", path, nil, "Authorization", "Bearer "+token)
}

func ids(list any) []string {
	var out []string
	items, _ := list.([]any)
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			s, _ := m["_id"].(string)
			out = append(out, s)
		}
	}
	return out
}

// TestImportedDataThroughLegacyRoutes imports legacy documents from a real
// Mongo-wire server, then uses the app's routes through the gateway: legacy
// users log in (bcrypt password, phone OTP) and see their feed, chats and
// messages under the same ids.
func TestImportedDataThroughLegacyRoutes(t *testing.T) {
	g := newAuthGateway(t, 0)
	now := time.Now().UTC()
	mdb := importtest.Start(t, "infliq")
	f := importtest.Seed(t, mdb, now)
	if _, err := importer.Run(context.Background(), importer.Options{Mongo: mdb, DB: g.pool,
		Media: mediaurl.New(config.S3{Bucket: "infliq-media"}), Batch: 3}); err != nil {
		t.Fatal(err)
	}

	// A's bcrypt hash from the legacy auth-service still logs in.
	r := g.post("/api/auth/login", map[string]any{"email": f.AEmail, "password": f.APassword})
	want(t, r, 200, "")
	u, _ := r.body["user"].(map[string]any)
	if u["_id"] != f.A.Hex() || u["id"] != f.A.Hex() {
		t.Fatalf("login as imported user: %s", r.raw)
	}
	want(t, g.post("/api/auth/login", map[string]any{"email": f.AEmail, "password": "wrong"}), 401, "UNAUTHORIZED")
	// D's plaintext password was never imported.
	want(t, g.post("/api/auth/login", map[string]any{"email": "dev@example.com", "password": f.DPassword}), 401, "")

	// B logs in by OTP with the phone typed as the app does; the legacy
	// "+91 98765 43211" was normalised to the same account.
	want(t, g.post("/api/auth/send-otp", map[string]any{"phone": f.BPhone}), 200, "")
	r = g.post("/api/auth/verify-otp", map[string]any{"phone": f.BPhone, "otp": g.code("+91" + f.BPhone)})
	want(t, r, 200, "")
	ub, _ := r.body["user"].(map[string]any)
	if ub["_id"] != f.B.Hex() {
		t.Fatalf("OTP login landed on %v, want %s: %s", ub["_id"], f.B.Hex(), r.raw)
	}
	tokB, _ := r.body["token"].(string)

	// Feed: the imported posts under their ids.
	r = g.get("/api/posts/feed?limit=50", tokB)
	want(t, r, 200, "")
	feed := ids(r.body["posts"])
	if !slices.Contains(feed, f.PostMS.Hex()) || slices.Contains(feed, f.PostDangling.Hex()) {
		t.Fatalf("feed %v", feed)
	}
	r = g.get("/api/posts/"+f.PostMS.Hex(), tokB)
	want(t, r, 200, "")
	post, _ := r.body["post"].(map[string]any)
	if post["_id"] != f.PostMS.Hex() || !slices.Contains(ids(post["comments"]), f.CommentA.Hex()) {
		t.Fatalf("post %s", r.raw)
	}

	// Chats and their messages, ids preserved.
	r = g.get("/api/chats", tokB)
	want(t, r, 200, "")
	chats := ids(r.body["chats"])
	if !slices.Contains(chats, f.BigChat.Hex()) || !slices.Contains(chats, f.DupChat.Hex()) {
		t.Fatalf("chats %v, want %s and %s", chats, f.BigChat.Hex(), f.DupChat.Hex())
	}
	// Page through the whole 1,000-message chat with ?before=.
	var got []string
	before := ""
	for page := 0; page < 20; page++ {
		r = g.get("/api/chats/"+f.BigChat.Hex()+"?limit=100"+before, tokB)
		want(t, r, 200, "")
		c, _ := r.body["chat"].(map[string]any)
		if c["_id"] != f.BigChat.Hex() {
			t.Fatalf("chat %s", r.raw)
		}
		ms, _ := c["messages"].([]any)
		got = append(got, ids(ms)...)
		oldest := ""
		for _, m := range ms {
			if ts, _ := m.(map[string]any)["createdAt"].(string); oldest == "" || ts < oldest {
				oldest = ts
			}
		}
		if c["hasMore"] != true || oldest == "" {
			break
		}
		before = "&before=" + url.QueryEscape(oldest)
	}
	wantIDs := make([]string, 0, len(f.BigChatMessages))
	for _, m := range f.BigChatMessages {
		wantIDs = append(wantIDs, m.Hex())
	}
	slices.Sort(got)
	slices.Sort(wantIDs)
	if !slices.Equal(got, wantIDs) {
		t.Fatalf("chat pages: %d message ids, want the %d seeded ones", len(got), len(wantIDs))
	}
	// A token minted by the Node backend before cutover ({userId, email},
	// HS256, same secret) reads the imported chats without a new login.
	legacy, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"userId": f.A.Hex(), "email": f.AEmail,
		"iat": now.Unix(), "exp": now.Add(7 * 24 * time.Hour).Unix()}).SignedString([]byte(tiertest.Secret))
	if err != nil {
		t.Fatal(err)
	}
	r = g.get("/api/chats", legacy)
	want(t, r, 200, "")
	if !slices.Contains(ids(r.body["chats"]), f.BigChat.Hex()) {
		t.Fatalf("legacy token chats: %s", r.raw)
	}

	// Another user's chat stays private after import.
	r = g.post("/api/auth/login", map[string]any{"email": f.AEmail, "password": f.APassword})
	tokA, _ := r.body["token"].(string)
	if r := g.get("/api/chats/"+f.GhostChat.Hex(), tokA); r.status != 404 && r.status != 403 {
		t.Fatalf("foreign chat: %d %s", r.status, r.raw)
	}
}
