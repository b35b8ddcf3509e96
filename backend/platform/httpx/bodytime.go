package httpx

import (
	"errors"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

// ErrSlowBody is the read error of a body that missed its deadline. It is
// an os.ErrDeadlineExceeded, without that error's text.
var ErrSlowBody error = slowBody{}

type slowBody struct{}

func (slowBody) Error() string        { return "request body too slow" }
func (slowBody) Is(target error) bool { return target == os.ErrDeadlineExceeded }

// LimitBodyTime bounds how long r's body may take to arrive, through the
// connection's read deadline: the whole body within window when perBytes is
// 0 (short JSON and RPC bodies), else each further perBytes within window
// (uploads: a minimum rate). A trickling client then gets a read error
// instead of holding a connection and a handler indefinitely. The deadline
// is lifted once the body is complete, so a streamed answer is never cut.
func LimitBodyTime(w http.ResponseWriter, r *http.Request, window time.Duration, perBytes int64) *TimedBody {
	b := &TimedBody{ReadCloser: r.Body, rc: http.NewResponseController(w), window: window, per: perBytes}
	r.Body = b
	return b
}

// TimedBody is a body under LimitBodyTime.
type TimedBody struct {
	io.ReadCloser
	rc            *http.ResponseController
	window        time.Duration
	per, got      int64
	started, done bool
	timedOut      atomic.Bool
}

// TimedOut reports whether the body missed its deadline (a proxy may get an
// upstream's answer to the truncated body; the edge answers 408 instead).
func (b *TimedBody) TimedOut() bool { return b.timedOut.Load() }

func (b *TimedBody) Read(p []byte) (int, error) {
	if !b.started || (b.per > 0 && b.got >= b.per) {
		b.started, b.got = true, 0
		_ = b.rc.SetReadDeadline(time.Now().Add(b.window)) // unsupported (tests' recorders): no bound
	}
	n, err := b.ReadCloser.Read(p)
	b.got += int64(n)
	switch {
	case err == io.EOF && !b.done:
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	case err != nil && errors.Is(err, os.ErrDeadlineExceeded):
		b.timedOut.Store(true)
		err = ErrSlowBody
	}
	return n, err
}
