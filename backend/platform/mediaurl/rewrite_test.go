package mediaurl

import (
	"testing"

	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	realtimev1 "github.com/infliq/infliq/backend/gen/infliq/realtime/v1"
	userv1 "github.com/infliq/infliq/backend/gen/infliq/user/v1"
	"github.com/infliq/infliq/backend/platform/config"
)

func TestRewriteResolvesMediaFieldsOnly(t *testing.T) {
	r := New(config.S3{Bucket: "b", PublicBaseURL: "https://api.infliq.app"})
	u := &commonv1.UserSummary{Id: "65a1b2c3d4e5f60718293a4b", Name: "posts/x.jpg", ProfilePicture: "profiles/u/1.jpg"}
	r.Rewrite(u)
	if u.ProfilePicture != "https://api.infliq.app/api/media/proxy/profiles/u/1.jpg" {
		t.Fatalf("profile_picture = %q", u.ProfilePicture)
	}
	if u.Name != "posts/x.jpg" {
		t.Fatal("a non-media field was rewritten")
	}
	ext := &commonv1.UserSummary{ProfilePicture: "https://randomuser.me/api/portraits/women/1.jpg"}
	r.Rewrite(ext)
	if ext.ProfilePicture != "https://randomuser.me/api/portraits/women/1.jpg" {
		t.Fatal("external URLs must stay unchanged")
	}
	// Nested messages inside oneofs are reached too.
	ev := &realtimev1.SubscribeResponse{Event: &realtimev1.SubscribeResponse_Notification{Notification: &realtimev1.NotificationEvent{Meta: map[string]string{"actorProfilePicture": "x"}}}}
	r.Rewrite(ev)
	r.Rewrite(nil)
}

// Media fields are reached through lists of nested messages; messages of
// types that hold no media field are left alone.
func TestRewriteNestedLists(t *testing.T) {
	r := New(config.S3{Bucket: "b", PublicBaseURL: "https://api.infliq.app"})
	res := &userv1.ListNearbyUsersResponse{Users: []*userv1.NearbyUser{
		{User: &userv1.User{Id: "a", ProfilePicture: "profiles/a.jpg", CoverPhoto: "covers/a.jpg", Bio: "profiles/b.jpg"}},
		{User: &userv1.User{Id: "b"}},
		{},
	}}
	r.Rewrite(res)
	u := res.Users[0].User
	if u.ProfilePicture != "https://api.infliq.app/api/media/proxy/profiles/a.jpg" || u.CoverPhoto != "https://api.infliq.app/api/media/proxy/covers/a.jpg" {
		t.Fatalf("nested list not rewritten: %q %q", u.ProfilePicture, u.CoverPhoto)
	}
	if u.Bio != "profiles/b.jpg" || res.Users[1].User.ProfilePicture != "" || res.Users[2].User != nil {
		t.Fatalf("rewrite touched what it must not: %+v", res)
	}
	if p := planFor((&userv1.Location{}).ProtoReflect().Descriptor()); len(p.media)+len(p.nested) != 0 {
		t.Fatalf("a type without media fields has a plan: %+v", p)
	}
}

func BenchmarkRewriteNearby(b *testing.B) {
	r := New(config.S3{Bucket: "b", PublicBaseURL: "https://api.infliq.app"})
	res := &userv1.ListNearbyUsersResponse{}
	for range 50 {
		res.Users = append(res.Users, &userv1.NearbyUser{User: &userv1.User{Id: "a", Name: "n", Bio: "bio", ProfilePicture: "https://randomuser.me/x.jpg",
			Categories: []string{"music"}, Location: &userv1.Location{Latitude: 1, Longitude: 2}}, DistanceMeters: 10})
	}
	b.ReportAllocs()
	for b.Loop() {
		r.Rewrite(res)
	}
}
