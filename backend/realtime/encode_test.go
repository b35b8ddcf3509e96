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
	}
}
