package mediaurl

import (
	"testing"

	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	realtimev1 "github.com/infliq/infliq/backend/gen/infliq/realtime/v1"
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
