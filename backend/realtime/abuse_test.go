package realtime

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/gorilla/websocket"

	"github.com/infliq/infliq/backend/auth/revoke"
	realtimev1 "github.com/infliq/infliq/backend/gen/infliq/realtime/v1"
	"github.com/infliq/infliq/backend/gen/infliq/realtime/v1/realtimev1connect"
	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/httpx"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
	"github.com/infliq/infliq/compat/socketio/sioclient"
)

// busChannels reads infliq_realtime_bus_channels from a replica's /metrics.
func busChannels(t *testing.T, base string) int {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "infliq_realtime_bus_channels "); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatal(err)
			}
			return int(n)
		}
	}
	t.Fatal("no infliq_realtime_bus_channels in /metrics")
	return 0
}

// TestRepeatedConnectDoesNotLeakBusChannels: sessions that send CONNECT 50
// times on one websocket get one connection each (one CONNECT answer), and
// once they close, the bus subscription count is back at its baseline.
func TestRepeatedConnectDoesNotLeakBusChannels(t *testing.T) {
	st := newStack(t)
	r1 := st.replica(t, testConfig())
	base := busChannels(t, r1)
	u, _ := url.Parse(r1)
	u.Scheme, u.Path, u.RawQuery = "ws", "/socket.io/", "EIO=4&transport=websocket"
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			uid := st.user(t, "abuser")
			ws, _, err := sioclient.Dialer.Dial(u.String(), nil)
			if err != nil {
				t.Error(err)
				return
			}
			defer ws.Close()
			if _, _, err := ws.ReadMessage(); err != nil { // open packet
				t.Error(err)
				return
			}
			auth, _ := json.Marshal(map[string]string{"token": tiertest.Token(t, uid)})
			for j := 0; j < 50; j++ {
				if err := ws.WriteMessage(websocket.TextMessage, append([]byte("40"), auth...)); err != nil {
					t.Error(err)
					return
				}
			}
			// Count CONNECT answers until the server stays quiet.
			answers := 0
			_ = ws.SetReadDeadline(time.Now().Add(2 * time.Second))
			for {
				_, m, err := ws.ReadMessage()
				if err != nil {
					break
				}
				if strings.HasPrefix(string(m), "40") {
					answers++
				}
			}
			if answers != 1 {
				t.Errorf("session %d: %d CONNECT answers, want 1", i, answers)
			}
		}(i)
	}
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	n := busChannels(t, r1)
	for n != base && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		n = busChannels(t, r1)
	}
	if n != base {
		t.Fatalf("bus channels %d after the abusive sessions closed, baseline %d", n, base)
	}
}

// TestTypedStreamEndsOnLogoutRevocationDeletion: with the default session
// re-check, a typed stream that asked for 5-minute heartbeats still ends
// (unauthenticated) within 10 s of its session's logout, of the revocation
// of all the user's sessions, and of the account's deletion.
func TestTypedStreamEndsOnLogoutRevocationDeletion(t *testing.T) {
	st := newStack(t)
	def, err := config.LoadFrom(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.SessionRecheck = def.Realtime.SessionRecheck
	rev := revoke.New(st.rdb, st.prefix, time.Hour)
	d := tiertest.Deps()
	d.Verifier.Revocations = rev
	r1 := st.replicaWith(t, cfg, d)
	issuer := authn.NewIssuer(tiertest.Secret, "infliq", "infliq-app", time.Hour)
	for name, end := range map[string]func(ctx context.Context, uid id.ID, sid string) error{
		"logout": func(ctx context.Context, uid id.ID, sid string) error {
			return rev.RevokeSessions(ctx, uid.String(), sid)
		},
		"revocation": func(ctx context.Context, uid id.ID, sid string) error {
			if err := rev.RevokeSessions(ctx, uid.String(), sid); err != nil {
				return err
			}
			return rev.RevokeUser(ctx, uid.String(), time.Now())
		},
		"deletion": func(ctx context.Context, uid id.ID, _ string) error {
			if _, err := st.pool.Exec(ctx, `DELETE FROM users WHERE id = $1`, uid.String()); err != nil {
				return err
			}
			return rev.RevokeUser(ctx, uid.String(), time.Now())
		},
	} {
		t.Run(name, func(t *testing.T) {
			uid, sid := st.user(t, name), id.New().String()
			// Issued a little earlier, as a real session's token is (the
			// per-user mark has second precision).
			tok, _, err := issuer.IssueAccess(authn.AccessToken{UserID: uid, SessionID: sid}, time.Now().Add(-2*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			c := realtimev1connect.NewRealtimeServiceClient(&http.Client{Transport: httpx.NewTransport()}, r1, tiertest.Bearer(tok))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s, err := c.Subscribe(ctx, connect.NewRequest(&realtimev1.SubscribeRequest{HeartbeatSeconds: 300}))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if !s.Receive() || s.Msg().GetHeartbeat() == nil {
				t.Fatalf("first message: %v", s.Err())
			}
			if err := end(ctx, uid, sid); err != nil {
				t.Fatal(err)
			}
			bound := time.AfterFunc(10*time.Second, cancel)
			defer bound.Stop()
			for s.Receive() {
			}
			if connect.CodeOf(s.Err()) != connect.CodeUnauthenticated {
				t.Fatalf("stream did not end within 10 s of %s: %v", name, s.Err())
			}
		})
	}
}
