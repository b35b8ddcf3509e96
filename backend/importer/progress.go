package importer

import (
	"io"
	"log/slog"
	"time"

	"github.com/schollz/progressbar/v3"
)

// NewProgress returns a progress bar per collection (count, rate, ETA) when
// w is a terminal, and periodic structured log lines otherwise.
func NewProgress(w io.Writer, tty bool, log *slog.Logger) Progress {
	if tty {
		return &barProgress{w: w}
	}
	return &logProgress{log: log, every: 10 * time.Second}
}

type barProgress struct {
	w   io.Writer
	bar *progressbar.ProgressBar
}

func (p *barProgress) Start(name string, total int64) {
	p.bar = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(name),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("docs"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionOnCompletion(func() { _, _ = io.WriteString(p.w, "\n") }),
	)
}

func (p *barProgress) Add(n int) { _ = p.bar.Add(n) }
func (p *barProgress) Done()     { _ = p.bar.Finish() }

type logProgress struct {
	log   *slog.Logger
	every time.Duration
	name  string
	total int64
	done  int64
	start time.Time
	last  time.Time
}

func (p *logProgress) Start(name string, total int64) {
	p.name, p.total, p.done, p.start, p.last = name, total, 0, time.Now(), time.Now()
}

func (p *logProgress) Add(n int) {
	p.done += int64(n)
	if time.Since(p.last) < p.every {
		return
	}
	p.last = time.Now()
	el := time.Since(p.start).Seconds()
	rate := float64(p.done) / max(el, 1e-3)
	attrs := []any{"collection", p.name, "documents", p.done, "docs_per_s", int(rate)}
	if p.total > 0 && rate > 0 {
		attrs = append(attrs, "total", p.total, "eta_s", int(float64(max(p.total-p.done, 0))/rate))
	}
	p.log.Info("import: progress", attrs...)
}

func (p *logProgress) Done() {}
