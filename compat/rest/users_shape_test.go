package rest

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	userv1 "github.com/infliq/infliq/backend/gen/infliq/user/v1"
)

// The typed legacy payloads must encode exactly like the map-built ones
// they replaced (same keys, values and nulls). The map builders below are
// that reference, kept verbatim.

func refSummary(u *commonv1.UserSummary) map[string]any {
	return map[string]any{
		"_id": u.GetId(), "id": u.GetId(), "name": u.GetName(),
		"profilePicture": nullable(u.GetProfilePicture()), "profilePhoto": nullable(u.GetProfilePicture()),
		"isVerified": u.GetIsVerified(),
	}
}

func refSummaries(us []*commonv1.UserSummary) []map[string]any {
	out := make([]map[string]any, len(us))
	for i, u := range us {
		out[i] = refSummary(u)
	}
	return out
}

func refProfile(u *userv1.User) map[string]any {
	m := map[string]any{
		"_id": u.GetId(), "id": u.GetId(), "name": u.GetName(), "bio": u.GetBio(), "gender": u.GetGender(),
		"profilePicture": nullable(u.GetProfilePicture()), "profilePhoto": nullable(u.GetProfilePicture()),
		"coverPhoto": nullable(u.GetCoverPhoto()), "categories": u.GetCategories(), "category": "global",
		"isVerified": u.GetIsVerified(), "followersCount": u.GetFollowersCount(), "followingCount": u.GetFollowingCount(),
		"postsCount": u.GetPostsCount(), "isFollowing": u.GetIsFollowing(), "followsYou": u.GetFollowsYou(),
		"location": nil, "age": nil,
	}
	if u.GetAge() > 0 {
		m["age"] = u.GetAge()
	}
	if len(u.GetCategories()) > 0 {
		m["category"] = u.GetCategories()[0]
	}
	if l := u.GetLocation(); l != nil {
		m["location"] = map[string]any{"type": "Point", "coordinates": []float64{l.GetLongitude(), l.GetLatitude()}}
	}
	if u.GetCreatedAt() != nil {
		m["createdAt"] = u.GetCreatedAt().AsTime().UTC().Format("2006-01-02T15:04:05.000Z")
	}
	return m
}

// refProfileBody carries the connections as id strings (issue 18: the app
// reads them with includes(id) and .length), never null.
func refProfileBody(u *userv1.User, followers, following []string) map[string]any {
	user := refProfile(u)
	user["followers"], user["following"] = []string{}, []string{}
	if followers != nil {
		user["followers"] = followers
	}
	if following != nil {
		user["following"] = following
	}
	body := map[string]any{"success": true}
	for k, v := range user {
		body[k] = v
	}
	body["user"] = user
	return body
}

func refListUser(u *userv1.User) map[string]any {
	cat := "global"
	if len(u.GetCategories()) > 0 {
		cat = u.GetCategories()[0]
	}
	m := map[string]any{
		"_id": u.GetId(), "id": u.GetId(), "name": u.GetName(), "bio": u.GetBio(),
		"profilePicture": nullable(u.GetProfilePicture()), "profilePhoto": nullable(u.GetProfilePicture()),
		"categories": u.GetCategories(), "category": cat, "role": cat, "isVerified": u.GetIsVerified(),
		"isFollowing": u.GetIsFollowing(), "location": nil,
	}
	if l := u.GetLocation(); l != nil {
		m["location"] = map[string]any{"type": "Point", "coordinates": []float64{l.GetLongitude(), l.GetLatitude()}}
	}
	return m
}

// sameJSON fails unless got and want encode to the same JSON value.
func sameJSON(t *testing.T, name string, got, want any) {
	t.Helper()
	var g, w any
	for _, c := range []struct {
		v   any
		dst *any
	}{{got, &g}, {want, &w}} {
		raw, err := json.Marshal(c.v)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, c.dst); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(g, w) {
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		t.Fatalf("%s:\n got %s\nwant %s", name, gj, wj)
	}
}

func TestLegacyUserShapesMatchReference(t *testing.T) {
	full := &userv1.User{
		Id: "6b0766a16f9a57e8976199f5", Name: "Zoë \"Z\" <Müller>", Bio: "bio\nline", Gender: "f", Age: 31,
		ProfilePicture: "p.jpg", CoverPhoto: "c.jpg", Categories: []string{"music", "verified"}, IsVerified: true,
		FollowersCount: 12, FollowingCount: 3, PostsCount: 7, IsFollowing: true, FollowsYou: true,
		Location:  &userv1.Location{Latitude: 17.385, Longitude: -78.4867},
		CreatedAt: timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 678_000_000, time.UTC)),
	}
	empty := &userv1.User{Id: "6b0766a16f9a57e8976199f6"}
	noCats := &userv1.User{Id: "6b0766a16f9a57e8976199f7", Name: "A", Categories: []string{}, Location: &userv1.Location{}}
	sums := []*commonv1.UserSummary{{Id: "a", Name: "A", ProfilePicture: "a.jpg", IsVerified: true}, {Id: "b"}}
	ids := []string{"6b0766a16f9a57e8976199f8", "6b0766a16f9a57e8976199f9"}
	for _, u := range []*userv1.User{full, empty, noCats} {
		for _, conns := range [][]string{nil, ids} {
			sameJSON(t, "profile", profileBody(u, conns, ids), refProfileBody(u, conns, ids))
			// getMe: phone and email at both levels.
			for _, contact := range [][2]string{{"", ""}, {"+15550100", "z@example.com"}} {
				p := profileBody(u, conns, ids)
				me := &meResponse{Success: true, meUser: meUser{profileWithConnections: p.profileWithConnections,
					Phone: nullableStr(contact[0]), Email: nullableStr(contact[1])}}
				me.User = &me.meUser
				ref := refProfileBody(u, conns, ids)
				for _, m := range []map[string]any{ref, ref["user"].(map[string]any)} {
					m["phone"], m["email"] = nullable(contact[0]), nullable(contact[1])
					m["showOnMap"], m["phoneDiscoverable"], m["locationUpdatedAt"] = false, false, nil
				}
				sameJSON(t, "me", me, ref)
			}
		}
		up := &updateResponse{Success: true, profileUser: legacyProfile(u)}
		up.User = &up.profileUser
		ref := map[string]any{"success": true}
		for k, v := range refProfile(u) {
			ref[k] = v
		}
		ref["user"] = refProfile(u)
		sameJSON(t, "update", up, ref)

		sameJSON(t, "list", &usersResponse{Success: true, Users: toListUsers([]*userv1.User{u, full})},
			map[string]any{"success": true, "users": []map[string]any{refListUser(u), refListUser(full)}})
		n := refListUser(u)
		n["distance"] = math.Round(1234.56)
		sameJSON(t, "nearby", &nearbyResponse{Success: true, RequestedCategory: "all",
			Users: []nearbyUser{{listUser: toListUser(u), Distance: math.Round(1234.56)}}},
			map[string]any{"success": true, "users": []map[string]any{n}, "fallbackUsed": false, "requestedCategory": "all"})
	}
	sameJSON(t, "empty list", &usersResponse{Success: true, Users: toListUsers(nil)}, map[string]any{"success": true, "users": []any{}})
	sameJSON(t, "summaries", legacySummaries(sums), refSummaries(sums))
}
