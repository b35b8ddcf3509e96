package bus

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/infliq/infliq/backend/platform/cache/redistest"
	"github.com/infliq/infliq/backend/platform/id"
)

// Records ride in the publish's round trip (on a cluster too, where the
// script calls and the stream appends go to different slots), survive the
// trip field for field, and presence is the user channel's subscriptions.
func TestRecordsAndPresence(t *testing.T) {
	redistest.Each(t, testRecordsAndPresence)
}

func testRecordsAndPresence(t *testing.T, rdb redis.UniversalClient) {
	b := New(rdb, redistest.Prefix(), 10)
	ctx := context.Background()
	actor, to1, to2, post, item := id.New(), id.New(), id.New(), id.New(), id.New()
	at := time.UnixMilli(time.Now().UnixMilli())
	long := make([]byte, RecordTextMax+10)
	for i := range long {
		long[i] = 'x'
	}
	long[RecordTextMax-1] = 0xc3 // a two-byte rune cut at the limit
	long[RecordTextMax] = 0xa9
	pubs := []Publication{
		{Users: []id.ID{to1, to2}, Event: note("m"), Records: []Record{{Kind: RecMessage, Actor: actor, To: []id.ID{to1, to2}, Subject: post, Item: item, Text: "hi", At: at}}},
		{Records: []Record{{Kind: RecComment, Actor: actor, To: []id.ID{to2}, Subject: post, Text: string(long)}, {Kind: RecCallStarted, Actor: actor, To: []id.ID{to1}, Subject: item, Tag: "audio"}}},
	}
	if err := b.PublishMany(ctx, pubs); err != nil {
		t.Fatal(err)
	}
	recs, err := b.PeekRecords(ctx)
	if err != nil || len(recs) != 3 {
		t.Fatalf("records %v %v", recs, err)
	}
	byKind := map[string]Record{}
	for _, r := range recs {
		byKind[r.Kind] = r
	}
	m := byKind[RecMessage]
	if m.Actor != actor || len(m.To) != 2 || m.To[1] != to2 || m.Subject != post || m.Item != item || m.Text != "hi" || !m.At.Equal(at) || m.ID != pubs[0].Records[0].ID || m.ID.IsZero() {
		t.Fatalf("message record %+v", m)
	}
	if c := byKind[RecComment]; len(c.Text) != RecordTextMax-1 {
		t.Fatalf("comment text cut to %d bytes", len(c.Text))
	}
	if c := byKind[RecCallStarted]; c.Tag != "audio" || c.Subject != item {
		t.Fatalf("call record %+v", c)
	}
	// The realtime event went out as before.
	if seq, err := b.Sequence(ctx, to2); err != nil || seq != 1 {
		t.Fatalf("to2 sequence %d %v", seq, err)
	}

	on, err := b.Online(ctx, to1, to2)
	if err != nil || on[0] || on[1] {
		t.Fatalf("online before subscribing: %v %v", on, err)
	}
	sub := rdb.Subscribe(ctx, b.UserChannel(to2))
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	if on, err = b.Online(ctx, to1, to2); err != nil || on[0] || !on[1] {
		t.Fatalf("online: %v %v", on, err)
	}
}
