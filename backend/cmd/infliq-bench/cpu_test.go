//go:build linux

package main

import (
	"strings"
	"testing"
)

// TestMachineTicks: the machine's CPU time never goes back, busy stays
// within it and softirq within busy, and the busy share is formatted over
// the cores.
func TestMachineTicks(t *testing.T) {
	b0, s0, t0 := machineTicks()
	b1, s1, t1 := machineTicks()
	if t0 <= 0 || t1 < t0 || b1 < b0 || b1-b0 > t1-t0 || s0 > b0 || s1 > b1 {
		t.Fatalf("ticks busy %d→%d softirq %d→%d total %d→%d", b0, b1, s0, s1, t0, t1)
	}
	if got := machineBusy(0, 0, 100, 50, 5, 200); !strings.HasPrefix(got, "machine 50% busy over its ") || !strings.HasSuffix(got, "(softirq 5%)") {
		t.Fatalf("%q", got)
	}
	if got := machineBusy(0, 0, 100, 0, 0, 100); got != "?" {
		t.Fatalf("no time passed: %q", got)
	}
}
