package realtime

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	chatv1 "github.com/infliq/infliq/backend/gen/infliq/chat/v1"
	"github.com/infliq/infliq/compat/legacyjson"
)

// TestNewMessageBytes: the struct payload encodes to exactly the bytes of
// the legacyjson map it replaces.
func TestNewMessageBytes(t *testing.T) {
	for _, m := range []*chatv1.Message{
		{Id: "0123456789abcdef01234567", ChatId: "aaaaaaaaaaaaaaaaaaaaaaaa", SenderId: "bbbbbbbbbbbbbbbbbbbbbbbb", Text: "hé <b>\"x\"</b> \u2028",
			Type: chatv1.MessageType_MESSAGE_TYPE_TEXT, CreatedAt: timestamppb.New(time.Unix(1700000000, 123456789)), ClientMessageId: "c-1"},
		{Id: "0123456789abcdef01234568", ChatId: "aaaaaaaaaaaaaaaaaaaaaaaa", SenderId: "bbbbbbbbbbbbbbbbbbbbbbbb", Text: "Video call ended",
			Type: chatv1.MessageType_MESSAGE_TYPE_CALL_ENDED, CallId: "cccccccccccccccccccccccc", CreatedAt: timestamppb.Now()},
	} {
		var cmid any
		if m.GetClientMessageId() != "" {
			cmid = m.GetClientMessageId()
		}
		want, _ := json.Marshal(map[string]any{"ok": true, "payload": map[string]any{"chatId": m.GetChatId(), "message": legacyjson.Message(m), "clientMessageId": cmid}})
		got, err := json.Marshal(sendAck{OK: true, Payload: newMessagePayload("", m)})
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("got  %s\nwant %s (%v)", got, want, err)
		}
		// The hand-written encoder gives the same bytes.
		wantPayload, _ := json.Marshal(newMessagePayload("", m))
		if got := newMessagePayload("", m).appendJSON(nil); !bytes.Equal(got, wantPayload) {
			t.Errorf("appendJSON got  %s\nwant %s", got, wantPayload)
		}
	}
}

// TestAppendJSONMatchesMarshal: appendJSON against json.Marshal over
// awkward strings in every field.
func TestAppendJSONMatchesMarshal(t *testing.T) {
	for _, s := range []string{"", "<&>", "\"\\\n\t\x00\x1f", "bad \xff utf8", "\u2028 \u2029", "日本 😀"} {
		c := "c" + s
		for _, n := range []*newMessage{
			{ChatID: s, ClientMessageID: &c, Message: legacyMessage{ID: s, CallID: s, ChatID: s, CreatedAt: s, ID2: s, SenderID: s, Text: s, Type: s}},
			{ChatID: s, Message: legacyMessage{ID: "x", ChatID: s, Text: s, Read: true}},
		} {
			want, _ := json.Marshal(n)
			if got := n.appendJSON(nil); !bytes.Equal(got, want) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		}
	}
}

var sendPayloads = []string{
	`{"chatId":"0123456789abcdef01234567","text":"hi","clientMessageId":"c1"}`,
	`{"chatId":"0123456789ABCDEF01234567","text":"  hi  "}`,
	`{"chatId":"0123456789abcdef01234567","text":"hi","clientMessageId":null}`,
	`{"chatId":"0123456789abcdef01234567","text":"hi","clientMessageId":5}`,
	`{"chatId":"0123456789abcdef01234567","text":{"a":1},"clientMessageId":"x"}`,
	`{"chatid":"0123456789abcdef01234567","TEXT":"folded keys"}`,
	`{"chatId":"0123456789abcdef01234567","text":"a","text":"dup, last wins"}`,
	`{"chatId":"0123456789abcdef01234567","text":"a","text":7}`,
	`{"chatId":"0123456789abcdef01234567","text":"\u00e9 \n esc","clientMessageId":"\u0063"}`,
	`{"chatId":"0123456789abcdef01234567","text":"é"}`,
	`{"chat\u0049d":"0123456789abcdef01234567","text":"escaped key"}`,
	`{"other":[1,{"chatId":"nested"}],"chatId":"0123456789abcdef01234567","text":"x"}`,
	`{"\u212aey":1,"chatId":"0123456789abcdef01234567","text":"kelvin key"}`,
	`{"chatId":null,"text":"x"}`, `{}`, `null`, " null\n", " {\"text\" : \"x\" } ", `[1]`, `"s"`, `12`, `true`,
}

// TestDecodeSendMatchesUnmarshal: the one-pass reader gives what
// json.Unmarshal into `any` fields gave, whatever the payload.
func TestDecodeSendMatchesUnmarshal(t *testing.T) {
	for _, p := range sendPayloads {
		checkDecodeSend(t, []byte(p))
	}
}

func checkDecodeSend(t *testing.T, p []byte) {
	t.Helper()
	if !json.Valid(p) {
		return // args always come from a checked packet
	}
	got, gotOK := decodeSend(p)
	want, wantOK := decodeSendSlow(p)
	if got != want || gotOK != wantOK {
		t.Fatalf("%s: got %+v %v, want %+v %v", p, got, gotOK, want, wantOK)
	}
}

func FuzzDecodeSend(f *testing.F) {
	for _, p := range sendPayloads {
		f.Add([]byte(p))
	}
	f.Fuzz(func(t *testing.T, p []byte) { checkDecodeSend(t, p) })
}
