package realtime

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/infliq/infliq/backend/platform/id"
)

func TestParsePayloads(t *testing.T) {
	chat := id.New().String()
	good, _, ok := parseSend([]json.RawMessage{json.RawMessage(`{"chatId":"` + strings.ToUpper(chat) + `","text":"  hi  ","senderId":"x"}`)})
	if !ok || good.ChatID != chat || good.Text != "hi" || good.ClientMessageID != "" {
		t.Fatalf("good send: %+v %v", good, ok)
	}
	for _, bad := range []string{`null`, `"x"`, `[]`, `{}`, `{"chatId":"` + chat + `"}`, `{"chatId":"` + chat + `","text":1}`,
		`{"chatId":"` + chat + `","text":"a","clientMessageId":5}`, `{"chatId":7,"text":"a"}`, `{"chatId":"` + chat + `","text":"` + strings.Repeat("é", 4001) + `"}`} {
		if _, _, ok := parseSend([]json.RawMessage{json.RawMessage(bad)}); ok {
			t.Errorf("accepted %s", bad)
		}
	}
	if _, _, ok := parseSend(nil); ok {
		t.Error("accepted no payload")
	}
	if c, typing, ok := parseTyping([]json.RawMessage{json.RawMessage(`{"chatId":"` + chat + `","isTyping":"yes"}`)}); !ok || c != chat || !typing {
		t.Errorf("typing: %s %v %v", c, typing, ok)
	}
	for _, in := range []string{`"` + chat + `"`, `{"chatId":"` + chat + `"}`} {
		if c, ok := chatIDArg([]json.RawMessage{json.RawMessage(in)}); !ok || c != chat {
			t.Errorf("join %s: %s %v", in, c, ok)
		}
	}
}

// FuzzLegacyPayloads: whatever a client sends as the argument of
// send-message, user-typing or join-chat, parsing never panics and what is
// accepted is well-formed (legacy S3 crashed the Node process here).
func FuzzLegacyPayloads(f *testing.F) {
	chat := id.New().String()
	for _, s := range []string{`{"chatId":"` + chat + `","text":"hi","clientMessageId":"c1"}`, `"` + chat + `"`, `{"chatId":"` + chat + `","isTyping":true}`,
		`null`, `{}`, `[]`, `1e999`, `{"text":{"a":[1,2]}}`, `{"chatId":"` + chat + `","text":"\ud800"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		args := []json.RawMessage{json.RawMessage(b)}
		if !json.Valid(b) {
			args = nil // the decoder only hands over valid JSON
		}
		if a, _, ok := parseSend(args); ok {
			if !id.Valid(a.ChatID) || a.Text == "" || !utf8.ValidString(a.Text) || utf8.RuneCountInString(a.Text) > maxText || len(a.ClientMessageID) > 128 {
				t.Fatalf("accepted bad send %+v", a)
			}
		}
		if c, _, ok := parseTyping(args); ok && !id.Valid(c) {
			t.Fatalf("accepted bad typing chat %q", c)
		}
		if c, ok := chatIDArg(args); ok && !id.Valid(c) {
			t.Fatalf("accepted bad join chat %q", c)
		}
	})
}
