package call

import (
	"testing"
	"time"

	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/id"
)

// The notify tier learns of a ring (urgent push), a missed call (rang out,
// or hung up by the caller before an answer) and a declined call; nothing
// else.
func TestCallRecords(t *testing.T) {
	caller, receiver, cid := id.New(), id.New(), id.New()
	c := &callRow{ID: cid.String(), CallerID: caller.String(), ReceiverID: receiver.String(), Type: "audio"}
	started := time.Now()
	answered := *c
	answered.StartedAt = &started
	for _, tc := range []struct {
		to        id.ID
		kind      string
		row       *callRow
		want      string
		actor, at id.ID
	}{
		{receiver, "incoming-call", c, bus.RecCallStarted, caller, receiver},
		{caller, "call-rejected", c, bus.RecCallDeclined, receiver, caller},
		{receiver, "call-missed", c, bus.RecCallMissed, caller, receiver},
		{caller, "call-missed", c, "", id.Nil, id.Nil},
		{receiver, "call-ended", c, bus.RecCallMissed, caller, receiver},
		{receiver, "call-ended", &answered, "", id.Nil, id.Nil},
		{caller, "call-ended", c, "", id.Nil, id.Nil},
		{caller, "call-accepted", &answered, "", id.Nil, id.Nil},
	} {
		recs := callRecords(tc.to, tc.kind, tc.row)
		if tc.want == "" {
			if len(recs) != 0 {
				t.Errorf("%s to %v: %+v", tc.kind, tc.to, recs)
			}
			continue
		}
		if len(recs) != 1 || recs[0].Kind != tc.want || recs[0].Actor != tc.actor || recs[0].To[0] != tc.at || recs[0].Subject != cid || recs[0].Tag != "audio" {
			t.Errorf("%s to %v: %+v", tc.kind, tc.to, recs)
		}
	}
}
