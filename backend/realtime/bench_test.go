package realtime

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/infliq/infliq/backend/platform/tier/tiertest"
	"github.com/infliq/infliq/compat/socketio/sioclient"
)

// BenchmarkSendReceive measures one legacy send-message through the
// realtime tier, ChatService, PostgreSQL and the bus until the other
// member's socket receives new-message (sequential, so ns/op is latency).
func BenchmarkSendReceive(b *testing.B) {
	st := newStack(b)
	alice, bob := st.user(b, "alice"), st.user(b, "bob")
	chatID := st.directChat(b, alice, bob)
	r1 := st.replica(b, testConfig())
	ca, err := sioclient.Dial(r1, "/socket.io/", tiertest.Token(b, alice))
	if err != nil {
		b.Fatal(err)
	}
	defer ca.Close()
	cb, err := sioclient.Dial(r1, "/socket.io/", tiertest.Token(b, bob))
	if err != nil {
		b.Fatal(err)
	}
	defer cb.Close()
	for _, c := range []*sioclient.Conn{ca, cb} {
		_ = c.Emit(1, "join-chat", chatID)
		if p, err := c.Read(); err != nil || !strings.Contains(string(p.Args[0]), "true") {
			b.Fatal(p, err)
		}
	}
	go func() { // alice drains acks and her own echoes
		for {
			if _, err := ca.Read(); err != nil {
				return
			}
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := ca.Emit(i+2, "send-message", map[string]string{"chatId": chatID, "text": "hi", "clientMessageId": strconv.Itoa(i)}); err != nil {
			b.Fatal(err)
		}
		_ = cb.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			p, err := cb.Read()
			if err != nil {
				b.Fatal(err)
			}
			if p.Event == "new-message" {
				break
			}
		}
	}
}
