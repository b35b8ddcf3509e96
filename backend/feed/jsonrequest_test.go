package feed

import (
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	feedv1 "github.com/infliq/infliq/backend/gen/infliq/feed/v1"
)

var pageRequests = []string{
	`{"page":{"limit":10}}`, `{}`, `{"page":{}}`, `{"offset":{}}`, `{"page":{"limit":0}}`,
	`{"page":{"cursor":"AAECAwQFBgcICQoL","limit":20}}`, `{"page":{"limit":20,"cursor":"a-_Z9"}}`,
	`{"page":{"cursor":""}}`, `{"offset":{"offset":40},"page":{"limit":20}}`, `{"page":{"limit":123456789}}`,
}

// The requests clients send take the fast path.
func TestPageRequestFastPath(t *testing.T) {
	for _, s := range pageRequests {
		var m feedv1.HomeFeedRequest
		if !unmarshalPageRequest([]byte(s), &m) {
			t.Errorf("%s: not decoded", s)
		}
		samePageRequest(t, s)
	}
	for _, s := range []string{
		`{"page":{"limit":10}} `, ` {"page":{"limit":10}}`, `{"page":{"limit":010}}`, `{"page":{"limit":-1}}`,
		`{"page":{"limit":1234567890}}`, `{"page":{"limit":1.5}}`, `{"page":{"limit":"10"}}`, `{"page":null}`,
		`{"page":{"limit":1,"limit":2}}`, `{"page":{},"page":{}}`, `{"page":{"cursor":"a\u0062"}}`, `{"other":1}`,
		`{"page":{"limit":10},}`, `{"page":{"limit":10}`, `{"offset":{"offset":1,"offset":2}}`, `{"limit":10}`,
	} {
		var m feedv1.HomeFeedRequest
		if unmarshalPageRequest([]byte(s), &m) {
			t.Errorf("%s: decoded by the fast path", s)
		}
		samePageRequest(t, s)
	}
}

// samePageRequest fails if the fast path accepts s and decodes it other
// than protojson, for each page request type.
func samePageRequest(t *testing.T, s string) {
	t.Helper()
	for _, mk := range []func() proto.Message{
		func() proto.Message { return &feedv1.HomeFeedRequest{} },
		func() proto.Message { return &feedv1.GlobalFeedRequest{} },
		func() proto.Message { return &feedv1.ReelsFeedRequest{} },
	} {
		got, want := mk(), mk()
		if !unmarshalPageRequest([]byte(s), got) {
			continue
		}
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal([]byte(s), want); err != nil || !proto.Equal(got, want) {
			t.Fatalf("%s: fast path %v, protojson %v (%v)", s, got, want, err)
		}
	}
}

func FuzzPageRequestMatchesProtojson(f *testing.F) {
	for _, s := range pageRequests {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { samePageRequest(t, s) })
}
