// Package httpx holds the HTTP plumbing every tier shares: an h2c server with
// explicit limits and timeouts that never cut streams, graceful draining on
// shutdown, and the request-id, recover and access-log middleware.
package httpx

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Server runs one tier's listener.
type Server struct {
	srv    *http.Server
	cancel context.CancelFunc
	log    *slog.Logger
}

// NewServer returns a server speaking HTTP/1.1 and cleartext HTTP/2 (h2c),
// so Connect, gRPC, gRPC-Web and plain JSON POSTs all work without TLS.
//
// There is deliberately no ReadTimeout or WriteTimeout: they bound a whole
// request and would kill server streams. Slow clients are bounded by
// ReadHeaderTimeout, body size limits and IdleTimeout instead.
func NewServer(h http.Handler, log *slog.Logger) *Server {
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	base, cancel := context.WithCancel(context.Background())
	s := &http.Server{
		Handler:           h,
		Protocols:         &protos,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: 1000,
			MaxReadFrameSize:     1 << 20,
		},
	}
	// Shutdown does not cancel request contexts; Serve cancels the base
	// context once unary requests had their moment, which ends long-lived
	// streams so draining can finish.
	return &Server{srv: s, cancel: cancel, log: log}
}

// unaryDrain is how long in-flight requests keep their contexts after
// shutdown begins (bounded by half the grace). Cancelling at once, as
// streams need, would fail unary calls that were about to answer: a
// rolling restart showed them as 500s.
const unaryDrain = 2 * time.Second

// Serve accepts on l until ctx is done, then drains in-flight requests for
// up to grace before closing what is left.
func (s *Server) Serve(ctx context.Context, l net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(l) }()
	select {
	case err := <-errc:
		s.cancel()
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- s.srv.Shutdown(sctx) }()
	var err error
	select {
	case err = <-shut:
	case <-time.After(min(unaryDrain, grace/2)):
		s.cancel() // end the streams still open
		err = <-shut
	}
	s.cancel()
	if err != nil {
		s.log.Warn("drain incomplete, closing", "err", err)
		_ = s.srv.Close()
	}
	<-errc
	return nil
}
