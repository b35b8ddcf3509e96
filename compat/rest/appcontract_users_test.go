package rest_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
)

// Contract tests for the live app's screens (issue 18). Each names the
// screen and the fields its code reads (app sources: src/screens/…,
// src/context/AuthContext.js, newest of the stored commits).

func ids(v any) []string {
	l, ok := v.([]any)
	if !ok {
		return nil
	}
	out := []string{}
	for _, x := range l {
		s, ok := x.(string)
		if !ok {
			return nil // not an id string: includes(id) would never match
		}
		out = append(out, s)
	}
	return out
}

func has(l []string, v string) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

// AuthContext.checkAuth / refreshUser: GET /api/users/<stored userId>,
// `data.user || data` becomes the session user. ProfileScreen then does
// `currentUser.following.includes(profile._id)` and FeedScreen's PostItem
// `user.following.includes(postUser._id)`: `following` must be id strings,
// at the top level and under `user`. Fails on main (populated objects).
func TestAppContractColdStartFollowState(t *testing.T) {
	e := newEdge(t)
	a, ta := e.user("Asha")
	b, _ := e.user("Bo")
	c, tc := e.user("Chen")
	e.want(200, "POST", "/api/users/"+b.String()+"/follow", ta, "")
	e.want(200, "POST", "/api/users/"+a.String()+"/follow", tc, "")
	m := e.want(200, "GET", "/api/users/"+a.String(), ta, "")
	for _, u := range []map[string]any{m, m["user"].(map[string]any)} {
		if f := ids(u["following"]); len(f) != 1 || !has(f, b.String()) {
			t.Fatalf("following: %v", u["following"])
		}
		if f := ids(u["followers"]); len(f) != 1 || !has(f, c.String()) {
			t.Fatalf("followers: %v", u["followers"])
		}
	}
	// Unfollow shows at once (the next cold start reads the database).
	e.want(200, "DELETE", "/api/users/"+b.String()+"/follow", ta, "")
	if f := ids(e.want(200, "GET", "/api/users/"+a.String(), ta, "")["following"]); f == nil || len(f) != 0 {
		t.Fatalf("after unfollow: %v", f)
	}
}

// ProfileScreen (another user's profile): `profile.followers?.length` and
// `profile.following?.length` are the counters; handleFollow appends
// `currentUser._id` to `followers` (id strings). Fails on main (objects).
func TestAppContractProfileScreenCounts(t *testing.T) {
	e := newEdge(t)
	a, ta := e.user("Asha")
	b, tb := e.user("Bo")
	_, tc := e.user("Chen")
	e.want(200, "POST", "/api/users/"+b.String()+"/follow", ta, "")
	e.want(200, "POST", "/api/users/"+b.String()+"/follow", tc, "")
	e.want(200, "POST", "/api/users/"+a.String()+"/follow", tb, "")
	m := e.want(200, "GET", "/api/users/"+b.String(), ta, "")
	fers, fing := ids(m["followers"]), ids(m["following"])
	if len(fers) != 2 || !has(fers, a.String()) || len(fing) != 1 || fing[0] != a.String() ||
		m["followersCount"] != 2.0 || m["followingCount"] != 1.0 {
		t.Fatalf("profile: followers %v following %v", m["followers"], m["following"])
	}
	// A block hides the blocked user from the lists too.
	e.want(200, "POST", "/api/users/"+a.String()+"/block", tc, "")
	if fers := ids(e.want(200, "GET", "/api/users/"+b.String(), ta, "")["followers"]); len(fers) != 1 {
		t.Fatalf("after a block: %v", fers)
	}
}

// MapDiscoveryScreen.loadUsers: GET /api/users/nearby?lat&lng&category with
// the device position (from Location.getCurrentPositionAsync) as lat/lng,
// or DEFAULT_REGION (28.6139, 77.209) without one. It reads `users[]`:
// `_id, name, bio, profilePicture, location.coordinates [lng,lat]` (a user
// without coordinates or at [0,0] is drawn at a fake spot near the centre,
// so none is ever sent), `role || category`. A user who opened the map is
// on others' maps, coarsened; categories as M2: verified, global (all),
// ghost (users in the ghost category). Fails on main (nobody recorded).
func TestAppContractMapDiscovery(t *testing.T) {
	e := newEdge(t)
	a, ta := e.user("Asha") // signed up in the app: no stored location
	_, tb := e.user("Bo")
	_, tn := e.user("No permission")
	if _, err := e.pool.Exec(context.Background(), `UPDATE users SET categories = '{ghost}' WHERE id = $1`, a); err != nil {
		t.Fatal(err)
	}
	e.want(200, "GET", "/api/users/nearby?lat=17.3851&lng=78.4868&category=verified", ta, "")
	e.want(200, "GET", "/api/users/nearby?lat=28.6139&lng=77.209&category=global", tn, "")
	for cat, want := range map[string]bool{"global": true, "ghost": true, "verified": false, "": true} {
		m := e.want(200, "GET", "/api/users/nearby?lat=17.39&lng=78.49&category="+cat, tb, "")
		var found map[string]any
		for _, u := range m["users"].([]any) {
			u := u.(map[string]any)
			coords, _ := u["location"].(map[string]any)["coordinates"].([]any)
			if len(coords) != 2 || (coords[0] == 0.0 && coords[1] == 0.0) {
				t.Fatalf("user without real coordinates: %v", u)
			}
			if u["_id"] == a.String() {
				found = u
			}
			if u["name"] == "No permission" {
				t.Fatal("fallback centre recorded as a position")
			}
		}
		if (found != nil) != want {
			t.Fatalf("category %q: a found=%v: %v", cat, found != nil, m)
		}
		if found != nil {
			coords := found["location"].(map[string]any)["coordinates"].([]any)
			if coords[0] == 78.4868 || coords[1] == 17.3851 || found["role"] == nil || found["profilePicture"] == nil {
				t.Fatalf("position not coarsened or fields missing: %v", found)
			}
		}
	}
	// Hide from the map (legacy PUT with showOnMap; no app screen has a
	// switch yet), then the position is gone and not recorded again.
	e.want(400, "PUT", "/api/users/"+a.String(), ta, `{"showOnMap":"no"}`)
	m := e.want(200, "PUT", "/api/users/"+a.String(), ta, `{"showOnMap":false}`)
	if m["location"] != nil {
		t.Fatalf("hidden user keeps a location: %v", m)
	}
	e.want(200, "GET", "/api/users/nearby?lat=17.3851&lng=78.4868", ta, "")
	for _, u := range e.want(200, "GET", "/api/users/nearby?lat=17.39&lng=78.49", tb, "")["users"].([]any) {
		if u.(map[string]any)["_id"] == a.String() {
			t.Fatal("hidden user on the map")
		}
	}
	if me := e.want(200, "GET", "/api/users/me", ta, ""); me["showOnMap"] != false || me["phoneDiscoverable"] != true {
		t.Fatalf("settings: %v", me)
	}
	// Bad input is a 400, never a 5xx.
	for _, q := range []string{"lat=NaN&lng=1", "lat=1&lng=Infinity", "lat=%00&lng=1", "lat=91&lng=0", "lat=0&lng=181", "lat=" + strings.Repeat("9", 400) + "&lng=1"} {
		e.want(400, "GET", "/api/users/nearby?"+q, ta, "")
	}
}

// SearchScreenV2.handleSearch: GET /api/users/search?q=<typed text> when
// the text is longer than 1; it reads `users[]`: `_id, name,
// profilePicture` and the subtitle `item.phone || item.email`, which
// renders empty when both are absent. So others' phone and email are never
// sent (edge.do fails the test on any "phone"/"email" key), and a whole
// number finds its holder while digits never match as a fragment. Fails on
// main (names only).
func TestAppContractSearchByPhone(t *testing.T) {
	e := newEdge(t)
	a, _ := e.user("Asha")
	_, tb := e.user("Bo")
	if _, err := e.pool.Exec(context.Background(), `INSERT INTO auth_credentials (user_id, phone, email) VALUES ($1, '+919876543210', 'asha@example.com')`, a); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"9876543210", "+91 98765 43210"} {
		m := e.want(200, "GET", "/api/users/search?q="+url.QueryEscape(q), tb, "")
		if u := m["users"].([]any); len(u) != 1 || u[0].(map[string]any)["_id"] != a.String() {
			t.Fatalf("%q: %v", q, m)
		}
	}
	for _, q := range []string{"98765", "987654321", "43210"} {
		if u := e.want(200, "GET", "/api/users/search?q="+q, tb, "")["users"].([]any); len(u) != 0 {
			t.Fatalf("%q matched %v", q, u)
		}
	}
	for _, q := range []string{"%00", "%FF%FE", "98765%0043210"} {
		if st, _ := e.do("GET", "/api/users/search?q="+q, tb, ""); st >= 500 {
			t.Fatalf("%q: %d", q, st)
		}
	}
}
