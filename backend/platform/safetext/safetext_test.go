package safetext

import (
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	chatv1 "github.com/infliq/infliq/backend/gen/infliq/chat/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
)

func mustStruct(t testing.TB, v map[string]any) *structpb.Struct {
	s, err := structpb.NewStruct(v)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMessageNamesTheField(t *testing.T) {
	cases := []struct {
		m    proto.Message
		want string
	}{
		{&chatv1.SendMessageRequest{ChatId: "x", Text: "a\x00"}, "text contains a NUL byte"},
		{&chatv1.SendMessageRequest{Text: "ok", ClientMessageId: "\xff"}, "client_message_id is not valid UTF-8"},
		{mustStruct(t, map[string]any{"k": []any{"ok", "v\x00"}}), `fields["k"].list_value.values[1].string_value contains a NUL byte`},
		{mustStruct(t, map[string]any{"k\x00": "v"}), "fields key contains a NUL byte"},
	}
	for _, c := range cases {
		err := Message(c.m)
		if err == nil || connect.CodeOf(apperr.ToConnect(apperr.From(err))) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want %q", c.m, err, c.want)
		}
	}
	if err := Message(&chatv1.SendMessageRequest{ChatId: "x", Text: "héllo 👋 \ufffd"}); err != nil {
		t.Fatalf("clean message refused: %v", err)
	}
}

func TestJSONNamesTheField(t *testing.T) {
	for body, want := range map[string]string{
		`{"content":"a\u0000b"}`:                  "content contains a NUL byte",
		`{"post":{"tags":["ok","x\u0000"]}}`:      "post.tags[1] contains a NUL byte",
		"{\"name\":\"ab\xff\"}":                   "name is not valid UTF-8",
		`{"text":"\ud800"}`:                       "text is not valid UTF-8",
		`["send-message",{"text":"\u0000"}]`:      "[1].text contains a NUL byte",
		`{"a\u0000":1}`:                           "a\x00 key contains a NUL byte",
		"{\"ok\":\"fine\",\"bad\xc0\xaf\":\"x\"}": "not valid UTF-8",
	} {
		err := JSON([]byte(body))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", body, err, want)
		}
	}
	for _, body := range []string{``, `{}`, `{"t":"\ud83d\ude00 \u00e9 \ufffd"}`, `{"n":1,"b":true,"x":null,"a":[]}`, `{"broken":`} {
		if err := JSON([]byte(body)); err != nil {
			t.Errorf("%q refused: %v", body, err)
		}
	}
}

// BenchmarkInterceptorCheck is the interceptor's cost on a typical request
// (a chat send: three short strings).
func BenchmarkInterceptorCheck(b *testing.B) {
	m := &chatv1.SendMessageRequest{ChatId: "65f1a2b3c4d5e6f708192a3b", Text: "Hey, are we still on for dinner tonight? 🍕", ClientMessageId: "c-1712345678901-42"}
	b.ReportAllocs()
	for b.Loop() {
		if err := Message(m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJSONCheck is the legacy edge's cost on a typical body.
func BenchmarkJSONCheck(b *testing.B) {
	body := []byte(`{"content":"Sunset at the beach today","mediaUrl":"https://cdn.example.com/posts/abc.jpg","mediaType":"image","location":{"lat":12.97,"lng":77.59}}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := JSON(body); err != nil {
			b.Fatal(err)
		}
	}
}
