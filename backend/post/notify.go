package post

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	realtimev1 "github.com/infliq/infliq/backend/gen/infliq/realtime/v1"
	"github.com/infliq/infliq/backend/platform/id"
)

// notify publishes a like/comment notification to the post's owner. It runs
// after the commit; a failure is logged and never fails the request (the
// notification is not the system of record).
func (s *Service) notify(ctx context.Context, owner, actor id.ID, name, pic string, postID id.ID, kind string, commentID id.ID, text string) {
	if s.pub == nil {
		return
	}
	err := s.pub.PublishToUser(context.WithoutCancel(ctx), owner, notification(actor, name, pic, postID, kind, commentID, text))
	if err != nil {
		s.log.WarnContext(ctx, "notification: publish failed", "kind", kind, "owner", owner.String(), "err", err)
	}
}

// notification is the event telling a post's owner that actor liked or
// commented on it.
func notification(actor id.ID, name, pic string, postID id.ID, kind string, commentID id.ID, text string) *realtimev1.SubscribeResponse {
	who := name
	if who == "" {
		who = "Someone"
	}
	ev := &realtimev1.NotificationEvent{
		Type:      kind,
		CreatedAt: timestamppb.New(time.Now()),
		Meta: map[string]string{
			"actorId": actor.String(), "actorName": name, "actorProfilePicture": pic, "postId": postID.String(),
		},
	}
	switch kind {
	case "like":
		ev.Id, ev.Title, ev.Message = "like-"+postID.String()+"-"+actor.String(), "New like", who+" liked your post"
	default:
		ev.Id, ev.Title, ev.Message = "comment-"+postID.String()+"-"+commentID.String(), "New comment", who+" commented on your post"
		if text != "" {
			r := []rune(text)
			if len(r) > 60 {
				r = r[:60]
			}
			ev.Message += ": " + string(r)
		}
		ev.Meta["commentId"] = commentID.String()
	}
	return &realtimev1.SubscribeResponse{Event: &realtimev1.SubscribeResponse_Notification{Notification: ev}}
}
