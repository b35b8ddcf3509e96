package rest

import "testing"

// Contract (issue 18), AuthContext.loginWithOTP keeps verify-otp's `user`
// as the session user; FeedScreen (PostItem: `user.following.includes(
// postUser._id)`) and ProfileScreen (`currentUser.following.includes(
// profile._id)`) decide the Follow buttons from it. A returning user's
// login must carry their follows as id strings, or every followed profile
// shows "Follow" until the next cold start. Fails on main (always []).
func TestAppContractLoginCarriesFollowState(t *testing.T) {
	g := newAuthGateway(t, 0)
	login := func(phone, e164 string) reply {
		t.Helper()
		want(t, g.post("/api/auth/send-otp", map[string]any{"phone": phone}), 200, "")
		r := g.post("/api/auth/verify-otp", map[string]any{"phone": phone, "otp": g.code(e164)})
		want(t, r, 200, "")
		return r
	}
	a := login("9876543210", "+919876543210")
	b := login("9876543211", "+919876543211")
	aID, bID := obj(a.body["user"])["_id"].(string), obj(b.body["user"])["_id"].(string)
	if f := arr(obj(a.body["user"])["following"]); f == nil || len(f) != 0 {
		t.Fatalf("new user's following: %s", a.raw)
	}
	// ProfileScreen.handleFollow: POST /api/users/:id/follow.
	want(t, g.post("/api/users/"+bID+"/follow", nil, "Authorization", "Bearer "+a.body["token"].(string)), 200, "")

	again := login("9876543210", "+919876543210")
	u := obj(again.body["user"])
	if f := arr(u["following"]); len(f) != 1 || f[0] != bID {
		t.Fatalf("login following: %s", again.raw)
	}
	if u["_id"] != aID {
		t.Fatalf("another account: %s", again.raw)
	}
	bu := obj(login("9876543211", "+919876543211").body["user"])
	if f := arr(bu["followers"]); len(f) != 1 || f[0] != aID {
		t.Fatalf("login followers: %v", bu)
	}
}
