package importer

import (
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// NewProgress returns a progress bar (documents, rate, ETA over the
// collections in flight) when w is a terminal, and periodic structured log
// lines per collection otherwise.
func NewProgress(w io.Writer, tty bool, log *slog.Logger) Progress {
	if tty {
		return &barProgress{w: w, active: map[string]bool{}}
	}
	return &logProgress{log: log, every: 10 * time.Second, by: map[string]*logState{}}
}

type barProgress struct {
	mu     sync.Mutex
	w      io.Writer
	bar    *progressbar.ProgressBar
	active map[string]bool
	total  int64
}

func (p *barProgress) describe() {
	p.bar.Describe(strings.Join(slices.Sorted(maps.Keys(p.active)), "+"))
}

func (p *barProgress) Start(name string, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar == nil || len(p.active) == 0 {
		p.total = 0
		p.bar = progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("docs"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(200*time.Millisecond),
		)
	}
	p.active[name] = true
	if total > 0 {
		p.total += total
		p.bar.ChangeMax64(p.total)
	}
	p.describe()
}

func (p *barProgress) Total(name string, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.active[name] && total > 0 {
		p.total += total
		p.bar.ChangeMax64(p.total)
	}
}

func (p *barProgress) Add(_ string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.bar.Add(n)
}

func (p *barProgress) Done(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.active, name)
	if len(p.active) == 0 {
		_ = p.bar.Finish()
		_, _ = io.WriteString(p.w, "\n")
		return
	}
	p.describe()
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
