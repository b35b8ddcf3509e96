package importer

import (
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// NewProgress returns per-collection progress bars when w is a terminal
// (Bars), and periodic structured log lines per collection otherwise.
func NewProgress(w io.Writer, tty bool, log *slog.Logger) Progress {
	if tty {
		return NewBars(w)
	}
	return &logProgress{log: log, every: 10 * time.Second, by: map[string]*logState{}}
}

// Bars draws one bar per collection (documents, percentage, rate) on a
// terminal. A bar never goes backwards: the total is the collection's
// estimate until the count passes it, then the count itself, and Done
// completes the bar at what was read. Bars is also an io.Writer: log
// lines written to it appear above the bars (after Wait, they go to the
// terminal directly).
type Bars struct {
	mu   sync.Mutex
	w    io.Writer
	p    *mpb.Progress
	bars map[string]*bar
	done bool
}

type bar struct {
	b          *mpb.Bar
	cur, total int64
}

// NewBars starts drawing on w.
func NewBars(w io.Writer) *Bars {
	return &Bars{w: w, bars: map[string]*bar{},
		p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(32), mpb.WithRefreshRate(150*time.Millisecond), mpb.WithAutoRefresh())}
}

func (p *Bars) Start(name string, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done || p.bars[name] != nil {
		return
	}
	b := &bar{total: max(total, 0)}
	b.b = p.p.AddBar(b.total,
		mpb.PrependDecorators(decor.Name(name, decor.WCSyncSpaceR), decor.CountersNoUnit("%d / %d", decor.WCSyncSpace)),
		mpb.AppendDecorators(decor.Percentage(decor.WCSyncSpace), decor.AverageSpeed(nil, " %.0f docs/s", decor.WCSyncSpace)))
	p.bars[name] = b
}

func (p *Bars) Total(name string, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if b := p.bars[name]; b != nil && total > b.total {
		b.total = total
		b.b.SetTotal(total, false)
	}
}

func (p *Bars) Add(name string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.bars[name]
	if b == nil {
		return
	}
	b.cur += int64(n)
	if b.cur > b.total { // past the estimate: the count is the total
		b.total = b.cur
		b.b.SetTotal(b.total, false)
	}
	b.b.IncrBy(n)
}

func (p *Bars) Done(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if b := p.bars[name]; b != nil {
		b.b.SetTotal(-1, true) // complete at what was read
	}
}

// Write prints log lines above the bars.
func (p *Bars) Write(b []byte) (int, error) {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if !done {
		if n, err := p.p.Write(b); err == nil {
			return n, nil
		}
	}
	return p.w.Write(b)
}

// Wait completes any bar still open and stops drawing.
func (p *Bars) Wait() {
	p.mu.Lock()
	if p.done {
		p.mu.Unlock()
		return
	}
	for _, b := range p.bars {
		b.b.SetTotal(-1, true)
	}
	p.mu.Unlock()
	p.p.Wait()
	p.mu.Lock()
	p.done = true
	p.mu.Unlock()
}

type logState struct {
	total, done int64
	start, last time.Time
}

type logProgress struct {
	mu    sync.Mutex
	log   *slog.Logger
	every time.Duration
	by    map[string]*logState
}

func (p *logProgress) Start(name string, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.by[name] = &logState{total: total, start: time.Now(), last: time.Now()}
}

func (p *logProgress) Total(name string, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.by[name]; s != nil {
		s.total = total
	}
}

func (p *logProgress) Add(name string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.by[name]
	if s == nil {
		return
	}
	s.done += int64(n)
	if time.Since(s.last) < p.every {
		return
	}
	s.last = time.Now()
	rate := float64(s.done) / max(time.Since(s.start).Seconds(), 1e-3)
	attrs := []any{"collection", name, "documents", s.done, "docs_per_s", int(rate)}
	if s.total > 0 && rate > 0 {
		attrs = append(attrs, "total", s.total, "eta_s", int(float64(max(s.total-s.done, 0))/rate))
	}
	p.log.Info("import: progress", attrs...)
}

func (p *logProgress) Done(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.by, name)
}
