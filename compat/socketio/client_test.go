package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/infliq/infliq/compat/socketio/nodetest"
)

func testServer(t *testing.T) *httptest.Server { return testServerOn(t, "") }

func testServerOn(t *testing.T, transport string) *httptest.Server {
	t.Helper()
	srv := NewServer(Options{
		Transport:    transport,
		PingInterval: 100 * time.Millisecond,
		PingTimeout:  2 * time.Second,
		MaxPayload:   10000,
		Authenticate: func(_ context.Context, auth json.RawMessage) (any, error) {
			var a struct {
				Token string `json:"token"`
			}
			if json.Unmarshal(auth, &a) != nil || a.Token != "good" {
				return nil, errors.New("Unauthorized")
			}
			return "user-1", nil
		},
	})
	srv.On("echo", func(s *Socket, args []json.RawMessage, ack AckFunc) {
		if ack != nil {
			ack(map[string]any{"args": args})
		}
	})
	srv.On("echo-strict", func(s *Socket, args []json.RawMessage, ack AckFunc) {
		if len(args) == 0 && ack != nil {
			ack(map[string]any{"ok": false, "error": "Invalid payload"})
		}
	})
	srv.On("push-me", func(s *Socket, args []json.RawMessage, _ AckFunc) {
		var v string
		_ = json.Unmarshal(args[0], &v)
		if s.Data() != "user-1" {
			panic("no data")
		}
		_ = s.Emit("pushed", map[string]string{"hello": v})
	})
	srv.On("kick", func(s *Socket, _ []json.RawMessage, _ AckFunc) { go s.close("transport close") })
	srv.On("boot", func(s *Socket, _ []json.RawMessage, _ AckFunc) { go s.Disconnect() })
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); hs.Close() })
	return hs
}

// TestRealSocketIOClient runs the npm socket.io-client over websocket,
// polling and polling→websocket upgrade.
func TestRealSocketIOClient(t *testing.T) {
	hs := testServer(t)
	nodetest.Run(t, "testdata/client.cjs", hs.URL)
}

// TestRealSocketIOClientOnMelody: the same on the melody transport, kept
// for the comparison in BENCHMARKS.md.
func TestRealSocketIOClientOnMelody(t *testing.T) {
	hs := testServerOn(t, "melody")
	nodetest.Run(t, "testdata/client.cjs", hs.URL)
}
