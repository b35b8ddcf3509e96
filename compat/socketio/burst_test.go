package socketio

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/infliq/infliq/compat/socketio/sioclient"
)

// TestConnectStormWorkers: CONNECTs run on burst workers; with 300 of
// them authenticating at once, 300 workers run, and once done at most
// maxIdleWorkers stay waiting. Every socket connects and every event of
// each one is handled in the order sent.
func TestConnectStormWorkers(t *testing.T) {
	const n = 300
	release := make(chan struct{})
	var waiting atomic.Int32
	var mu sync.Mutex
	got := map[string][]int{}
	srv := NewServer(Options{
		PingInterval: time.Minute,
		Authenticate: func(_ context.Context, auth json.RawMessage) (any, error) {
			waiting.Add(1)
			<-release
			return string(auth), nil
		},
	})
	srv.On("n", func(s *Socket, args []json.RawMessage, _ AckFunc) {
		var i int
		_ = json.Unmarshal(args[0], &i)
		mu.Lock()
		got[s.ID()] = append(got[s.ID()], i)
		mu.Unlock()
	})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); hs.Close() })

	conns := make([]*sioclient.Conn, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := sioclient.Dial(hs.URL, "/socket.io/", "t")
			if err != nil {
				errs <- err
				return
			}
			conns[i] = c
		}()
	}
	for waiting.Load() < n { // every CONNECT is authenticating at once
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, c := range conns {
		for i := range 5 {
			if err := c.Emit(-1, "n", i); err != nil {
				t.Fatal(err)
			}
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		done := 0
		for _, seq := range got {
			if len(seq) == 5 {
				done++
			}
		}
		mu.Unlock()
		if done == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d sockets had their events handled", done, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for id, seq := range got {
		for i, v := range seq {
			if v != i {
				t.Fatalf("socket %s: events handled as %v", id, seq)
			}
		}
	}
	if idle := srv.bursts.idle.Load(); idle > maxIdleWorkers || idle < 1 {
		t.Fatalf("%d idle workers, want 1..%d", idle, maxIdleWorkers)
	}
	for _, c := range conns {
		_ = c.Close()
	}
}
