package realtime

import "testing"

func TestMaxSessions(t *testing.T) {
	for _, c := range []struct {
		setting int
		limit   uint64
		want    int
	}{
		{0, 20000, 20000 - fdReserve}, // the bench machine's hard limit
		{0, 1048576, 1048576 - fdReserve},
		{0, 1024, 0}, // too small to keep a reserve: no cap, as before
		{0, 0, 0},    // unknown
		{0, 1 << 40, 1<<31 - fdReserve},
		{-1, 20000, 0},
		{5000, 20000, 5000},
		{50000, 20000, 50000}, // the operator's word
	} {
		if got := maxSessions(c.setting, c.limit); got != c.want {
			t.Errorf("maxSessions(%d, %d) = %d, want %d", c.setting, c.limit, got, c.want)
		}
	}
}
