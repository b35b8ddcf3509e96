package chat

import (
	"testing"
	"time"

	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/id"
)

// A message's record names every member but the sender; call logs have
// none (calls have their own records).
func TestMessageRecord(t *testing.T) {
	a, b, c, chat, msg := id.New(), id.New(), id.New(), id.New(), id.New()
	m := &message{ID: msg.String(), ChatID: chat.String(), SenderID: a.String(), Text: "hi", Type: "text", CreatedAt: time.Now()}
	recs := messageRecord(m, []string{a.String(), b.String(), c.String()})
	if len(recs) != 1 || recs[0].Kind != bus.RecMessage || recs[0].Actor != a || len(recs[0].To) != 2 || recs[0].To[0] != b ||
		recs[0].Subject != chat || recs[0].Item != msg || recs[0].Text != "hi" || !recs[0].At.Equal(m.CreatedAt) {
		t.Fatalf("%+v", recs)
	}
	m.Type = "call"
	if recs := messageRecord(m, []string{a.String(), b.String()}); len(recs) != 0 {
		t.Fatalf("call log: %+v", recs)
	}
	m.Type = "text"
	if recs := messageRecord(m, []string{a.String()}); len(recs) != 0 {
		t.Fatalf("alone: %+v", recs)
	}
}
