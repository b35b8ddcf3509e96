package user

import (
	"testing"
	"time"

	"github.com/infliq/infliq/backend/platform/id"
)

// TestRecordedSkipsWhatRecordSQLWouldRefuse: the in-process stamp lets a
// map query send the position write only when recordSQL could write it.
func TestRecordedSkipsWhatRecordSQLWouldRefuse(t *testing.T) {
	var r recorded
	u := id.New()
	t0 := time.Now()
	if !r.due(u, 1, 2, t0) {
		t.Fatal("first query must record")
	}
	if r.due(u, 1, 2, t0.Add(30*time.Second)) || r.due(u, 3, 4, t0.Add(59*time.Second)) {
		t.Fatal("within a minute nothing is written, moved or not")
	}
	if !r.due(u, 3, 4, t0.Add(61*time.Second)) {
		t.Fatal("a move after a minute is recorded")
	}
	if r.due(u, 3, 4, t0.Add(9*time.Minute)) {
		t.Fatal("the same cell within ten minutes is not rewritten")
	}
	if !r.due(u, 3, 4, t0.Add(12*time.Minute)) {
		t.Fatal("the same cell is refreshed after ten minutes")
	}
	r.forget(u)
	if !r.due(u, 3, 4, t0.Add(12*time.Minute+time.Second)) {
		t.Fatal("after forget the next query records")
	}
}

// TestRecordedStaysBounded: past its cap the map drops stamps too old to
// matter.
func TestRecordedStaysBounded(t *testing.T) {
	var r recorded
	t0 := time.Now()
	for i := 0; i < recordedCap; i++ {
		r.due(id.New(), 1, 2, t0)
	}
	r.due(id.New(), 1, 2, t0.Add(refresh+2*time.Second))
	if len(r.last) != 1 {
		t.Fatalf("%d stamps kept after the sweep", len(r.last))
	}
}
