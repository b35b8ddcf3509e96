//go:build linux

package main

import (
	"slices"
	"testing"
)

func TestTopologies(t *testing.T) {
	if got := processes("split"); !slices.Equal(got, tierOrder) {
		t.Fatalf("split: %v", got)
	}
	if got := processes("all"); !slices.Equal(got, []string{"all"}) {
		t.Fatalf("all: %v", got)
	}
	// A group without the gateway starts first; one with it starts last.
	if got := processes("realtime,chat"); got[0] != "realtime,chat" || len(got) != len(tierOrder)-1 || got[len(got)-1] != "gateway" {
		t.Fatalf("realtime,chat: %v", got)
	}
	if got := processes("gateway,feed,post"); got[len(got)-1] != "gateway,feed,post" || len(got) != len(tierOrder)-2 || slices.Contains(got, "feed") {
		t.Fatalf("gateway,feed,post: %v", got)
	}
	for _, ok := range []string{"split", "all", "realtime,chat", "gateway,post,feed"} {
		if !validTopology(ok) {
			t.Errorf("%q refused", ok)
		}
	}
	for _, bad := range []string{"", "feed", "feed,feed", "feed,nope", "all,feed", "split,"} {
		if validTopology(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}
