package httpx

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/logx"
)

// RequestIDHeader is accepted, generated, echoed and forwarded.
const RequestIDHeader = "X-Request-Id"

// SaneRequestID reports whether an incoming id may be reused: printable
// ASCII without spaces, at most 128 characters.
func SaneRequestID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// NewRequestID returns a random 32-character id.
func NewRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// RequestID keeps a sane incoming x-request-id or generates one, echoes it on
// the response, rewrites the request header (so proxies forward it) and puts
// it in the context for logging.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rid := r.Header.Get(RequestIDHeader)
		if !SaneRequestID(rid) {
			rid = NewRequestID()
			r.Header.Set(RequestIDHeader, rid)
		}
		w.Header().Set(RequestIDHeader, rid)
		next.ServeHTTP(w, r.WithContext(logx.WithRequestID(r.Context(), rid)))
	})
}

// Recover turns a panic outside Connect handlers into a logged 500 JSON
// response instead of a dropped connection.
func Recover(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.ErrorContext(r.Context(), "panic", "panic", fmt.Sprint(v), "route", r.URL.Path, "stack", string(debug.Stack()))
				apperr.WriteLegacy(w, apperr.Internal(fmt.Errorf("panic: %v", v)))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// StatusRecorder captures the status code and size of a response while
// passing through Flush and the HTTP/2 stream APIs.
type StatusRecorder struct {
	http.ResponseWriter
	Status int
	Bytes  int64
}

func (s *StatusRecorder) WriteHeader(code int) {
	if s.Status == 0 {
		s.Status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *StatusRecorder) Write(b []byte) (int, error) {
	if s.Status == 0 {
		s.Status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.Bytes += int64(n)
	return n, err
}

// Flush keeps server streams incremental.
func (s *StatusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack lets websocket upgrades through: gorilla/websocket asserts
// http.Hijacker rather than using http.ResponseController.
func (s *StatusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(s.ResponseWriter).Hijack()
	if err == nil && s.Status == 0 {
		s.Status = http.StatusSwitchingProtocols
	}
	return c, rw, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *StatusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// AccessLog writes one line per request with route, status and duration.
// RPC-level detail (procedure, code, user) is logged by the tier interceptor.
func AccessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &StatusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.Status == 0 {
			rec.Status = http.StatusOK
		}
		lvl := slog.LevelInfo
		if rec.Status >= 500 {
			lvl = slog.LevelWarn
		}
		log.Log(r.Context(), lvl, "http",
			"method", r.Method, "route", r.URL.Path, "status", rec.Status,
			"bytes", rec.Bytes, "duration_ms", time.Since(start).Milliseconds())
	})
}
