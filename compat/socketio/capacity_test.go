package socketio

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/infliq/infliq/compat/socketio/sioclient"
)

// TestMaxSessionsUnderConcurrentHandshakes: 60 clients handshake at once
// (websocket and polling) against a cap of 10; exactly 10 get a session,
// the rest a 503 with Retry-After, and a slot that frees up is taken again.
func TestMaxSessionsUnderConcurrentHandshakes(t *testing.T) {
	const limit, clients = 10, 60
	srv := NewServer(Options{MaxSessions: limit})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); hs.Close() })

	var (
		mu      sync.Mutex
		conns   []*sioclient.Conn
		polls   int
		refused int
		other   []string
		wg      sync.WaitGroup
	)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				c, err := sioclient.Dial(hs.URL, "/socket.io/", "")
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					conns = append(conns, c)
				case strings.Contains(err.Error(), "503"):
					refused++
				default:
					other = append(other, err.Error())
				}
				return
			}
			res, err := http.Get(hs.URL + "/socket.io/?EIO=4&transport=polling")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				other = append(other, err.Error())
				return
			}
			res.Body.Close()
			switch res.StatusCode {
			case http.StatusOK:
				polls++
			case http.StatusServiceUnavailable:
				if res.Header.Get("Retry-After") == "" {
					other = append(other, "503 without Retry-After")
				}
				refused++
			default:
				other = append(other, res.Status)
			}
		}()
	}
	wg.Wait()
	if len(other) > 0 {
		t.Fatalf("unexpected outcomes: %v", other)
	}
	if got := len(conns) + polls; got != limit || refused != clients-limit {
		t.Fatalf("%d sessions (%d websocket, %d polling) and %d refused; want %d and %d", got, len(conns), polls, refused, limit, clients-limit)
	}
	if srv.Len() != limit || srv.Refused() != uint64(clients-limit) {
		t.Fatalf("server counts %d sessions, %d refused", srv.Len(), srv.Refused())
	}
	for _, c := range conns {
		_ = c.Close()
	}
}

// TestMaxSessionsSlotFreed: a websocket that leaves frees its slot for the
// next handshake.
func TestMaxSessionsSlotFreed(t *testing.T) {
	srv := NewServer(Options{MaxSessions: 1})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); hs.Close() })
	first, err := sioclient.Dial(hs.URL, "/socket.io/", "")
	if err != nil {
		t.Fatal(err)
	}
	if c, err := sioclient.Dial(hs.URL, "/socket.io/", ""); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("second session at a cap of 1: %v, %v", c, err)
	}
	_ = first.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := sioclient.Dial(hs.URL, "/socket.io/", "")
		if err == nil {
			_ = c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no session after the first closed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
