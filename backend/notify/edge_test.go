package notify

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/redis/go-redis/v9"

	notifyv1 "github.com/infliq/infliq/backend/gen/infliq/notify/v1"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
	"github.com/infliq/infliq/backend/post/posttest"
)

// Every string field of every request, with a NUL, invalid UTF-8, or too
// long, is invalid_argument (never a 5xx), sent as JSON so the bytes reach
// the server as they are.
func TestBadTextInEveryStringFieldIsInvalidArgument(t *testing.T) {
	r := newRig(t)
	u := r.user("u")
	tok := tiertest.Token(t, u)
	long := strings.Repeat("a", 5000)
	fields := map[string][]string{
		"ListNotifications":   {`{"page":{"cursor":%s}}`},
		"MarkRead":            {`{"upToId":%s}`},
		"UpdatePreferences":   {`{"preferences":{"timeZone":%s}}`},
		"RegisterPushToken":   {`{"token":%s,"platform":"PUSH_PLATFORM_IOS"}`},
		"UnregisterPushToken": {`{"token":%s}`},
	}
	values := []string{`"bad\u0000text"`, "\"bad\xff\xfetext\"", `"` + long + `"`}
	for rpc, tmpls := range fields {
		for _, tmpl := range tmpls {
			for _, v := range values {
				body := strings.Replace(tmpl, "%s", v, 1)
				req, _ := http.NewRequest(http.MethodPost, r.url+"/infliq.notify.v1.NotificationService/"+rpc, bytes.NewReader([]byte(body)))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+tok)
				res, err := r.h1.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				raw, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != 400 || !strings.Contains(string(raw), `"invalid_argument"`) {
					t.Errorf("%s %.40q: %d %s", rpc, body, res.StatusCode, raw)
				}
			}
		}
	}
}

// A new or updated group reaches the user's channel once per batch, as the
// legacy-shaped notification carrying the group and the unread count.
func TestRealtimeUpdateCarriesTheGroupAndUnreadCount(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	owner, a, b := r.user("owner"), r.user("Asha"), r.user("bilal")
	sub := r.rdb.Subscribe(ctx, r.b.UserChannel(owner))
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	p := posttest.Post(t, r.pool, owner, "post", "x")
	r.apply(r.like(b, p, owner), r.like(a, p, owner))
	select {
	case m := <-sub.Channel():
		ev, err := bus.Decode(m.Payload)
		if err != nil {
			t.Fatal(err)
		}
		n := ev.GetNotification()
		if n.GetType() != "like" || n.GetTitle() != "New like" || n.GetMeta()["postId"] != p.String() ||
			n.GetUpdate().GetUnreadCount() != 1 || n.GetUpdate().GetNotification().GetActorsCount() != 2 ||
			!strings.HasSuffix(n.GetMessage(), " and 1 other liked your post") || n.GetId() != "like-"+p.String()+"-"+n.GetMeta()["actorId"] {
			t.Fatalf("event: %v", n)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no realtime update")
	}
	select {
	case m := <-sub.Channel():
		t.Fatalf("a second event for one batch: %s", m.Payload)
	case <-time.After(200 * time.Millisecond):
	}
	_ = id.Nil
}

// The cached first page is never stale after a change: a new like, a
// MarkRead and a page rendered before a change but stored after it.
func TestInboxCacheFollowsChanges(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	owner, a, b := r.user("owner"), r.user("asha"), r.user("bilal")
	p := posttest.Post(t, r.pool, owner, "post", "x")
	r.apply(r.like(a, p, owner))
	if l := r.list(owner); len(l.Notifications) != 1 || l.UnreadCount != 1 {
		t.Fatalf("first: %v", l)
	}
	// Served from the cache now; a stale page stored under an old
	// generation is ignored.
	gen, _ := r.s.cache.keys(owner)
	old := r.rdb.Get(ctx, gen).Val()
	r.apply(r.like(b, p, owner))
	if l := r.list(owner); len(l.Notifications) != 1 || l.Notifications[0].ActorsCount != 2 {
		t.Fatalf("after a like: %v", l)
	}
	r.s.cache.put(ctx, owner, old, &notifyv1.ListNotificationsResponse{})
	if l := r.list(owner); len(l.Notifications) != 1 {
		t.Fatalf("stale page served: %v", l)
	}
	if _, err := r.client(owner).MarkRead(ctx, connect.NewRequest(&notifyv1.MarkReadRequest{Target: &notifyv1.MarkReadRequest_All{All: true}})); err != nil {
		t.Fatal(err)
	}
	if l := r.list(owner); l.UnreadCount != 0 || !l.Notifications[0].Read {
		t.Fatalf("after markRead: %v", l)
	}
}

func TestPreviewIsOneShortLineWithoutPhoneNumbers(t *testing.T) {
	for in, want := range map[string]string{
		"  call me at +1 (415) 555-0100 \n please": "call me at ••• please",
		"see you at 10:30 on 12.07":                "see you at 10:30 on 12.07",
		"code 2026 and 12345":                      "code 2026 and 12345",
		"bad\xffbytes":                             "badbytes",
	} {
		if got := preview(in); got != want {
			t.Errorf("preview(%q) = %q, want %q", in, got, want)
		}
	}
	if got := []rune(preview(strings.Repeat("word ", 100))); len(got) != previewMax || got[len(got)-1] != '…' {
		t.Errorf("long preview: %d runes", len(got))
	}
}

// An unreadable stream entry is acknowledged and dropped; it does not hold
// back the records behind it.
func TestConsumerSkipsUnreadableEntries(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	owner, fan := r.user("owner"), r.user("fan")
	p := posttest.Post(t, r.pool, owner, "post", "x")
	rec := r.like(fan, p, owner)
	if err := r.rdb.XAdd(ctx, &redis.XAddArgs{Stream: r.b.RecordKey(bus.RecordShard(&rec)), Values: []any{"k", "like", "id", "nope"}}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := r.b.AppendRecords(ctx, rec); err != nil {
		t.Fatal(err)
	}
	r.consume()
	eventually(t, "the like applied past the bad entry", func() bool { return len(r.list(owner).Notifications) == 1 })
	eventually(t, "the stream drained", func() bool {
		return r.rdb.XLen(ctx, r.b.RecordKey(bus.RecordShard(&rec))).Val() == 0
	})
}
