package importer

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// Progress is fed by concurrent collections; both renderings must cope
// (run under -race) and say something useful.
func TestProgressRenderings(t *testing.T) {
	var bar bytes.Buffer
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	lp := NewProgress(nil, false, log).(*logProgress)
	lp.every = 0 // log every batch
	for _, p := range []Progress{NewProgress(&bar, true, log), lp} {
		var wg sync.WaitGroup
		for _, name := range []string{"posts", "chats"} {
			wg.Go(func() {
				p.Start(name, -1)
				p.Total(name, 3000)
				for range 3 {
					p.Add(name, 1000)
					time.Sleep(time.Millisecond)
				}
				p.Done(name)
			})
		}
		wg.Wait()
	}
	if !strings.Contains(bar.String(), "6000") {
		t.Fatalf("bar output %q", bar.String())
	}
	if !strings.Contains(logs.String(), "collection=posts") || !strings.Contains(logs.String(), "eta_s=") {
		t.Fatalf("log output %q", logs.String())
	}
}
