// Package logx sets up log/slog: JSON when the output is not a terminal (or
// in production), tint on a terminal. Every record picks up the request id and
// user id carried by its context, so handlers only pass ctx.
package logx

import (
	"context"
	"io"
	"log/slog"
	"os"

	"github.com/lmittmann/tint"
	"github.com/mattn/go-isatty"
	"go.opentelemetry.io/otel/trace"
)

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyUserID
)

// Options selects the output.
type Options struct {
	Level   string // debug|info|warn|error
	Format  string // auto|json|text
	Service string
}

// New returns a logger writing to w.
func New(w io.Writer, o Options) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(o.Level))
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = isatty.IsTerminal(f.Fd())
	}
	var h slog.Handler
	switch {
	case o.Format == "json" || (o.Format == "auto" && !tty):
		h = slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl})
	default:
		h = tint.NewHandler(w, &tint.Options{Level: lvl, NoColor: !tty, TimeFormat: "15:04:05.000"})
	}
	l := slog.New(ctxHandler{h})
	if o.Service != "" {
		l = l.With("service", o.Service)
	}
	return l
}

// Discard is a logger for tests that do not read logs.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// WithRequestID stores the request id for every later log line.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, keyRequestID, id)
}

// RequestID returns the request id carried by ctx, or "".
func RequestID(ctx context.Context) string {
	s, _ := ctx.Value(keyRequestID).(string)
	return s
}

// WithUserID stores the authenticated user id for later log lines.
func WithUserID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, keyUserID, id)
}

type ctxHandler struct{ slog.Handler }

func (h ctxHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	if ctx != nil {
		if v, ok := ctx.Value(keyRequestID).(string); ok && v != "" {
			r.AddAttrs(slog.String("request_id", v))
		}
		if v, ok := ctx.Value(keyUserID).(string); ok && v != "" {
			r.AddAttrs(slog.String("user_id", v))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h ctxHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return ctxHandler{h.Handler.WithAttrs(as)}
}

func (h ctxHandler) WithGroup(name string) slog.Handler {
	return ctxHandler{h.Handler.WithGroup(name)}
}
