package notify

import (
	"context"
	"strconv"
	"time"

	notifyv1 "github.com/infliq/infliq/backend/gen/infliq/notify/v1"
	realtimev1 "github.com/infliq/infliq/backend/gen/infliq/realtime/v1"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/id"
)

// The notify tier is the one emitter of notification events: post and user
// append records instead of publishing, so a like reaches the user once,
// grouped, with the unread count, on the typed stream (NotificationEvent
// with update set) and on the legacy socket (`notification-<userId>`, the
// legacy fields plus unreadCount).

// publish sends the current view of the touched groups to their users.
func (s *Service) publish(ctx context.Context, ts []touched) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	ids := make([]id.ID, 0, len(ts))
	users := make([]id.ID, 0, len(ts))
	seen := map[id.ID]bool{}
	for _, t := range ts {
		ids = append(ids, t.group)
		if !seen[t.user] {
			seen[t.user] = true
			users = append(users, t.user)
		}
	}
	gs, err := groupsByID(ctx, s.pool, ids)
	if err != nil {
		return err
	}
	unread, err := unreadCounts(ctx, s.pool, users...)
	if err != nil {
		return err
	}
	pubs := make([]bus.Publication, 0, len(gs))
	for _, g := range gs {
		pubs = append(pubs, bus.Publication{Users: []id.ID{g.user}, Event: &realtimev1.SubscribeResponse{
			Event: &realtimev1.SubscribeResponse_Notification{Notification: legacyEvent(g.user, g.n, unread[g.user])}}})
	}
	return bus.PublishAll(ctx, s.pub, pubs)
}

var legacyTypes = map[notifyv1.Kind][2]string{ // type, title
	notifyv1.Kind_KIND_FOLLOW: {"follow", "New follower"}, notifyv1.Kind_KIND_LIKE: {"like", "New like"},
	notifyv1.Kind_KIND_COMMENT: {"comment", "New comment"}, notifyv1.Kind_KIND_MENTION: {"mention", "New mention"},
	notifyv1.Kind_KIND_MESSAGE: {"message", "New message"}, notifyv1.Kind_KIND_MISSED_CALL: {"missed_call", "Missed call"},
	notifyv1.Kind_KIND_CALL_DECLINED: {"call_declined", "Call declined"},
	notifyv1.Kind_KIND_MODERATION:    {"moderation", "Message from the moderators"},
}

// legacyEvent renders a group as the legacy notification (contract §C.4:
// id, type, title, message, createdAt, meta) with the group itself in
// update. The legacy ids keep their patterns, naming the newest actor.
func legacyEvent(uid id.ID, n *notifyv1.Notification, unread int64) *realtimev1.NotificationEvent {
	t := legacyTypes[n.Kind]
	ev := &realtimev1.NotificationEvent{Type: t[0], Title: t[1], CreatedAt: n.LatestAt,
		Meta:   map[string]string{"notificationId": n.Id, "count": strconv.FormatInt(n.ActorsCount, 10)},
		Update: &notifyv1.NotificationUpdate{Notification: n, UnreadCount: unread}}
	actor, who := "", "Someone"
	if len(n.Actors) > 0 {
		a := n.Actors[0]
		actor = a.Id
		if a.Name != "" {
			who = a.Name
		}
		ev.Meta["actorId"], ev.Meta["actorName"], ev.Meta["actorProfilePicture"] = a.Id, a.Name, a.ProfilePicture
	}
	if others := n.ActorsCount - 1; others == 1 {
		who += " and 1 other"
	} else if others > 1 {
		who += " and " + strconv.FormatInt(others, 10) + " others"
	}
	switch n.Kind {
	case notifyv1.Kind_KIND_FOLLOW:
		ev.Id, ev.Message = "follow-"+actor+"-"+uid.String(), who+" started following you"
		ev.Meta["targetUserId"] = uid.String()
	case notifyv1.Kind_KIND_LIKE:
		ev.Id, ev.Message = "like-"+n.PostId+"-"+actor, who+" liked your post"
		ev.Meta["postId"] = n.PostId
	case notifyv1.Kind_KIND_COMMENT:
		ev.Id, ev.Message = "comment-"+n.PostId+"-"+n.CommentId, who+" commented on your post"
		if n.Preview != "" {
			ev.Message += ": " + n.Preview
		}
		ev.Meta["postId"], ev.Meta["commentId"] = n.PostId, n.CommentId
	case notifyv1.Kind_KIND_MENTION:
		ev.Id, ev.Message = "mention-"+n.PostId+"-"+actor, who+" mentioned you"
		ev.Meta["postId"] = n.PostId
		if n.CommentId != "" {
			ev.Meta["commentId"] = n.CommentId
		}
	case notifyv1.Kind_KIND_MESSAGE:
		ev.Id, ev.Message = "message-"+n.ChatId+"-"+n.Id, who+" sent you a message"
		ev.Meta["chatId"] = n.ChatId
	case notifyv1.Kind_KIND_MISSED_CALL:
		ev.Id, ev.Message = "missed_call-"+n.CallId, "Missed call from "+who
		ev.Meta["callId"] = n.CallId
	case notifyv1.Kind_KIND_CALL_DECLINED:
		ev.Id, ev.Message = "call_declined-"+n.CallId, who+" declined your call"
		ev.Meta["callId"] = n.CallId
	case notifyv1.Kind_KIND_MODERATION: // a system notice: no actor, the text itself
		ev.Id, ev.Message = "moderation-"+n.Id, n.Preview
		delete(ev.Meta, "count")
	}
	return ev
}
