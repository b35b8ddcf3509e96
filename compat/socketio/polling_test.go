package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func post(t *testing.T, url, body string) int {
	t.Helper()
	res, err := http.Post(url, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func handshake(t *testing.T, base string) string {
	t.Helper()
	st, body := get(t, base+"/socket.io/?EIO=4&transport=polling")
	var open struct {
		SID string `json:"sid"`
	}
	if st != 200 || !strings.HasPrefix(body, "0") || json.Unmarshal([]byte(body[1:]), &open) != nil || open.SID == "" {
		t.Fatalf("handshake: %d %s", st, body)
	}
	return base + "/socket.io/?EIO=4&transport=polling&sid=" + open.SID
}

func TestPollingEdges(t *testing.T) {
	srv := NewServer(Options{
		PingInterval: 30 * time.Millisecond, PingTimeout: 30 * time.Millisecond, MaxPayload: 100,
		Authenticate: func(context.Context, json.RawMessage) (any, error) { return nil, errors.New("Unauthorized") },
	})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	for path, want := range map[string]int{
		"/socket.io/?EIO=3&transport=polling":           400,
		"/socket.io/?EIO=4&transport=carrier-pigeon":    400,
		"/socket.io/?EIO=4&transport=polling&sid=nope":  400,
		"/socket.io/?EIO=4&transport=websocket&sid=bad": 400,
		"/socket.io/?EIO=4&transport=polling&j=1":       400,
	} {
		if st, body := get(t, hs.URL+path); st != want || !strings.Contains(body, `"code"`) {
			t.Errorf("%s: %d %s", path, st, body)
		}
	}

	// A bad CONNECT gets connect_error on the next poll.
	u := handshake(t, hs.URL)
	if st := post(t, u, "40"); st != 200 {
		t.Fatalf("post: %d", st)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, body := get(t, u)
		if strings.Contains(body, `44{"message":"Unauthorized"}`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connect_error, last poll %q", body)
		}
	}

	// An oversized POST is refused and ends the session.
	u = handshake(t, hs.URL)
	if st := post(t, u, "4"+strings.Repeat("x", 200)); st != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized post: %d", st)
	}
	if st, _ := get(t, u); st != 400 {
		t.Fatalf("session survived an oversized post: %d", st)
	}

	// Without pongs the session times out (ping, then close).
	u = handshake(t, hs.URL)
	sawPing := false
	for deadline := time.Now().Add(5 * time.Second); ; {
		st, body := get(t, u)
		if st == 400 || strings.HasSuffix(body, "1") && sawPing {
			break
		}
		sawPing = sawPing || strings.Contains(body, "2")
		if time.Now().After(deadline) {
			t.Fatalf("no ping timeout, last poll %d %q", st, body)
		}
	}
	if !sawPing {
		t.Fatal("never pinged")
	}

	// Two concurrent polls are a protocol error that closes the session
	// (nothing is queued, so the first poll waits until the second arrives).
	quiet := httptest.NewServer(NewServer(Options{PingInterval: time.Minute}))
	defer quiet.Close()
	u = handshake(t, quiet.URL)
	first := make(chan int, 1)
	go func() { st, _ := get(t, u); first <- st }()
	st, _ := get(t, u)
	st1 := <-first
	if st != 400 && st1 != 400 {
		t.Fatalf("overlapping polls accepted: %d and %d", st1, st)
	}
	if st3, _ := get(t, u); st3 != 400 {
		t.Fatalf("session survived overlapping polls: %d", st3)
	}
}
