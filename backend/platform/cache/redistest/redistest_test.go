package redistest

import (
	"context"
	"testing"
)

// TestClusterServesEverySlot: the test cluster has three masters that
// together serve all 16384 slots, and keys on different masters work.
func TestClusterServesEverySlot(t *testing.T) {
	c := Cluster(t)
	ctx := context.Background()
	slots, err := c.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	served, masters := 0, map[string]bool{}
	for _, s := range slots {
		served += s.End - s.Start + 1
		masters[s.Nodes[0].Addr] = true
	}
	if served != 16384 || len(masters) != 3 {
		t.Fatalf("%d slots on %d masters", served, len(masters))
	}
	p := Prefix()
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		if err := c.Set(ctx, p+k, k, 0).Err(); err != nil {
			t.Fatal(err)
		}
		if v, err := c.Get(ctx, p+k).Result(); err != nil || v != k {
			t.Fatal(v, err)
		}
	}
}
