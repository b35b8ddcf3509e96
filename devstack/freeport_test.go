package devstack

import (
	"sync"
	"testing"
)

// Concurrent callers (goroutines here; test binaries in CI) never get the
// same port while its reservation lasts.
func TestFreePortHandsOutDistinctPorts(t *testing.T) {
	const n = 64
	var (
		mu   sync.Mutex
		seen = map[int]bool{}
		wg   sync.WaitGroup
	)
	for range n {
		wg.Go(func() {
			p, err := FreePort()
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if seen[p] {
				t.Errorf("port %d handed out twice", p)
			}
			seen[p] = true
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d distinct ports, want %d", len(seen), n)
	}
}
