package main

import (
	"slices"
	"testing"
)

func TestParseTiers(t *testing.T) {
	for arg, want := range map[string][]string{
		"feed":              {"feed"},
		"gateway,post,feed": {"post", "feed", "gateway"}, // start order: services first
		"chat,realtime":     {"chat", "realtime"},
	} {
		if got, ok := parseTiers(arg); !ok || !slices.Equal(got, want) {
			t.Errorf("%q: %v %v", arg, got, ok)
		}
	}
	for _, bad := range []string{"", "nope", "feed,feed", "feed,", "all", "feed,migrate"} {
		if got, ok := parseTiers(bad); ok {
			t.Errorf("%q accepted as %v", bad, got)
		}
	}
}
