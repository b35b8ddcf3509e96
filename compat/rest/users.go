package rest

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"connectrpc.com/connect"

	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	userv1 "github.com/infliq/infliq/backend/gen/infliq/user/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/id"
)

// registerUsers serves every /api/users/* row of the legacy contract. The
// mux picks the most specific pattern, so /nearby, /search and /me are never
// taken for an id (legacy B1). Every route needs a token (legacy S20).
func (rt *Router) registerUsers() {
	rt.authed("GET /api/users/me", rt.getMe)
	rt.authed("DELETE /api/users/me", rt.deleteMe)
	rt.authed("GET /api/users/{id}", rt.getUser)
	rt.authed("GET /api/users/profile/{id}", rt.getProfileMS)
	rt.authed("PUT /api/users/{id}", rt.putUser)
	rt.authed("PUT /api/users/profile", rt.putProfile)
	// /{id}/follow and /follow/{id} overlap (neither pattern is more
	// specific), so two-segment POSTs and DELETEs dispatch here.
	rt.authed("POST /api/users/{a}/{b}", rt.dispatch(map[string]authedFunc{
		"follow": rt.follow(false), "block": rt.block, "unblock": rt.unblock, "report": rt.reportUser,
	}, "follow", rt.follow(true)))
	rt.authed("DELETE /api/users/{a}/{b}", rt.dispatch(map[string]authedFunc{
		"follow": rt.unfollow(false),
	}, "unfollow", rt.unfollow(true)))
	rt.authed("GET /api/users/followers/{id}", rt.connections("followers"))
	rt.authed("GET /api/users/following/{id}", rt.connections("following"))
	rt.authed("GET /api/users/nearby", rt.nearby)
	rt.authed("GET /api/users/by-category/{category}", rt.byCategory)
	rt.authed("GET /api/users/search", rt.searchUsers)
}

type authedFunc = func(http.ResponseWriter, *http.Request, authn.Principal)

// dispatch serves /api/users/{a}/{b}: /<verb>/<id> when a is prefixVerb
// and b an id (MS routes), otherwise /<id>/<action> (M2 routes).
func (rt *Router) dispatch(actions map[string]authedFunc, prefixVerb string, prefixed authedFunc) authedFunc {
	return func(w http.ResponseWriter, r *http.Request, p authn.Principal) {
		a, b := r.PathValue("a"), r.PathValue("b")
		if a == prefixVerb && id.Valid(b) {
			r.SetPathValue("id", b)
			prefixed(w, r, p)
			return
		}
		h, ok := actions[b]
		if !ok {
			writeError(w, apperr.NotFound("Route not found"))
			return
		}
		r.SetPathValue("id", a)
		h(w, r, p)
	}
}

// pathUserID reads {id}; anything but an object id is a legacy 404 (the
// old backends answered 500 for those).
func pathUserID(r *http.Request) (string, error) {
	v := r.PathValue("id")
	if !id.Valid(v) {
		return "", apperr.NotFound("User not found").WithReason("NOT_FOUND")
	}
	return v, nil
}

// The legacy payloads are typed structs rather than maps: encoding/json's
// map encoder sorts keys and boxes every value, which was a quarter of the
// gateway's CPU on the user routes. A *string is null when empty (nullable)
// and *legacyPoint null without a location; field order is irrelevant.

// nullableStr is nullable for typed payloads: nil (JSON null) when empty.
func nullableStr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// legacySummary is a populated user in followers/following lists.
type legacySummary struct {
	UID            string  `json:"_id"`
	ID             string  `json:"id"`
	Name           string  `json:"name"`
	ProfilePicture *string `json:"profilePicture"`
	ProfilePhoto   *string `json:"profilePhoto"`
	IsVerified     bool    `json:"isVerified"`
}

func toLegacySummary(u *commonv1.UserSummary) legacySummary {
	pic := nullableStr(u.GetProfilePicture())
	return legacySummary{UID: u.GetId(), ID: u.GetId(), Name: u.GetName(), ProfilePicture: pic, ProfilePhoto: pic, IsVerified: u.GetIsVerified()}
}

func legacySummaries(us []*commonv1.UserSummary) []legacySummary {
	out := make([]legacySummary, len(us))
	for i, u := range us {
		out[i] = toLegacySummary(u)
	}
	return out
}

// legacyPoint is a GeoJSON point: coordinates are [lng, lat].
type legacyPoint struct {
	Type        string     `json:"type"`
	Coordinates [2]float64 `json:"coordinates"`
}

func toLegacyPoint(l *userv1.Location) *legacyPoint {
	if l == nil {
		return nil
	}
	return &legacyPoint{Type: "Point", Coordinates: [2]float64{l.GetLongitude(), l.GetLatitude()}}
}

// firstCategory is the legacy single category: the first one, or "global".
func firstCategory(u *userv1.User) string {
	if len(u.GetCategories()) > 0 {
		return u.GetCategories()[0]
	}
	return "global"
}

// profileUser is the union of the M2 and MS user payloads, minus phone,
// email, password and block lists (legacy S6).
type profileUser struct {
	UID            string       `json:"_id"`
	ID             string       `json:"id"`
	Name           string       `json:"name"`
	Bio            string       `json:"bio"`
	Gender         string       `json:"gender"`
	ProfilePicture *string      `json:"profilePicture"`
	ProfilePhoto   *string      `json:"profilePhoto"`
	CoverPhoto     *string      `json:"coverPhoto"`
	Categories     []string     `json:"categories"`
	Category       string       `json:"category"`
	IsVerified     bool         `json:"isVerified"`
	FollowersCount int32        `json:"followersCount"`
	FollowingCount int32        `json:"followingCount"`
	PostsCount     int32        `json:"postsCount"`
	IsFollowing    bool         `json:"isFollowing"`
	FollowsYou     bool         `json:"followsYou"`
	Location       *legacyPoint `json:"location"`
	Age            *int32       `json:"age"`
	CreatedAt      string       `json:"createdAt,omitempty"`
}

func legacyProfile(u *userv1.User) profileUser {
	pic := nullableStr(u.GetProfilePicture())
	m := profileUser{
		UID: u.GetId(), ID: u.GetId(), Name: u.GetName(), Bio: u.GetBio(), Gender: u.GetGender(),
		ProfilePicture: pic, ProfilePhoto: pic, CoverPhoto: nullableStr(u.GetCoverPhoto()),
		Categories: u.GetCategories(), Category: firstCategory(u), IsVerified: u.GetIsVerified(),
		FollowersCount: u.GetFollowersCount(), FollowingCount: u.GetFollowingCount(), PostsCount: u.GetPostsCount(),
		IsFollowing: u.GetIsFollowing(), FollowsYou: u.GetFollowsYou(), Location: toLegacyPoint(u.GetLocation()),
	}
	if age := u.GetAge(); age > 0 {
		m.Age = &age
	}
	if u.GetCreatedAt() != nil {
		m.CreatedAt = u.GetCreatedAt().AsTime().UTC().Format("2006-01-02T15:04:05.000Z")
	}
	return m
}

// profileWithConnections is a profile with its connections as id strings:
// the app decides its Follow buttons with `currentUser.following.includes(id)`
// (ProfileScreen, FeedScreen, on the user AuthContext loads from this route)
// and shows `followers.length`/`following.length` (ProfileScreen). The
// populated lists stay on /api/users/followers|following/:id.
type profileWithConnections struct {
	profileUser
	Followers []string `json:"followers"`
	Following []string `json:"following"`
}

// profileResponse is GET /api/users/:id: {user:{…}} and the same fields at
// the top level (the embedded struct), because the app reads
// `data.user || data`.
type profileResponse struct {
	Success bool `json:"success"`
	profileWithConnections
	User *profileWithConnections `json:"user"`
}

func profileBody(u *userv1.User, followers, following []string) *profileResponse {
	b := &profileResponse{Success: true, profileWithConnections: profileWithConnections{
		profileUser: legacyProfile(u), Followers: orEmpty(followers), Following: orEmpty(following),
	}}
	b.User = &b.profileWithConnections
	return b
}

// orEmpty is v, or [] rather than null.
func orEmpty(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// meUser is the caller's own profile: the only payload with phone, email
// and the discovery settings.
type meUser struct {
	profileWithConnections
	Phone             *string `json:"phone"`
	Email             *string `json:"email"`
	ShowOnMap         bool    `json:"showOnMap"`
	PhoneDiscoverable bool    `json:"phoneDiscoverable"`
	LocationUpdatedAt *string `json:"locationUpdatedAt"`
}

type meResponse struct {
	Success bool `json:"success"`
	meUser
	User *meUser `json:"user"`
}

// getMe serves the caller's own profile, the only payload that carries
// their phone and email (the app's profile and settings screens read them).
func (rt *Router) getMe(w http.ResponseWriter, r *http.Request, _ authn.Principal) {
	res, err := rt.d.Clients.User.GetMe(r.Context(), Forward(r, connect.NewRequest(&userv1.GetMeRequest{})))
	if err != nil {
		writeError(w, err)
		return
	}
	m := res.Msg
	p := profileBody(m.GetUser(), m.GetFollowerIds(), m.GetFollowingIds())
	body := &meResponse{Success: true, meUser: meUser{profileWithConnections: p.profileWithConnections,
		Phone: nullableStr(m.GetPhone()), Email: nullableStr(m.GetEmail()),
		ShowOnMap: m.GetShowOnMap(), PhoneDiscoverable: m.GetPhoneDiscoverable()}}
	if t := m.GetLocationUpdatedAt(); t != nil {
		body.LocationUpdatedAt = nullableStr(t.AsTime().UTC().Format("2006-01-02T15:04:05.000Z"))
	}
	body.User = &body.meUser
	writeJSON(w, http.StatusOK, body)
}

// deleteMe deletes the caller's account (the app's delete screen was fake;
// this is the route a fixed app calls).
func (rt *Router) deleteMe(w http.ResponseWriter, r *http.Request, _ authn.Principal) {
	if _, err := rt.d.Clients.User.DeleteAccount(r.Context(), Forward(r, connect.NewRequest(&userv1.DeleteAccountRequest{}))); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "message": "Account deleted"})
}

func (rt *Router) getUser(w http.ResponseWriter, r *http.Request, p authn.Principal) {
	uid, err := pathUserID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if uid == p.UserID.String() { // the app loads its own profile by id
		rt.getMe(w, r, p)
		return
	}
	res, err := rt.d.Clients.User.GetUser(r.Context(), Forward(r, connect.NewRequest(&userv1.GetUserRequest{UserId: uid})))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, profileBody(res.Msg.GetUser(), res.Msg.GetFollowerIds(), res.Msg.GetFollowingIds()))
}

// getProfileMS is the MS GET /api/users/profile/:id ({success, user}).
func (rt *Router) getProfileMS(w http.ResponseWriter, r *http.Request, p authn.Principal) {
	rt.getUser(w, r, p)
}

// legacyUpdate is the body of PUT /api/users/:id and /profile. Only the
// whitelisted fields are read (legacy S5); email and phone belong to auth.
type legacyUpdate struct {
	Name           *string          `json:"name"`
	Bio            *string          `json:"bio"`
	Gender         *string          `json:"gender"`
	Age            *json.Number     `json:"age"`
	ProfilePicture *string          `json:"profilePicture"`
	ProfilePhoto   *string          `json:"profilePhoto"`
	CoverPhoto     *string          `json:"coverPhoto"`
	Location       *json.RawMessage `json:"location"`
	Categories     *[]string        `json:"categories"`
	Category       *string          `json:"category"`
	Email          *string          `json:"email"`
	// Discovery settings (no app screen sets them yet; a fixed app or the
	// SDK does).
	ShowOnMap         *bool `json:"showOnMap"`
	PhoneDiscoverable *bool `json:"phoneDiscoverable"`
}

// toUpdateMe converts a legacy body; wrongly typed values are 400s.
func (b *legacyUpdate) toUpdateMe() (*userv1.UpdateMeRequest, error) {
	m := &userv1.UpdateMeRequest{Name: b.Name, Bio: b.Bio, Gender: b.Gender, CoverPhoto: b.CoverPhoto, ProfilePicture: b.ProfilePicture,
		ShowOnMap: b.ShowOnMap, PhoneDiscoverable: b.PhoneDiscoverable}
	if m.ProfilePicture == nil {
		m.ProfilePicture = b.ProfilePhoto
	}
	// As in the legacy backend, a blank email leaves it unchanged (the edit
	// screen always sends the field).
	if b.Email != nil && strings.TrimSpace(*b.Email) != "" {
		e := strings.TrimSpace(*b.Email)
		m.Email = &e
	}
	if b.Age != nil {
		a, err := b.Age.Int64()
		if err != nil || a < 0 || a > 150 {
			return nil, apperr.BadRequest("age must be a whole number between 0 and 150")
		}
		age := int32(a)
		m.Age = &age
	}
	if b.Location != nil {
		raw := strings.TrimSpace(string(*b.Location))
		if raw == "null" {
			m.ClearLocation = true
		} else {
			var loc struct {
				Coordinates []float64 `json:"coordinates"`
				Latitude    *float64  `json:"latitude"`
				Longitude   *float64  `json:"longitude"`
			}
			if err := json.Unmarshal(*b.Location, &loc); err != nil {
				return nil, apperr.BadRequest("location must be {coordinates:[lng,lat]}")
			}
			switch {
			case len(loc.Coordinates) == 2 && loc.Coordinates[0] == 0 && loc.Coordinates[1] == 0:
				// The legacy default [0,0] meant "no location" (the app treats it so).
				m.ClearLocation = true
			case len(loc.Coordinates) == 2:
				m.Location = &userv1.Location{Longitude: loc.Coordinates[0], Latitude: loc.Coordinates[1]}
			case loc.Latitude != nil && loc.Longitude != nil:
				m.Location = &userv1.Location{Latitude: *loc.Latitude, Longitude: *loc.Longitude}
			default:
				return nil, apperr.BadRequest("location must be {coordinates:[lng,lat]}")
			}
		}
	}
	switch {
	case b.Categories != nil:
		m.Categories = &userv1.Categories{Values: lowerAll(*b.Categories)}
	case b.Category != nil:
		c := strings.ToLower(strings.TrimSpace(*b.Category))
		m.Categories = &userv1.Categories{}
		if c != "" && c != "global" {
			m.Categories.Values = []string{c}
		}
	}
	return m, nil
}

func lowerAll(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s = strings.ToLower(strings.TrimSpace(s)); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (rt *Router) updateMe(w http.ResponseWriter, r *http.Request) {
	var body legacyUpdate
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, err)
		return
	}
	req, err := body.toUpdateMe()
	if err != nil {
		writeError(w, err)
		return
	}
	res, err := rt.d.Clients.User.UpdateMe(r.Context(), Forward(r, connect.NewRequest(req)))
	if err != nil {
		writeError(w, err)
		return
	}
	// M2 returned the bare user, MS {success, user}: send both.
	out := &updateResponse{Success: true, profileUser: legacyProfile(res.Msg.GetUser())}
	out.User = &out.profileUser
	writeJSON(w, http.StatusOK, out)
}

// updateResponse is the bare user at the top level and under "user".
type updateResponse struct {
	Success bool `json:"success"`
	profileUser
	User *profileUser `json:"user"`
}

// putUser is PUT /api/users/:id: only the caller's own id (legacy S5).
func (rt *Router) putUser(w http.ResponseWriter, r *http.Request, p authn.Principal) {
	uid, err := pathUserID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if uid != p.UserID.String() {
		writeError(w, apperr.Forbidden("You can only update your own profile"))
		return
	}
	rt.updateMe(w, r)
}

func (rt *Router) putProfile(w http.ResponseWriter, r *http.Request, _ authn.Principal) {
	rt.updateMe(w, r)
}

// follow serves POST /:id/follow (M2: {success}) and /follow/:id (MS: with a message).
func (rt *Router) follow(withMessage bool) func(http.ResponseWriter, *http.Request, authn.Principal) {
	return func(w http.ResponseWriter, r *http.Request, _ authn.Principal) {
		uid, err := pathUserID(r)
		if err != nil {
			writeError(w, err)
			return
		}
		res, err := rt.d.Clients.User.Follow(r.Context(), Forward(r, connect.NewRequest(&userv1.FollowRequest{UserId: uid})))
		if err != nil {
			writeError(w, err)
			return
		}
		body := map[string]any{"success": true, "isFollowing": true, "followersCount": res.Msg.GetFollowersCount()}
		if withMessage {
			body["message"] = "User followed successfully"
		}
		writeJSON(w, http.StatusOK, body)
	}
}

func (rt *Router) unfollow(withMessage bool) func(http.ResponseWriter, *http.Request, authn.Principal) {
	return func(w http.ResponseWriter, r *http.Request, _ authn.Principal) {
		uid, err := pathUserID(r)
		if err != nil {
			writeError(w, err)
			return
		}
		res, err := rt.d.Clients.User.Unfollow(r.Context(), Forward(r, connect.NewRequest(&userv1.UnfollowRequest{UserId: uid})))
		if err != nil {
			writeError(w, err)
			return
		}
		body := map[string]any{"success": true, "isFollowing": false, "followersCount": res.Msg.GetFollowersCount()}
		if withMessage {
			body["message"] = "User unfollowed successfully"
		}
		writeJSON(w, http.StatusOK, body)
	}
}

// userListPage reads ?limit= and ?cursor= for list routes.
func userListPage(r *http.Request) (*commonv1.PageRequest, error) {
	q := r.URL.Query()
	p := &commonv1.PageRequest{Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, apperr.BadRequest("limit must be a non-negative integer")
		}
		p.Limit = int32(min(n, 100))
	}
	return p, nil
}

// connections serves the MS followers/following lists.
func (rt *Router) connections(kind string) func(http.ResponseWriter, *http.Request, authn.Principal) {
	return func(w http.ResponseWriter, r *http.Request, _ authn.Principal) {
		uid, err := pathUserID(r)
		if err != nil {
			writeError(w, err)
			return
		}
		pg, err := userListPage(r)
		if err != nil {
			writeError(w, err)
			return
		}
		var users []*commonv1.UserSummary
		var next string
		if kind == "followers" {
			res, err := rt.d.Clients.User.ListFollowers(r.Context(), Forward(r, connect.NewRequest(&userv1.ListFollowersRequest{UserId: uid, Page: pg})))
			if err != nil {
				writeError(w, err)
				return
			}
			users, next = res.Msg.GetUsers(), res.Msg.GetPage().GetNextCursor()
		} else {
			res, err := rt.d.Clients.User.ListFollowing(r.Context(), Forward(r, connect.NewRequest(&userv1.ListFollowingRequest{UserId: uid, Page: pg})))
			if err != nil {
				writeError(w, err)
				return
			}
			users, next = res.Msg.GetUsers(), res.Msg.GetPage().GetNextCursor()
		}
		writeJSON(w, http.StatusOK, map[string]any{"success": true, kind: legacySummaries(users), "nextCursor": next})
	}
}

// listUser is a user in nearby/search/category lists: the fields the app
// and the legacy list payloads use (lists are the hot path; keep them lean).
type listUser struct {
	UID            string       `json:"_id"`
	ID             string       `json:"id"`
	Name           string       `json:"name"`
	Bio            string       `json:"bio"`
	ProfilePicture *string      `json:"profilePicture"`
	ProfilePhoto   *string      `json:"profilePhoto"`
	Categories     []string     `json:"categories"`
	Category       string       `json:"category"`
	Role           string       `json:"role"`
	IsVerified     bool         `json:"isVerified"`
	IsFollowing    bool         `json:"isFollowing"`
	Location       *legacyPoint `json:"location"`
}

func toListUser(u *userv1.User) listUser {
	cat, pic := firstCategory(u), nullableStr(u.GetProfilePicture())
	return listUser{
		UID: u.GetId(), ID: u.GetId(), Name: u.GetName(), Bio: u.GetBio(), ProfilePicture: pic, ProfilePhoto: pic,
		Categories: u.GetCategories(), Category: cat, Role: cat, IsVerified: u.GetIsVerified(),
		IsFollowing: u.GetIsFollowing(), Location: toLegacyPoint(u.GetLocation()),
	}
}

func toListUsers(us []*userv1.User) []listUser {
	out := make([]listUser, len(us))
	for i, u := range us {
		out[i] = toListUser(u)
	}
	return out
}

// usersResponse is the search and category list body.
type usersResponse struct {
	Success bool       `json:"success"`
	Users   []listUser `json:"users"`
}

// nearbyUser is a listUser with its distance in whole metres.
type nearbyUser struct {
	listUser
	Distance float64 `json:"distance"`
}

type nearbyResponse struct {
	Success           bool         `json:"success"`
	Users             []nearbyUser `json:"users"`
	FallbackUsed      bool         `json:"fallbackUsed"`
	RequestedCategory string       `json:"requestedCategory"`
}

// queryFloat reads the first present key as a finite float.
func queryFloat(r *http.Request, keys ...string) (float64, bool, error) {
	for _, k := range keys {
		if v := r.URL.Query().Get(k); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return 0, true, apperr.BadRequest("Invalid " + k)
			}
			return f, true, nil
		}
	}
	return 0, false, nil
}

func (rt *Router) nearby(w http.ResponseWriter, r *http.Request, _ authn.Principal) {
	lat, okLat, err := queryFloat(r, "lat", "latitude")
	if err != nil {
		writeError(w, err)
		return
	}
	lng, okLng, err := queryFloat(r, "lng", "longitude")
	if err != nil {
		writeError(w, err)
		return
	}
	if !okLat || !okLng {
		writeError(w, apperr.BadRequest("Location coordinates required"))
		return
	}
	dist, _, err := queryFloat(r, "maxDistance")
	if err != nil || dist < 0 || dist > 20_000_000 {
		writeError(w, apperr.BadRequest("maxDistance must be between 0 and 20000000 metres"))
		return
	}
	category := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("category")))
	if !validText(category) {
		writeError(w, apperr.BadRequest("Invalid category"))
		return
	}
	res, err := rt.d.Clients.User.ListNearbyUsers(r.Context(), Forward(r, connect.NewRequest(&userv1.ListNearbyUsersRequest{
		Center: &userv1.Location{Latitude: lat, Longitude: lng}, MaxDistanceMeters: int32(dist), Category: category,
		// MapDiscoveryScreen sends the device position as the centre (or
		// its New Delhi fallback, which the user tier never records).
		SharePosition: true,
	})))
	if err != nil {
		writeError(w, err)
		return
	}
	users := make([]nearbyUser, len(res.Msg.GetUsers()))
	for i, n := range res.Msg.GetUsers() {
		users[i] = nearbyUser{listUser: toListUser(n.GetUser()), Distance: math.Round(n.GetDistanceMeters())}
	}
	requested := category
	if requested == "" {
		requested = "all"
	}
	writeJSON(w, http.StatusOK, &nearbyResponse{Success: true, Users: users, RequestedCategory: requested})
}

func (rt *Router) byCategory(w http.ResponseWriter, r *http.Request, _ authn.Principal) {
	pg, err := userListPage(r)
	if err != nil {
		writeError(w, err)
		return
	}
	res, err := rt.d.Clients.User.ListUsersByCategory(r.Context(), Forward(r, connect.NewRequest(&userv1.ListUsersByCategoryRequest{
		Category: strings.ToLower(strings.TrimSpace(r.PathValue("category"))), Limit: pg.GetLimit(),
	})))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, &usersResponse{Success: true, Users: toListUsers(res.Msg.GetUsers())})
}

func (rt *Router) searchUsers(w http.ResponseWriter, r *http.Request, _ authn.Principal) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if !validText(q) {
		writeError(w, apperr.BadRequest("Invalid search query"))
		return
	}
	if q == "" { // M2: an empty query is an empty result, not an error
		writeJSON(w, http.StatusOK, &usersResponse{Success: true, Users: []listUser{}})
		return
	}
	res, err := rt.d.Clients.User.SearchUsers(r.Context(), Forward(r, connect.NewRequest(&userv1.SearchUsersRequest{Query: q})))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, &usersResponse{Success: true, Users: toListUsers(res.Msg.GetUsers())})
}

// validText reports whether a query parameter can travel in a protobuf
// string and a PostgreSQL text: UTF-8 without NUL.
func validText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// reasonBody is the body of block and report.
type reasonBody struct {
	Reason  string `json:"reason"`
	Details string `json:"details"`
}

func (rt *Router) block(w http.ResponseWriter, r *http.Request, _ authn.Principal) {
	uid, err := pathUserID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	body := reasonBody{Reason: "block"}
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, err)
		return
	}
	if _, err := rt.d.Clients.User.Block(r.Context(), Forward(r, connect.NewRequest(&userv1.BlockRequest{
		UserId: uid, Reason: body.Reason, Details: body.Details}))); err != nil {
		writeError(w, err)
		return
	}
	blocked := []string{}
	if res, err := rt.d.Clients.User.ListBlocked(r.Context(), Forward(r, connect.NewRequest(&userv1.ListBlockedRequest{Page: &commonv1.PageRequest{Limit: 100}}))); err == nil {
		for _, u := range res.Msg.GetUsers() {
			blocked = append(blocked, u.GetId())
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "message": "User blocked successfully",
		"blockedUsers": blocked, "removedPostIds": []string{}})
}

func (rt *Router) unblock(w http.ResponseWriter, r *http.Request, _ authn.Principal) {
	uid, err := pathUserID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if _, err := rt.d.Clients.User.Unblock(r.Context(), Forward(r, connect.NewRequest(&userv1.UnblockRequest{UserId: uid}))); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "message": "User unblocked successfully"})
}

// reportUser is the route the app calls but no legacy backend served.
func (rt *Router) reportUser(w http.ResponseWriter, r *http.Request, _ authn.Principal) {
	uid, err := pathUserID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var body reasonBody
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, err)
		return
	}
	if strings.TrimSpace(body.Reason) == "" {
		body.Reason = "other"
	}
	if _, err := rt.d.Clients.User.ReportUser(r.Context(), Forward(r, connect.NewRequest(&userv1.ReportUserRequest{
		UserId: uid, Reason: body.Reason, Details: body.Details}))); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "message": "Report submitted for review"})
}
