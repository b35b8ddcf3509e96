package rest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/infliq/infliq/backend/gateway"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/httpx"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/logx"
	"github.com/infliq/infliq/backend/platform/metrics"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
	"github.com/infliq/infliq/backend/user"
	"github.com/infliq/infliq/compat/rest"
)

// edge is the real gateway with the legacy router in front of a real user tier.
type edge struct {
	t    testing.TB
	pool *pgxpool.Pool
	url  string
	hc   *http.Client
	// self maps a token to its user id (own payloads may carry phone/email).
	self map[string]string
}

func newEdge(t testing.TB) *edge {
	t.Helper()
	pool := pgtest.New(t)
	userURL, _, _ := tiertest.Serve(t, user.NewTier(tiertest.Deps(), pool).Handler())
	u, _ := url.Parse(userURL)
	router := rest.New(rest.Deps{
		Log: logx.Discard(), Verifier: tiertest.Verifier(),
		Clients: rest.NewClients(&http.Client{Transport: httpx.NewTransport()}, rest.URLs{User: userURL}),
	})
	gw := gateway.New(gateway.Options{
		Upstreams: gateway.Upstreams{"user": u}, Legacy: router, Log: logx.Discard(), Metrics: metrics.New(),
		Edge: config.Gateway{MaxBodyBytes: 1 << 20},
	})
	gwURL, _, h1 := tiertest.Serve(t, gw)
	return &edge{t: t, pool: pool, url: gwURL, hc: h1, self: map[string]string{}}
}

func (e *edge) user(name string, loc ...float64) (id.ID, string) {
	e.t.Helper()
	uid := id.New()
	var lat, lng *float64
	if len(loc) == 2 {
		lat, lng = &loc[0], &loc[1]
	}
	if _, err := e.pool.Exec(context.Background(), `INSERT INTO users (id, name, latitude, longitude, location_updated_at, profile_picture)
		VALUES ($1, $2, $3, $4, CASE WHEN $3::float8 IS NOT NULL THEN now() END, 'p.jpg')`,
		uid, name, lat, lng); err != nil {
		e.t.Fatal(err)
	}
	tok := tiertest.Token(e.t, uid)
	e.self[tok] = uid.String()
	return uid, tok
}

// do sends a request and decodes the JSON body.
func (e *edge) do(method, path, tok, body string) (int, map[string]any) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, e.url+path, rd)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := e.hc.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		e.t.Fatalf("%s %s: non-JSON %d body %q", method, path, res.StatusCode, raw)
	}
	if m["_id"] == e.self[tok] && m["_id"] != nil {
		return res.StatusCode, m // the caller's own profile
	}
	if bytes.Contains(bytes.ToLower(raw), []byte(`"phone"`)) || bytes.Contains(bytes.ToLower(raw), []byte(`"email"`)) ||
		bytes.Contains(raw, []byte(`"password`)) || bytes.Contains(raw, []byte(`"blockedUsers":["`+"x")) {
		e.t.Fatalf("%s %s leaks private fields: %s", method, path, raw)
	}
	return res.StatusCode, m
}

func (e *edge) want(status int, method, path, tok, body string) map[string]any {
	e.t.Helper()
	got, m := e.do(method, path, tok, body)
	if got != status {
		e.t.Fatalf("%s %s: status %d, want %d: %v", method, path, got, status, m)
	}
	return m
}

func TestLegacyUserRoutesThroughGateway(t *testing.T) {
	e := newEdge(t)
	a, ta := e.user("Asha", 17.385, 78.4867)
	b, tb := e.user("Bo", 17.39, 78.49)
	c, tc := e.user("Chen 100%", 17.40, 78.50)
	_ = tc

	// Follow through both spellings; the second is idempotent.
	e.want(200, "POST", "/api/users/"+b.String()+"/follow", ta, "")
	m := e.want(200, "POST", "/api/users/follow/"+b.String(), ta, "")
	if m["message"] != "User followed successfully" || m["followersCount"] != 1.0 {
		t.Fatalf("MS follow: %v", m)
	}
	e.want(200, "POST", "/api/users/follow/"+a.String(), tb, "")

	// GET /api/users/:id: {user} and the same fields at the top level.
	m = e.want(200, "GET", "/api/users/"+b.String(), ta, "")
	u, _ := m["user"].(map[string]any)
	if u == nil || u["_id"] != b.String() || u["id"] != b.String() || m["_id"] != b.String() || m["name"] != "Bo" ||
		u["profilePicture"] != "p.jpg" || u["profilePhoto"] != "p.jpg" || m["isFollowing"] != true {
		t.Fatalf("profile shape: %v", m)
	}
	// Another user's position leaves the server only through the map,
	// coarsened (issue 18); ProfileScreen never reads it.
	if u["location"] != nil {
		t.Fatalf("location of another user: %v", u["location"])
	}
	// Connections are id strings (ProfileScreen: followers.length).
	fers, _ := m["followers"].([]any)
	if len(fers) != 1 || fers[0] != a.String() {
		t.Fatalf("followers: %v", m["followers"])
	}
	// /me is never taken for an id; neither are /nearby and /search (B1).
	if m := e.want(200, "GET", "/api/users/me", ta, ""); m["_id"] != a.String() {
		t.Fatalf("me: %v", m)
	}
	m = e.want(200, "GET", "/api/users/nearby?lat=17.385&lng=78.4867&category=global", ta, "")
	users, _ := m["users"].([]any)
	if len(users) != 2 || users[0].(map[string]any)["_id"] != b.String() || m["fallbackUsed"] != false {
		t.Fatalf("nearby: %v", m)
	}
	m = e.want(200, "GET", "/api/users/nearby?latitude=17.385&longitude=78.4867&maxDistance=1000", ta, "")
	if users, _ := m["users"].([]any); len(users) != 1 {
		t.Fatalf("nearby 1km: %v", m)
	}
	e.want(400, "GET", "/api/users/nearby?lat=17", ta, "")
	e.want(400, "GET", "/api/users/nearby?lat=abc&lng=1", ta, "")
	e.want(400, "GET", "/api/users/nearby?lat=95&lng=1", ta, "")
	e.want(400, "GET", "/api/users/nearby?lat=1&lng=1&maxDistance=-5", ta, "")

	m = e.want(200, "GET", "/api/users/search?q="+url.QueryEscape("%"), ta, "")
	if users, _ := m["users"].([]any); len(users) != 1 || users[0].(map[string]any)["_id"] != c.String() {
		t.Fatalf("search %%: %v", m)
	}
	if m := e.want(200, "GET", "/api/users/search?q=", ta, ""); len(m["users"].([]any)) != 0 {
		t.Fatalf("empty search: %v", m)
	}
	e.want(400, "GET", "/api/users/search?q="+strings.Repeat("x", 101), ta, "")

	m = e.want(200, "GET", "/api/users/followers/"+b.String(), tb, "")
	if l, _ := m["followers"].([]any); len(l) != 1 {
		t.Fatalf("followers: %v", m)
	}
	m = e.want(200, "GET", "/api/users/following/"+b.String(), tb, "")
	if l, _ := m["following"].([]any); len(l) != 1 || l[0].(map[string]any)["_id"] != a.String() {
		t.Fatalf("following: %v", m)
	}
	e.want(400, "GET", "/api/users/followers/"+b.String()+"?limit=abc", tb, "")
	e.want(200, "GET", "/api/users/profile/"+b.String(), ta, "")
	e.want(200, "GET", "/api/users/by-category/global?limit=5", ta, "")

	// Updates: self only, whitelisted fields, clearing works.
	e.want(403, "PUT", "/api/users/"+b.String(), ta, `{"name":"pwned"}`)
	m = e.want(200, "PUT", "/api/users/"+a.String(), ta,
		`{"name":" Asha K ","email":"a@x.io","gender":"f","bio":"hi","profilePicture":"new.jpg","phone":"+1","followers":["x"]}`)
	if m["name"] != "Asha K" || m["gender"] != "f" || m["profilePhoto"] != "new.jpg" || m["user"] == nil {
		t.Fatalf("update: %v", m)
	}
	m = e.want(200, "PUT", "/api/users/profile", ta, `{"bio":"","location":{"coordinates":[1.5,2.5]},"categories":["Sports"],"age":31}`)
	if m["bio"] != "" || m["category"] != "sports" || m["age"] != 31.0 || m["name"] != "Asha K" {
		t.Fatalf("update profile: %v", m)
	}
	e.want(400, "PUT", "/api/users/profile", ta, `{"age":"old"}`)
	e.want(400, "PUT", "/api/users/profile", ta, `{"location":{"coordinates":[500,2]}}`)
	e.want(400, "PUT", "/api/users/profile", ta, `{not json`)

	// Unfollow through both spellings.
	m = e.want(200, "DELETE", "/api/users/unfollow/"+b.String(), ta, "")
	if m["message"] != "User unfollowed successfully" {
		t.Fatalf("unfollow: %v", m)
	}
	e.want(200, "DELETE", "/api/users/"+b.String()+"/follow", ta, "")

	// Report (the route the app called and no backend had), block, unblock.
	m = e.want(200, "POST", "/api/users/"+b.String()+"/report", ta, `{"reason":"abusive_user","details":"Reported from profile"}`)
	if m["message"] != "Report submitted for review" {
		t.Fatalf("report: %v", m)
	}
	e.want(404, "POST", "/api/users/"+id.New().String()+"/report", ta, `{}`)
	e.want(400, "POST", "/api/users/"+b.String()+"/report", ta, `[`)
	m = e.want(200, "POST", "/api/users/"+b.String()+"/block", ta, `{"reason":"abusive_user","details":"Blocked from feed"}`)
	if bl, _ := m["blockedUsers"].([]any); len(bl) != 1 || bl[0] != b.String() {
		t.Fatalf("block: %v", m)
	}
	// Blocked either way: profile 404, gone from search and nearby.
	e.want(404, "GET", "/api/users/"+a.String(), tb, "")
	e.want(404, "GET", "/api/users/"+b.String(), ta, "")
	if m := e.want(200, "GET", "/api/users/search?q=asha", tb, ""); len(m["users"].([]any)) != 0 {
		t.Fatalf("blocked in search: %v", m)
	}
	e.want(409, "POST", "/api/users/"+b.String()+"/follow", ta, "")
	e.want(404, "POST", "/api/users/"+a.String()+"/follow", tb, "")
	e.want(400, "POST", "/api/users/"+a.String()+"/block", ta, "")
	e.want(200, "POST", "/api/users/"+b.String()+"/unblock", ta, "")
	e.want(200, "GET", "/api/users/"+a.String(), tb, "")

	// Bad ids and unknown actions are JSON 404s, never 500s.
	e.want(404, "GET", "/api/users/not-an-id", ta, "")
	e.want(404, "POST", "/api/users/not-an-id/follow", ta, "")
	e.want(404, "POST", "/api/users/"+b.String()+"/explode", ta, "")
	e.want(404, "PUT", "/api/users/xyz", ta, `{}`)
	// No token: 401 before anything else.
	e.want(401, "GET", "/api/users/me", "", "")
	e.want(401, "POST", "/api/users/"+b.String()+"/follow", "", "")

	// Account deletion removes the user from every read path.
	e.want(200, "DELETE", "/api/users/me", ta, "")
	e.want(404, "GET", "/api/users/"+a.String(), tb, "")
	if m := e.want(200, "GET", "/api/users/nearby?lat=17.385&lng=78.4867", tb, ""); len(m["users"].([]any)) != 1 {
		t.Fatalf("deleted user still nearby: %v", m)
	}
	if m := e.want(200, "GET", "/api/users/followers/"+b.String(), tb, ""); len(m["followers"].([]any)) != 0 {
		t.Fatalf("deleted user still a follower: %v", m)
	}
}
