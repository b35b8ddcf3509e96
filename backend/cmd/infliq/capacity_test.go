package main

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
)

// TestSocketSessionCapThroughGateway: SOCKET_MAX_SESSIONS reaches the
// realtime tier of `infliq all`; 40 Engine.IO handshakes at once through
// the gateway get exactly 5 sessions, and the rest a 503 with Retry-After
// (never a hang or a 5xx other than the capacity answer).
func TestSocketSessionCapThroughGateway(t *testing.T) {
	ports, _, _ := runAllFor(t, map[string]string{"SOCKET_MAX_SESSIONS": "5"})
	url := fmt.Sprintf("http://127.0.0.1:%d/socket.io/?EIO=4&transport=polling", ports["gateway"])
	const clients, capacity = 40, 5
	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		noRetry  int
		wg       sync.WaitGroup
	)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := http.Get(url)
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			mu.Lock()
			defer mu.Unlock()
			statuses[res.StatusCode]++
			if res.StatusCode == http.StatusServiceUnavailable && res.Header.Get("Retry-After") == "" {
				noRetry++
			}
		}()
	}
	wg.Wait()
	if statuses[http.StatusOK] != capacity || statuses[http.StatusServiceUnavailable] != clients-capacity || noRetry > 0 {
		t.Fatalf("statuses %v (%d refusals without Retry-After); want %d × 200 and %d × 503", statuses, noRetry, capacity, clients-capacity)
	}
}
