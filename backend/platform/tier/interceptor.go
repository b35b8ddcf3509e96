package tier

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"connectrpc.com/connect"

	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/metrics"
)

// observe is the tier's Connect interceptor. For unary and streaming RPCs
// alike it converts handler errors into client-safe Connect errors, logs the
// hidden causes of internal failures, logs one line per RPC and records
// latency and error metrics. (A UnaryInterceptorFunc would silently skip
// streams.)
type observe struct {
	tier string
	log  *slog.Logger
	m    *metrics.Registry
}

func (o *observe) finish(ctx context.Context, proc string, start time.Time, err error) error {
	code := "ok"
	var out error
	if err != nil {
		e := apperr.From(err)
		code = e.Code.String()
		out = apperr.ToConnect(e)
		if e.Code == connect.CodeInternal || e.Code == connect.CodeUnknown || e.Code == connect.CodeUnavailable {
			o.log.ErrorContext(ctx, "rpc failed", "rpc", proc, "code", code, "err", errText(e))
		}
		o.m.RPCErrors.WithLabelValues(o.tier, proc, code).Inc()
	}
	d := time.Since(start)
	o.m.RPCDuration.WithLabelValues(o.tier, proc, code).Observe(d.Seconds())
	o.log.InfoContext(ctx, "rpc", "rpc", proc, "status", code, "duration_ms", float64(d.Microseconds())/1000)
	return out
}

func errText(e *apperr.Error) string {
	if e.Cause != nil {
		return e.Cause.Error()
	}
	return e.Msg
}

func (o *observe) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		start := time.Now()
		resp, err := next(ctx, req)
		if ferr := o.finish(ctx, req.Spec().Procedure, start, err); ferr != nil {
			return nil, ferr
		}
		return resp, nil
	}
}

func (o *observe) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (o *observe) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		start := time.Now()
		err := next(ctx, conn)
		if err != nil && errors.Is(err, context.Canceled) && ctx.Err() != nil {
			// The client went away or the server is draining: a normal end of a stream.
			err = nil
		}
		return o.finish(ctx, conn.Spec().Procedure, start, err)
	}
}
