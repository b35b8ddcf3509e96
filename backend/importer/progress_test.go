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
	bars := NewProgress(&bar, true, log).(*Bars)
	defer bars.Wait()
	for _, p := range []Progress{bars, lp} {
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
	bars.Wait()
	if !strings.Contains(bar.String(), "posts") || !strings.Contains(bar.String(), "3000 / 3000") {
		t.Fatalf("bar output %q", bar.String())
	}
	if !strings.Contains(logs.String(), "collection=posts") || !strings.Contains(logs.String(), "eta_s=") {
		t.Fatalf("log output %q", logs.String())
	}
}

// A bar never goes backwards: an estimate below the count, or arriving
// late, never lowers the total under what was read, and log lines written
// through the bars come out above them, whole.
func TestBarsNeverGoBackwards(t *testing.T) {
	var out syncBuffer
	b := NewBars(&out)
	b.Start("users", -1)
	b.Add("users", 700)
	b.Total("users", 500) // the estimate came late and low
	if st := b.bars["users"]; st.total < st.cur {
		t.Fatalf("total %d below count %d", st.total, st.cur)
	}
	b.Total("users", 2000)
	prev := b.bars["users"].total
	b.Add("users", 2500)
	if st := b.bars["users"]; st.total < prev || st.total < st.cur {
		t.Fatalf("total went from %d to %d (count %d)", prev, st.total, st.cur)
	}
	if _, err := b.Write([]byte("a log line\n")); err != nil {
		t.Fatal(err)
	}
	b.Done("users")
	b.Wait()
	if _, err := b.Write([]byte("after the bars\n")); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !strings.Contains(s, "a log line\n") || !strings.Contains(s, "3200 / 3200") || !strings.HasSuffix(s, "after the bars\n") {
		t.Fatalf("output %q", s)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
