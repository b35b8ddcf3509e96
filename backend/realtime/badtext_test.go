package realtime

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/infliq/infliq/backend/platform/tier/tiertest"
	"github.com/infliq/infliq/compat/socketio/sioclient"
)

// TestSocketRefusesBadText: a send-message whose text holds a NUL (JSON
// \u0000) or invalid UTF-8 (raw bytes in the frame) gets a failed ack and
// message-error naming the field; nothing is stored.
func TestSocketRefusesBadText(t *testing.T) {
	st := newStack(t)
	r1 := st.replica(t, testConfig())
	a, b := st.user(t, "a"), st.user(t, "b")
	chatID := st.directChat(t, a, b)
	c, err := sioclient.Dial(r1, "/socket.io/", tiertest.Token(t, a))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sends := []func() error{
		func() error {
			return c.Emit(1, "send-message", map[string]any{"chatId": chatID, "text": "hi\x00there"})
		},
		func() error {
			return c.WriteRaw([]byte(`421["send-message",{"chatId":"` + chatID + "\",\"text\":\"bad \xff\xfe bytes\"}]"))
		},
		func() error {
			return c.Emit(1, "user-typing", map[string]any{"chatId": chatID + "\x00", "isTyping": true})
		},
	}
	for i, send := range sends {
		if err := send(); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		gotAck, gotEvent := false, i == 2 // user-typing has no error event
		for !gotAck || !gotEvent {
			p, err := c.Read()
			if err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
			arg := string(p.Args[0])
			switch {
			case p.Event == "" && p.AckID == 1:
				gotAck = true
				if !strings.Contains(arg, `"ok":false`) || !strings.Contains(arg, "Invalid payload") {
					t.Errorf("send %d ack: %s", i, arg)
				}
			case p.Event == "message-error":
				gotEvent = true
			default:
				continue
			}
			if !strings.Contains(arg, "text") && !strings.Contains(arg, "chatId") {
				t.Errorf("send %d: %s does not name the field", i, arg)
			}
		}
	}
	var n int
	if err := st.pool.QueryRow(context.Background(), `SELECT count(*) FROM messages WHERE chat_id = $1`, chatID).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d messages stored: %v", n, err)
	}
}
