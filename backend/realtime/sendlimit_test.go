package realtime

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/infliq/infliq/backend/chat"
	chatv1 "github.com/infliq/infliq/backend/gen/infliq/chat/v1"
	"github.com/infliq/infliq/backend/gen/infliq/chat/v1/chatv1connect"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/cache/redistest"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
	"github.com/infliq/infliq/compat/socketio/sioclient"
)

// TestSendLimitSharedBySocketAndRPC: 30 sockets of one user send 300
// messages at once. The user's token bucket (burst 10, 1/s) lets about the
// burst through; every other send gets message-error with the reason, and
// ChatService.SendMessage is refused with resource_exhausted from the same
// budget.
func TestSendLimitSharedBySocketAndRPC(t *testing.T) {
	const rate, burst, sockets, each = 1, 10, 30, 10
	st := &stack{pool: pgtest.New(t), rdb: redistest.New(t), prefix: redistest.Prefix()}
	st.bus = bus.New(st.rdb, st.prefix, 100)
	st.chatURL, st.h2c, st.h1 = tiertest.Serve(t, chat.NewTier(tiertest.Deps(), st.pool, st.bus,
		chat.WithSendLimit(chat.SendLimit{Redis: st.rdb, Prefix: st.prefix, PerSecond: rate, Burst: burst})).Handler())
	r1 := st.replica(t, testConfig())
	a, b := st.user(t, "a"), st.user(t, "b")
	chatID := st.directChat(t, a, b)
	start := time.Now()
	var mu sync.Mutex
	ok, limited := 0, 0
	var wg sync.WaitGroup
	for i := 0; i < sockets; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := sioclient.Dial(r1, "/socket.io/", tiertest.Token(t, a))
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			for j := 0; j < each; j++ {
				if err := c.Emit(j, "send-message", map[string]any{"chatId": chatID, "text": "flood " + strconv.Itoa(i*each+j)}); err != nil {
					t.Error(err)
					return
				}
			}
			_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
			for acks := 0; acks < each; {
				p, err := c.Read()
				if err != nil {
					t.Error(err)
					return
				}
				switch {
				case p.Event == "message-error":
					if !strings.Contains(string(p.Args[0]), "Too many messages") {
						t.Errorf("message-error without the reason: %s", p.Args[0])
					}
				case p.Event == "":
					acks++
					var r struct {
						OK    bool   `json:"ok"`
						Error string `json:"error"`
					}
					_ = json.Unmarshal(p.Args[0], &r)
					mu.Lock()
					if r.OK {
						ok++
					} else if strings.HasPrefix(r.Error, "Too many messages") {
						limited++
					} else {
						t.Errorf("send failed otherwise: %s", p.Args[0])
					}
					mu.Unlock()
				}
			}
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	allowed := burst + rate*int(elapsed/time.Second+1)
	if ok+limited != sockets*each || ok > allowed || limited == 0 {
		t.Fatalf("%d stored, %d limited of %d in %v; at most %d may pass", ok, limited, sockets*each, elapsed, allowed)
	}
	var stored int
	if err := st.pool.QueryRow(context.Background(), `SELECT count(*) FROM messages WHERE chat_id = $1`, chatID).Scan(&stored); err != nil || stored != ok {
		t.Fatalf("%d messages stored, %d acknowledged: %v", stored, ok, err)
	}
	// The same budget refuses the typed SDK's path (drain what refilled).
	cc := chatv1connect.NewChatServiceClient(st.h1, st.chatURL, tiertest.Bearer(tiertest.Token(t, a)))
	var err error
	for i := 0; i < allowed+1 && err == nil; i++ {
		_, err = cc.SendMessage(context.Background(), connect.NewRequest(&chatv1.SendMessageRequest{ChatId: chatID, Text: "rpc"}))
	}
	if connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Fatalf("SendMessage over the shared budget: %v", err)
	}
}
