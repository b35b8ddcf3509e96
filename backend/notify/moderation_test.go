package notify

import (
	"context"
	"strings"
	"testing"

	"connectrpc.com/connect"

	notifyv1 "github.com/infliq/infliq/backend/gen/infliq/notify/v1"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/id"
)

// TestModerationNotice: a moderation record becomes one inbox entry per
// notice (never grouped), with the text as preview and no actor, applied
// once however often it is delivered, kept whatever the inbox preference,
// and pushed (non-urgent) with no actor in the payload.
func TestModerationNotice(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	user := r.user("warned")
	// The user tries to switch moderation off in the inbox: it stays on.
	prefs := &notifyv1.Preferences{Kinds: []*notifyv1.KindPreference{{Kind: notifyv1.Kind_KIND_MODERATION, Inbox: false, Push: true}}}
	up, err := r.client(user).UpdatePreferences(ctx, connect.NewRequest(&notifyv1.UpdatePreferencesRequest{Preferences: prefs}))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range up.Msg.GetPreferences().GetKinds() {
		if k.GetKind() == notifyv1.Kind_KIND_MODERATION && !k.GetInbox() {
			t.Errorf("moderation switched off in the inbox: %v", k)
		}
	}

	first := bus.Record{ID: id.New(), Kind: bus.RecModeration, To: []id.ID{user}, Text: "Please keep it civil. Call +91 98765 43210 " + strings.Repeat("x", 300)}
	r.apply(first)
	r.apply(first) // redelivered
	r.apply(bus.Record{Kind: bus.RecModeration, To: []id.ID{user}, Text: "Second warning"})
	r.apply(bus.Record{Kind: bus.RecModeration, To: []id.ID{id.New()}, Text: "nobody"}) // no such user

	l := r.list(user)
	if len(l.GetNotifications()) != 2 || l.GetUnreadCount() != 2 {
		t.Fatalf("want 2 entries, got %v", l)
	}
	older := l.GetNotifications()[1]
	if older.GetKind() != notifyv1.Kind_KIND_MODERATION || len(older.GetActors()) != 0 || older.GetActorsCount() != 0 ||
		!strings.HasPrefix(older.GetPreview(), "Please keep it civil.") || strings.Contains(older.GetPreview(), "98765") ||
		len([]rune(older.GetPreview())) > previewMax {
		t.Errorf("entry: %v", older)
	}
	if l.GetNotifications()[0].GetPreview() != "Second warning" {
		t.Errorf("newer entry: %v", l.GetNotifications()[0])
	}
	if only := r.list(user, notifyv1.Kind_KIND_MODERATION); len(only.GetNotifications()) != 2 {
		t.Errorf("kind filter: %v", only)
	}
	if n := r.int(`SELECT count(*) FROM test_push_outbox WHERE user_id = $1 AND kind = 'moderation' AND NOT urgent AND title <> '' AND body <> ''`, user); n != 2 {
		t.Errorf("pushes: %d", n)
	}
	if n := r.int(`SELECT count(*) FROM test_push_outbox WHERE body = 'Second warning'`); n != 1 {
		t.Errorf("push body: %d", n)
	}

	// push_off applies to the push, not to the inbox.
	prefs.Kinds[0].Push = false
	if _, err := r.client(user).UpdatePreferences(ctx, connect.NewRequest(&notifyv1.UpdatePreferencesRequest{Preferences: prefs})); err != nil {
		t.Fatal(err)
	}
	r.apply(bus.Record{Kind: bus.RecModeration, To: []id.ID{user}, Text: "Third"})
	if l := r.list(user); len(l.GetNotifications()) != 3 {
		t.Errorf("third entry: %v", l)
	}
	if n := r.int(`SELECT count(*) FROM test_push_outbox WHERE user_id = $1`, user); n != 2 {
		t.Errorf("pushed with push off: %d", n)
	}
}

// TestModerationPushPayload: the push names no actor.
func TestModerationPushPayload(t *testing.T) {
	m := pushOf(applied{event: id.New(), user: id.New(), group: id.New(), kind: notifyv1.Kind_KIND_MODERATION, preview: "Be kind"})
	if _, ok := m.Data["actorId"]; ok || m.Body != "Be kind" || m.Kind != "moderation" || m.Urgent || m.Data["type"] != "moderation" {
		t.Errorf("push: %+v", m)
	}
}

// TestModerationLegacyEvent: the legacy socket event is a system notice.
func TestModerationLegacyEvent(t *testing.T) {
	n := &notifyv1.Notification{Id: id.New().String(), Kind: notifyv1.Kind_KIND_MODERATION, Preview: "Be kind"}
	ev := legacyEvent(id.New(), n, 1)
	if ev.GetType() != "moderation" || ev.GetMessage() != "Be kind" || ev.GetId() != "moderation-"+n.Id || ev.GetMeta()["actorId"] != "" {
		t.Errorf("legacy: %v", ev)
	}
}
