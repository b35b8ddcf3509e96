package realtime

import "testing"

// TestGCTuner: GOGC drops to the runtime default above gcSocketsHigh
// sockets and returns to what it was below gcSocketsLow, not in between.
func TestGCTuner(t *testing.T) {
	percent := 200
	g := &gcTuner{set: func(p int) int { old := percent; percent = p; return old }}
	for _, step := range []struct {
		sockets int
		want    int
	}{
		{0, 200}, {gcSocketsHigh, 200}, {gcSocketsHigh + 1, 100}, {50_000, 100},
		{gcSocketsLow, 100}, // in the band: stays
		{gcSocketsLow - 1, 200}, {gcSocketsHigh, 200}, {gcSocketsHigh + 1, 100},
	} {
		g.observe(step.sockets)
		if percent != step.want {
			t.Fatalf("at %d sockets GOGC %d, want %d", step.sockets, percent, step.want)
		}
	}
}
