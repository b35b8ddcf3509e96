package post

import (
	"context"
	"strings"

	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/id"
)

// Notifications are the notify tier's: after commit, post appends a record
// of what happened (a like, an unlike, a comment, a post that may mention
// someone) to the bus, and the notify tier groups it into the owner's inbox
// and emits the realtime notification (the legacy `notification-<userId>`
// event included). A failure is logged and never fails the request.

// record appends rec after the commit.
func (s *Service) record(ctx context.Context, rec bus.Record) {
	if s.pub == nil {
		return
	}
	if err := bus.PublishAll(context.WithoutCancel(ctx), s.pub, []bus.Publication{{Records: []bus.Record{rec}}}); err != nil {
		s.log.WarnContext(ctx, "notification record not appended", "kind", rec.Kind, "err", err)
	}
}

// commentRecord tells the notify tier about a comment on owner's post (the
// owner is notified unless they wrote it; @names in it are mentioned).
func commentRecord(owner, actor, postID, commentID id.ID, text string) bus.Record {
	return bus.Record{Kind: bus.RecComment, Actor: actor, To: []id.ID{owner}, Subject: postID, Item: commentID, Text: text}
}

// postRecord tells the notify tier about a new post whose text may
// mention someone; nil when it cannot.
func postRecord(author, postID id.ID, text string) *bus.Record {
	if !strings.Contains(text, "@") {
		return nil
	}
	return &bus.Record{Kind: bus.RecPost, Actor: author, Subject: postID, Text: text}
}

// likeRecord is the record of a committed like or unlike of owner's post
// by actor; ok is false when there is nothing to tell (no change, one's
// own post).
func likeRecord(owner, actor, postID id.ID, changed, liked bool) (bus.Record, bool) {
	if !changed || owner == actor || owner.IsZero() {
		return bus.Record{}, false
	}
	kind := bus.RecLike
	if !liked {
		kind = bus.RecUnlike
	}
	return bus.Record{Kind: kind, Actor: actor, To: []id.ID{owner}, Subject: postID}, true
}
