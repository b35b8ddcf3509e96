package notify

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/redis/go-redis/v9"

	notifyv1 "github.com/infliq/infliq/backend/gen/infliq/notify/v1"
	postv1 "github.com/infliq/infliq/backend/gen/infliq/post/v1"
	"github.com/infliq/infliq/backend/gen/infliq/post/v1/postv1connect"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
	"github.com/infliq/infliq/backend/post"
	"github.com/infliq/infliq/backend/post/posttest"
)

// A like storm through the real post tier: 48 distinct users like one post
// in parallel, 12 of them toggle it off again while the others still come
// in. The records go through the stream and the consumer group; the single
// like group ends holding exactly the like rows.
func TestLikeStormEndsWithTheExactCount(t *testing.T) {
	r := newRig(t)
	r.consume()
	_, h2c, _ := tiertest.Serve(t, post.NewTier(tiertest.Deps(), r.pool, r.b, config.Content{}).Handler())
	purl, _, _ := tiertest.Serve(t, post.NewTier(tiertest.Deps(), r.pool, r.b, config.Content{}).Handler())
	owner := r.user("owner")
	pid := posttest.Post(t, r.pool, owner, "post", "hello")
	const likers, unlikers = 48, 12
	var wg sync.WaitGroup
	errs := make(chan error, likers*2)
	for i := range likers {
		u := r.user(fmt.Sprintf("fan%02d", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := postv1connect.NewPostServiceClient(h2c, purl, connect.WithGRPC(), tiertest.Bearer(tiertest.Token(t, u)))
			if _, err := c.LikePost(context.Background(), connect.NewRequest(&postv1.LikePostRequest{PostId: pid.String()})); err != nil {
				errs <- err
				return
			}
			if i < unlikers {
				if _, err := c.UnlikePost(context.Background(), connect.NewRequest(&postv1.UnlikePostRequest{PostId: pid.String()})); err != nil {
					errs <- err
				}
			}
		}()
	}
	// The owner's own like notifies nobody.
	co := postv1connect.NewPostServiceClient(h2c, purl, connect.WithGRPC(), tiertest.Bearer(tiertest.Token(t, owner)))
	if _, err := co.LikePost(context.Background(), connect.NewRequest(&postv1.LikePostRequest{PostId: pid.String()})); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := likers - unlikers
	eventually(t, "the stream drained", func() bool {
		n := 0
		for s := range bus.RecordShards {
			n += int(r.rdb.XLen(context.Background(), r.b.RecordKey(s)).Val())
		}
		return n == 0
	})
	if rows := r.int(`SELECT count(*) FROM post_likes WHERE post_id = $1 AND user_id <> $2`, pid, owner); rows != want {
		t.Fatalf("like rows %d, want %d", rows, want)
	}
	l := r.list(owner)
	if len(l.Notifications) != 1 {
		t.Fatalf("groups: %v", l.Notifications)
	}
	g := l.Notifications[0]
	if g.Kind != notifyv1.Kind_KIND_LIKE || g.PostId != pid.String() || g.ActorsCount != int64(want) || len(g.Actors) != 3 || g.Read {
		t.Fatalf("group: %v", g)
	}
	if n := r.int(`SELECT count(*) FROM notification_actors a JOIN notification_groups g ON g.id = a.group_id WHERE g.user_id = $1`, owner); n != want {
		t.Fatalf("actor rows %d", n)
	}
	for _, a := range g.Actors {
		if a.Id == owner.String() || !strings.HasPrefix(a.Name, "fan") {
			t.Fatalf("actor %v", a)
		}
	}
	if l.UnreadCount != 1 {
		t.Fatalf("unread %d", l.UnreadCount)
	}
	// Pushes: one outbox row per applied like, none for the owner's own.
	if n := r.int(`SELECT count(*) FROM test_push_outbox WHERE kind = 'like' AND user_id = $1`, owner); n < want || n > likers {
		t.Fatalf("like pushes %d", n)
	}
}

// Redelivery: a record applied and then delivered again (the consumer died
// before XACK, another member claimed it) changes nothing.
func TestRedeliveredRecordsApplyOnce(t *testing.T) {
	r := newRig(t)
	owner, fan := r.user("owner"), r.user("fan")
	pid := posttest.Post(t, r.pool, owner, "post", "x")
	rec := r.like(fan, pid, owner)
	rec.ID, rec.At = id.New(), time.Now()
	follow := bus.Record{ID: id.New(), Kind: bus.RecFollow, Actor: fan, To: []id.ID{owner}, At: time.Now()}
	posttest.Follow(t, r.pool, fan, owner)
	comment := bus.Record{ID: id.New(), Kind: bus.RecComment, Actor: fan, To: []id.ID{owner}, Subject: pid, Item: id.New(), Text: "nice", At: time.Now()}

	// 1. Applied directly (as by a consumer that then died before XACK).
	r.apply(rec, follow, comment)
	// 2. The same records sit in the stream, read by a consumer that dies.
	if err := r.b.AppendRecords(context.Background(), rec, follow, comment); err != nil {
		t.Fatal(err)
	}
	for s := range bus.RecordShards {
		k := r.b.RecordKey(s)
		if err := r.rdb.XGroupCreateMkStream(context.Background(), k, consumerGroup, "0").Err(); err != nil {
			t.Fatal(err)
		}
		if err := r.rdb.XReadGroup(context.Background(), &redis.XReadGroupArgs{Group: consumerGroup, Consumer: "dead",
			Streams: []string{k, ">"}, Count: 10, Block: -1}).Err(); err != nil && err != redis.Nil {
			t.Fatal(err)
		}
	}
	// 3. A live member claims the dead one's entries and applies them again,
	// concurrently with a second apply of the same batch.
	c := r.s.NewConsumer(r.rdb, r.b)
	var wg sync.WaitGroup
	for s := range bus.RecordShards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := r.b.RecordKey(s)
			msgs, _, err := r.rdb.XAutoClaim(context.Background(), &redis.XAutoClaimArgs{Stream: k, Group: consumerGroup,
				Consumer: c.name, MinIdle: 0, Start: "0-0", Count: 10}).Result()
			if err != nil {
				t.Error(err)
				return
			}
			c.process(context.Background(), k, msgs)
		}()
	}
	wg.Add(1)
	go func() { defer wg.Done(); _ = r.s.Apply(context.Background(), []bus.Record{rec, follow, comment}) }()
	wg.Wait()
	for s := range bus.RecordShards {
		p, err := r.rdb.XPending(context.Background(), r.b.RecordKey(s), consumerGroup).Result()
		if err != nil || p.Count != 0 {
			t.Fatalf("pending %v %v", p, err)
		}
	}
	l := r.list(owner)
	if len(l.Notifications) != 3 {
		t.Fatalf("groups %v", l.Notifications)
	}
	for _, g := range l.Notifications {
		if g.ActorsCount != 1 {
			t.Fatalf("group counted twice: %v", g)
		}
	}
	if n := r.int(`SELECT count(*) FROM test_push_outbox`); n != 3 {
		t.Fatalf("pushes %d", n)
	}
}

func TestKindsAndGroupingRules(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	owner, a, b, c := r.user("owner"), r.user("asha"), r.user("bilal"), r.user("chen")
	p1 := posttest.Post(t, r.pool, owner, "post", "one")
	p2 := posttest.Post(t, r.pool, owner, "post", "two")
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)

	// Likes group per post; a like 13 h later opens a new group (window 12 h).
	la, lb := r.like(a, p1, owner), r.like(b, p1, owner)
	la.At, lb.At = t0, t0.Add(time.Minute)
	l2 := r.like(c, p2, owner)
	l2.At = t0
	late := r.like(c, p1, owner)
	late.At = t0.Add(13 * time.Hour)
	r.apply(la, lb, l2)
	r.apply(late)
	likes := r.list(owner, notifyv1.Kind_KIND_LIKE).Notifications
	if len(likes) != 3 || likes[0].ActorsCount != 1 || likes[0].Actors[0].Id != c.String() {
		t.Fatalf("likes: %v", likes)
	}
	var p1group *notifyv1.Notification
	for _, g := range likes {
		if g.PostId == p1.String() && g.ActorsCount == 2 {
			p1group = g
		}
	}
	if p1group == nil || p1group.Actors[0].Id != b.String() || p1group.Actors[1].Id != a.String() {
		t.Fatalf("newest actor first: %v", likes)
	}

	// Self-actions produce nothing.
	self := r.like(owner, p1, owner)
	r.apply(self, bus.Record{Kind: bus.RecComment, Actor: owner, To: []id.ID{owner}, Subject: p1, Item: id.New(), Text: "me"})
	if n := r.int(`SELECT count(*) FROM notification_actors WHERE actor_id = $1`, owner); n != 0 {
		t.Fatalf("self actions: %d", n)
	}

	// Follows group by the recipient's local day.
	for _, u := range []id.ID{a, b, c} {
		posttest.Follow(t, r.pool, u, owner)
	}
	r.apply(bus.Record{Kind: bus.RecFollow, Actor: a, To: []id.ID{owner}, At: t0},
		bus.Record{Kind: bus.RecFollow, Actor: b, To: []id.ID{owner}, At: t0.Add(10 * time.Hour)})
	r.apply(bus.Record{Kind: bus.RecFollow, Actor: c, To: []id.ID{owner}, At: t0.Add(20 * time.Hour)}) // next day (UTC)
	fs := r.list(owner, notifyv1.Kind_KIND_FOLLOW).Notifications
	if len(fs) != 2 || fs[0].ActorsCount != 1 || fs[1].ActorsCount != 2 {
		t.Fatalf("follows: %v", fs)
	}
	// An unfollow within the window takes the follower out of the group.
	r.exec(`DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2`, b, owner)
	r.apply(bus.Record{Kind: bus.RecUnfollow, Actor: b, To: []id.ID{owner}, At: t0.Add(11 * time.Hour)})
	fs = r.list(owner, notifyv1.Kind_KIND_FOLLOW).Notifications
	if len(fs) != 2 || fs[1].ActorsCount != 1 || fs[1].Actors[0].Id != a.String() {
		t.Fatalf("after unfollow: %v", fs)
	}

	// An unlike removes the actor; an unlike of the last actor removes the group.
	r.exec(`DELETE FROM post_likes WHERE post_id = $1 AND user_id = $2`, p2, c)
	r.apply(bus.Record{Kind: bus.RecUnlike, Actor: c, To: []id.ID{owner}, Subject: p2, At: t0.Add(time.Hour)})
	if n := len(r.list(owner, notifyv1.Kind_KIND_LIKE).Notifications); n != 2 {
		t.Fatalf("unlike of the last actor left %d like groups", n)
	}
	// A like record whose like is gone again (out-of-order delivery) adds nothing.
	r.apply(bus.Record{Kind: bus.RecLike, Actor: c, To: []id.ID{owner}, Subject: p2, At: t0.Add(2 * time.Hour)})
	if n := len(r.list(owner, notifyv1.Kind_KIND_LIKE).Notifications); n != 2 {
		t.Fatalf("stale like applied: %d", n)
	}

	// Comments group per post with the latest preview; mentions in posts and
	// comments (ambiguous or unknown names mention nobody; the post's owner
	// gets the comment, not a mention too).
	r.user("twin")
	r.user("Twin")
	cm := id.New()
	r.apply(bus.Record{Kind: bus.RecComment, Actor: a, To: []id.ID{owner}, Subject: p1, Item: id.New(), Text: "first"},
		bus.Record{Kind: bus.RecComment, Actor: b, To: []id.ID{owner}, Subject: p1, Item: cm, Text: "hey @Chen and @owner and @twin and @nobody, mail x@chen.com"})
	cs := r.list(owner, notifyv1.Kind_KIND_COMMENT).Notifications
	if len(cs) != 1 || cs[0].ActorsCount != 2 || cs[0].CommentId != cm.String() || !strings.HasPrefix(cs[0].Preview, "hey @Chen") {
		t.Fatalf("comments: %v", cs)
	}
	ms := r.list(c, notifyv1.Kind_KIND_MENTION).Notifications
	if len(ms) != 1 || ms[0].PostId != p1.String() || ms[0].CommentId != cm.String() || ms[0].Actors[0].Id != b.String() {
		t.Fatalf("mentions of chen: %v", ms)
	}
	if n := len(r.list(owner, notifyv1.Kind_KIND_MENTION).Notifications); n != 0 {
		t.Fatalf("owner mentioned too: %d", n)
	}
	p3 := posttest.Post(t, r.pool, a, "post", "with @chen")
	r.apply(bus.Record{Kind: bus.RecPost, Actor: a, Subject: p3, Text: "with @chen"})
	if ms = r.list(c, notifyv1.Kind_KIND_MENTION).Notifications; len(ms) != 2 || ms[0].PostId != p3.String() {
		t.Fatalf("post mention: %v", ms)
	}

	// Calls: a ring pushes urgently (no inbox entry); a missed call and a
	// declined call each get an entry.
	call := id.New()
	r.apply(bus.Record{Kind: bus.RecCallStarted, Actor: a, To: []id.ID{owner}, Subject: call, Tag: "audio"})
	var urgent bool
	var callID string
	if err := r.pool.QueryRow(ctx, `SELECT urgent, call_id FROM test_push_outbox WHERE kind = 'call' AND user_id = $1`, owner).Scan(&urgent, &callID); err != nil || !urgent || callID != call.String() {
		t.Fatalf("ring push: %v %v %v", urgent, callID, err)
	}
	r.apply(bus.Record{Kind: bus.RecCallMissed, Actor: a, To: []id.ID{owner}, Subject: call},
		bus.Record{Kind: bus.RecCallDeclined, Actor: owner, To: []id.ID{a}, Subject: call})
	if mc := r.list(owner, notifyv1.Kind_KIND_MISSED_CALL).Notifications; len(mc) != 1 || mc[0].CallId != call.String() || mc[0].Actors[0].Id != a.String() {
		t.Fatalf("missed: %v", mc)
	}
	if dc := r.list(a, notifyv1.Kind_KIND_CALL_DECLINED).Notifications; len(dc) != 1 || dc[0].Actors[0].Id != owner.String() {
		t.Fatalf("declined: %v", dc)
	}

	// Messages: only members without a live connection get an entry, one per chat.
	online := r.rdb.Subscribe(ctx, r.b.UserChannel(b))
	defer online.Close()
	if _, err := online.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	chat := id.New()
	r.apply(bus.Record{Kind: bus.RecMessage, Actor: a, To: []id.ID{b, c}, Subject: chat, Item: id.New(), Text: "hi there"},
		bus.Record{Kind: bus.RecMessage, Actor: a, To: []id.ID{b, c}, Subject: chat, Item: id.New(), Text: "second"})
	if m := r.list(b, notifyv1.Kind_KIND_MESSAGE).Notifications; len(m) != 0 {
		t.Fatalf("online member got %v", m)
	}
	if m := r.list(c, notifyv1.Kind_KIND_MESSAGE).Notifications; len(m) != 1 || m[0].ChatId != chat.String() || m[0].Preview != "second" {
		t.Fatalf("offline member: %v", m)
	}
	var collapse string
	if err := r.pool.QueryRow(ctx, `SELECT collapse FROM test_push_outbox WHERE kind = 'message' AND user_id = $1 LIMIT 1`, c).Scan(&collapse); err != nil || collapse != "chat:"+chat.String() {
		t.Fatalf("message push collapse %q %v", collapse, err)
	}
}

func TestReadMarkerPagingAndOwnership(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	owner, other := r.user("owner"), r.user("other")
	var posts []id.ID
	for i := range 25 {
		p := posttest.Post(t, r.pool, owner, "post", "p")
		posts = append(posts, p)
		fan := r.user(fmt.Sprintf("fan%d", i))
		r.apply(r.like(fan, p, owner))
	}
	co := r.client(owner)
	first, err := co.ListNotifications(ctx, connect.NewRequest(&notifyv1.ListNotificationsRequest{}))
	if err != nil || len(first.Msg.Notifications) != 20 || first.Msg.Page.NextCursor == "" || first.Msg.UnreadCount != 25 {
		t.Fatalf("first page: %v %v", first, err)
	}
	second, err := co.ListNotifications(ctx, connect.NewRequest(&notifyv1.ListNotificationsRequest{Page: pageReq(first.Msg.Page.NextCursor)}))
	if err != nil || len(second.Msg.Notifications) != 5 || second.Msg.Page.NextCursor != "" || second.Msg.Notifications[4].PostId != posts[0].String() {
		t.Fatalf("second page: %v %v", second, err)
	}
	if _, err := co.ListNotifications(ctx, connect.NewRequest(&notifyv1.ListNotificationsRequest{Page: pageReq("nope")})); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("bad cursor: %v", err)
	}
	// Another user cannot mark (or see) the owner's groups.
	gid := first.Msg.Notifications[10].Id
	if _, err := r.client(other).MarkRead(ctx, connect.NewRequest(&notifyv1.MarkReadRequest{Target: &notifyv1.MarkReadRequest_UpToId{UpToId: gid}})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("other's group: %v", err)
	}
	if l := r.list(other); len(l.Notifications) != 0 || l.UnreadCount != 0 {
		t.Fatalf("other sees %v", l)
	}
	// Up to a group: it and everything older are read.
	m, err := co.MarkRead(ctx, connect.NewRequest(&notifyv1.MarkReadRequest{Target: &notifyv1.MarkReadRequest_UpToId{UpToId: gid}}))
	if err != nil || m.Msg.UnreadCount != 10 {
		t.Fatalf("mark up to: %v %v", m, err)
	}
	// A new like on an old post moves its group up and makes it unread.
	r.apply(r.like(other, posts[0], owner))
	if u, _ := co.GetUnreadCount(ctx, connect.NewRequest(&notifyv1.GetUnreadCountRequest{})); u.Msg.UnreadCount != 11 {
		t.Fatalf("unread after a new like: %v", u.Msg)
	}
	l := r.list(owner)
	if l.Notifications[0].PostId != posts[0].String() || l.Notifications[0].Read || l.Notifications[0].ActorsCount != 2 {
		t.Fatalf("moved up: %v", l.Notifications[0])
	}
	if m, err = co.MarkRead(ctx, connect.NewRequest(&notifyv1.MarkReadRequest{Target: &notifyv1.MarkReadRequest_All{All: true}})); err != nil || m.Msg.UnreadCount != 0 {
		t.Fatalf("mark all: %v %v", m, err)
	}
	// The marker never moves back.
	if m, err = co.MarkRead(ctx, connect.NewRequest(&notifyv1.MarkReadRequest{Target: &notifyv1.MarkReadRequest_UpToId{UpToId: gid}})); err != nil || m.Msg.UnreadCount != 0 {
		t.Fatalf("marker moved back: %v %v", m, err)
	}
	if _, err := co.MarkRead(ctx, connect.NewRequest(&notifyv1.MarkReadRequest{})); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("empty mark: %v", err)
	}
	// Unauthenticated callers are refused before anything is read.
	anon := notifyvNoAuth(r)
	if _, err := anon.GetUnreadCount(ctx, connect.NewRequest(&notifyv1.GetUnreadCountRequest{})); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("anonymous: %v", err)
	}
}

func TestBlocksSuppressBothWays(t *testing.T) {
	r := newRig(t)
	owner, blocked, blocker := r.user("owner"), r.user("blocked"), r.user("blocker")
	posttest.Block(t, r.pool, owner, blocked)
	posttest.Block(t, r.pool, blocker, owner)
	p := posttest.Post(t, r.pool, owner, "post", "x")
	posttest.Follow(t, r.pool, blocked, owner)
	r.apply(r.like(blocked, p, owner), r.like(blocker, p, owner),
		bus.Record{Kind: bus.RecFollow, Actor: blocked, To: []id.ID{owner}},
		bus.Record{Kind: bus.RecComment, Actor: blocker, To: []id.ID{owner}, Subject: p, Item: id.New(), Text: "x"},
		bus.Record{Kind: bus.RecMessage, Actor: owner, To: []id.ID{blocked, blocker}, Subject: id.New(), Item: id.New(), Text: "x"},
		bus.Record{Kind: bus.RecPost, Actor: blocked, Subject: posttest.Post(t, r.pool, blocked, "post", "@owner"), Text: "@owner"})
	for _, u := range []id.ID{owner, blocked, blocker} {
		if l := r.list(u); len(l.Notifications) != 0 {
			t.Fatalf("%v got %v", u, l.Notifications)
		}
	}
	if n := r.int(`SELECT count(*) FROM test_push_outbox`); n != 0 {
		t.Fatalf("pushes across a block: %d", n)
	}

	// A block made later takes each out of the other's existing groups.
	fan, other := r.user("fan"), r.user("other")
	p2 := posttest.Post(t, r.pool, fan, "post", "y")
	r.apply(r.like(owner, p2, fan), r.like(other, p2, fan), r.like(fan, p, owner))
	if l := r.list(fan); len(l.Notifications) != 1 || l.Notifications[0].ActorsCount != 2 {
		t.Fatalf("before the block: %v", l.Notifications)
	}
	posttest.Block(t, r.pool, fan, owner)
	r.apply(bus.Record{Kind: bus.RecBlock, Actor: fan, To: []id.ID{owner}})
	if l := r.list(fan); len(l.Notifications) != 1 || l.Notifications[0].ActorsCount != 1 || l.Notifications[0].Actors[0].Id != other.String() {
		t.Fatalf("blocker's inbox: %v", l.Notifications)
	}
	if l := r.list(owner); len(l.Notifications) != 0 {
		t.Fatalf("blocked user's inbox: %v", l.Notifications)
	}
}

func TestPreferences(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	owner, fan := r.user("owner"), r.user("fan")
	co := r.client(owner)
	got, err := co.GetPreferences(ctx, connect.NewRequest(&notifyv1.GetPreferencesRequest{}))
	if err != nil || len(got.Msg.Preferences.Kinds) != len(notifyv1.Kind_name)-1 || !got.Msg.Preferences.Kinds[0].Inbox || got.Msg.Preferences.QuietHours != nil {
		t.Fatalf("defaults: %v %v", got, err)
	}
	up := &notifyv1.Preferences{
		Kinds: []*notifyv1.KindPreference{
			{Kind: notifyv1.Kind_KIND_LIKE, Inbox: false, Push: true},
			{Kind: notifyv1.Kind_KIND_FOLLOW, Inbox: true, Push: false},
		},
		QuietHours: &notifyv1.QuietHours{StartMinute: 22 * 60, EndMinute: 7 * 60},
		TimeZone:   "Asia/Kolkata",
	}
	if _, err := co.UpdatePreferences(ctx, connect.NewRequest(&notifyv1.UpdatePreferencesRequest{Preferences: up})); err != nil {
		t.Fatal(err)
	}
	p := posttest.Post(t, r.pool, owner, "post", "x")
	posttest.Follow(t, r.pool, fan, owner)
	r.apply(r.like(fan, p, owner), bus.Record{Kind: bus.RecFollow, Actor: fan, To: []id.ID{owner}})
	l := r.list(owner)
	if len(l.Notifications) != 1 || l.Notifications[0].Kind != notifyv1.Kind_KIND_FOLLOW {
		t.Fatalf("inbox off for likes: %v", l.Notifications)
	}
	if n := r.int(`SELECT count(*) FROM test_push_outbox WHERE user_id = $1`, owner); n != 0 {
		t.Fatalf("push off for follows (likes not in the inbox): %d pushes", n)
	}

	// Quiet hours 22:00–07:00 in Kolkata (UTC+5:30), through the Policy.
	pol := r.s.Policy()
	cases := []struct {
		at     time.Time
		allow  bool
		resume time.Time
	}{
		{time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC), true, time.Time{}},                                    // 17:30 local
		{time.Date(2026, 12, 7, 17, 0, 0, 0, time.UTC), false, time.Date(2026, 12, 8, 1, 30, 0, 0, time.UTC)}, // 22:30 local
		{time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC), false, time.Date(2026, 12, 7, 1, 30, 0, 0, time.UTC)},  // 05:30 local
		{time.Date(2026, 12, 7, 1, 30, 0, 0, time.UTC), true, time.Time{}},                                    // 07:00 local
		{time.Date(2026, 12, 7, 16, 29, 0, 0, time.UTC), true, time.Time{}},                                   // 21:59 local
	}
	for _, c := range cases {
		allow, resume, err := pol.Allow(ctx, owner, "comment", c.at)
		if err != nil || allow != c.allow || !resume.Equal(c.resume) {
			t.Errorf("at %v: allow %v resume %v err %v; want %v %v", c.at, allow, resume, err, c.allow, c.resume)
		}
	}
	if allow, resume, _ := pol.Allow(ctx, owner, "follow", time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)); allow || !resume.IsZero() {
		t.Fatalf("push off drops: %v %v", allow, resume)
	}
	if on, err := pol.Online(ctx, owner); err != nil || on {
		t.Fatalf("online: %v %v", on, err)
	}

	// Bad preferences are invalid_argument.
	for name, bad := range map[string]*notifyv1.Preferences{
		"zone":      {TimeZone: "Mars/Olympus"},
		"local":     {TimeZone: "Local"},
		"empty":     {QuietHours: &notifyv1.QuietHours{StartMinute: 60, EndMinute: 60}},
		"range":     {QuietHours: &notifyv1.QuietHours{StartMinute: 1440}},
		"dup kind":  {Kinds: []*notifyv1.KindPreference{{Kind: 1}, {Kind: 1}}},
		"zero kind": {Kinds: []*notifyv1.KindPreference{{Kind: 0}}},
		"bad kind":  {Kinds: []*notifyv1.KindPreference{{Kind: 99}}},
	} {
		if _, err := co.UpdatePreferences(ctx, connect.NewRequest(&notifyv1.UpdatePreferencesRequest{Preferences: bad})); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestAccountDeletionRemovesNotificationsAndTraces(t *testing.T) {
	r := newRig(t)
	owner, gone, stays := r.user("owner"), r.user("gone"), r.user("stays")
	p := posttest.Post(t, r.pool, owner, "post", "x")
	p2 := posttest.Post(t, r.pool, owner, "post", "y")
	pg := posttest.Post(t, r.pool, gone, "post", "z")
	r.apply(r.like(gone, p, owner), r.like(stays, p, owner), r.like(gone, p2, owner), r.like(owner, pg, gone))
	if n := len(r.list(gone).Notifications); n != 1 {
		t.Fatalf("gone's inbox: %d", n)
	}
	r.exec(`DELETE FROM users WHERE id = $1`, gone)
	l := r.list(owner)
	if len(l.Notifications) != 1 || l.Notifications[0].ActorsCount != 1 || l.Notifications[0].Actors[0].Id != stays.String() {
		t.Fatalf("after deletion: %v", l.Notifications)
	}
	for _, q := range []string{
		`SELECT count(*) FROM notification_groups WHERE user_id = $1`,
		`SELECT count(*) FROM notification_actors WHERE actor_id = $1`,
		`SELECT count(*) FROM notification_heads WHERE user_id = $1`,
	} {
		if n := r.int(q, gone); n != 0 {
			t.Fatalf("%s: %d", q, n)
		}
	}
}

func TestPushTokensActAsTheCaller(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	u, v := r.user("u"), r.user("v")
	tok := "ExponentPushToken[abcDEF123]"
	if _, err := r.client(u).RegisterPushToken(ctx, connect.NewRequest(&notifyv1.RegisterPushTokenRequest{Token: tok, Platform: notifyv1.PushPlatform_PUSH_PLATFORM_IOS})); err != nil {
		t.Fatal(err)
	}
	if got := r.push.tokens[tok]; !strings.HasPrefix(got, u.String()+"/ios/") {
		t.Fatalf("registered as %q", got)
	}
	// Another user's unregister does not remove it.
	if _, err := r.client(v).UnregisterPushToken(ctx, connect.NewRequest(&notifyv1.UnregisterPushTokenRequest{Token: tok})); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.push.tokens[tok]; !ok {
		t.Fatal("removed by another user")
	}
	for _, bad := range []string{"", "token", "ExponentPushToken[]", "ExponentPushToken[a b]", "ExponentPushToken[" + strings.Repeat("a", 190) + "]"} {
		if _, err := r.client(u).RegisterPushToken(ctx, connect.NewRequest(&notifyv1.RegisterPushTokenRequest{Token: bad, Platform: notifyv1.PushPlatform_PUSH_PLATFORM_IOS})); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if _, err := r.client(u).RegisterPushToken(ctx, connect.NewRequest(&notifyv1.RegisterPushTokenRequest{Token: tok})); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("no platform: %v", err)
	}
	// A logout's record forgets the tokens of that session only.
	_ = r.push.RegisterToken(ctx, u, "ExponentPushToken[s1]", "android", "s1")
	_ = r.push.RegisterToken(ctx, u, "ExponentPushToken[s2]", "android", "s2")
	r.apply(bus.Record{Kind: bus.RecSessionEnded, Actor: u, Tag: "s1"})
	if _, ok := r.push.tokens["ExponentPushToken[s1]"]; ok {
		t.Fatal("ended session's token kept")
	}
	if _, ok := r.push.tokens["ExponentPushToken[s2]"]; !ok {
		t.Fatal("other session's token removed")
	}
	// Account deletion forgets them all.
	r.apply(bus.Record{Kind: bus.RecAccountDeleted, Actor: u})
	if len(r.push.tokens) != 0 {
		t.Fatalf("tokens after account deletion: %v", r.push.tokens)
	}
}

// TestLikeUnlikeInOneBatch: a like that its unlike follows in the same
// batch cancels out (no group, no push), and stays applied exactly once
// when redelivered; an unlike then a re-like keeps the actor; pairs of
// different actors or posts do not cancel each other.
func TestLikeUnlikeInOneBatch(t *testing.T) {
	r := newRig(t)
	owner, a, b := r.user("owner"), r.user("a"), r.user("b")
	p1 := posttest.Post(t, r.pool, owner, "post", "one")
	p2 := posttest.Post(t, r.pool, owner, "post", "two")
	t0 := time.Now()
	like := bus.Record{ID: id.New(), Kind: bus.RecLike, Actor: a, To: []id.ID{owner}, Subject: p1, At: t0}
	unlike := bus.Record{ID: id.New(), Kind: bus.RecUnlike, Actor: a, To: []id.ID{owner}, Subject: p1, At: t0.Add(time.Millisecond)}
	// a liked again since (the row is there): applied one by one, the like
	// would join and push, the unlike take it out again.
	r.exec(`INSERT INTO post_likes (post_id, user_id) VALUES ($1, $2), ($3, $4)`, p1, a, p2, b)
	keep := bus.Record{ID: id.New(), Kind: bus.RecLike, Actor: b, To: []id.ID{owner}, Subject: p2, At: t0}
	other := bus.Record{ID: id.New(), Kind: bus.RecUnlike, Actor: b, To: []id.ID{owner}, Subject: p1, At: t0} // b never liked p1
	r.apply(like, keep, other, unlike)
	if n := r.int(`SELECT count(*) FROM notification_groups WHERE user_id = $1 AND subject_id = $2`, owner, p1); n != 0 {
		t.Fatalf("like+unlike left %d groups", n)
	}
	if n := r.int(`SELECT count(*) FROM notification_groups WHERE user_id = $1 AND subject_id = $2 AND actors_count = 1`, owner, p2); n != 1 {
		t.Fatalf("the other like: %d groups", n)
	}
	if n := r.int(`SELECT count(*) FROM test_push_outbox WHERE user_id = $1`, owner.String()); n != 1 {
		t.Fatalf("%d pushes, want only b's like", n)
	}
	// Redelivered, one at a time: still applied once (the ids were kept).
	r.apply(like)
	if n := r.int(`SELECT count(*) FROM notification_groups WHERE user_id = $1 AND subject_id = $2`, owner, p1); n != 0 {
		t.Fatalf("redelivered like applied: %d groups", n)
	}
	// Liked (now applied), then unlike and re-like in one batch: a stays.
	r.apply(bus.Record{Kind: bus.RecLike, Actor: a, To: []id.ID{owner}, Subject: p1, At: t0.Add(time.Second)})
	r.apply(bus.Record{Kind: bus.RecUnlike, Actor: a, To: []id.ID{owner}, Subject: p1, At: t0.Add(2 * time.Second)},
		bus.Record{Kind: bus.RecLike, Actor: a, To: []id.ID{owner}, Subject: p1, At: t0.Add(3 * time.Second)})
	if n := r.int(`SELECT count(*) FROM notification_groups WHERE user_id = $1 AND subject_id = $2 AND actors_count = 1`, owner, p1); n != 1 {
		t.Fatalf("unlike+re-like: %d groups with a", n)
	}
}
