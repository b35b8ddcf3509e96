package httpx

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Local holds the handlers of the tiers running in this process (`infliq
// all`), keyed by the host:port of each tier's service URL. Calls between
// them skip the loopback socket and HTTP/1.1 framing but still run the same
// handlers, middleware, interceptors and Connect codecs as calls between
// processes. A nil *Local has no handlers.
type Local struct {
	mu sync.RWMutex
	h  map[string]http.Handler
}

// NewLocal returns an empty registry.
func NewLocal() *Local { return &Local{h: map[string]http.Handler{}} }

// Register serves host (host:port) with h in process.
func (l *Local) Register(host string, h http.Handler) {
	l.mu.Lock()
	l.h[host] = h
	l.mu.Unlock()
}

// Handler is the in-process handler for host, or nil.
func (l *Local) Handler(host string) http.Handler {
	if l == nil {
		return nil
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.h[host]
}

// Transport returns a RoundTripper that serves requests for registered hosts
// in process and sends the others through next.
func (l *Local) Transport(next http.RoundTripper) http.RoundTripper {
	if l == nil {
		return next
	}
	return &localTransport{l: l, next: next}
}

type localTransport struct {
	l    *Local
	next http.RoundTripper
}

// localAddr stands in for the peer address of an in-process call: the
// caller is this process, as it is loopback across processes.
const localAddr = "127.0.0.1:0"

// errAborted ends a response body whose handler panicked, as a dropped
// connection would across processes.
var errAborted = errors.New("httpx: in-process handler aborted the response")

func (t *localTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	h := t.l.Handler(req.URL.Host)
	if h == nil {
		return t.next.RoundTrip(req)
	}
	ctx := req.Context()
	in := req.Clone(ctx) // the handler may edit headers; the caller's request stays as sent
	in.RequestURI = req.URL.RequestURI()
	in.RemoteAddr = localAddr
	in.Host = req.URL.Host
	in.Proto, in.ProtoMajor, in.ProtoMinor = "HTTP/1.1", 1, 1
	in.Close = false
	if in.Body == nil {
		in.Body = http.NoBody
	} else if in.Body != http.NoBody && in.ContentLength == 0 {
		in.ContentLength = -1 // a client's 0 with a body means unknown; a server's is -1
	}
	if unaryConnect(in) {
		return serveUnary(h, in, req)
	}
	pr, pw := io.Pipe()
	w := &localWriter{
		header: http.Header{},
		pw:     pw,
		ready:  make(chan struct{}),
		resp: &http.Response{
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Body: pr, ContentLength: -1, Request: req,
		},
	}
	go w.serve(h, in)
	select {
	case <-w.ready:
		return w.resp, nil
	case <-ctx.Done():
		// The handler sees the same context and ends; its writes now fail.
		_ = pr.CloseWithError(ctx.Err())
		return nil, ctx.Err()
	}
}

// localWriter is the ResponseWriter of an in-process call. The response is
// handed to the caller when the header is committed; the body streams
// through a pipe, so server streams work as they do over a socket.
type localWriter struct {
	header    http.Header
	resp      *http.Response
	pw        *io.PipeWriter
	ready     chan struct{}
	committed bool
}

func (w *localWriter) serve(h http.Handler, in *http.Request) {
	defer func() {
		_ = in.Body.Close()
		if v := recover(); v != nil {
			// Like net/http: the caller sees a broken response, not a crash.
			w.commit(http.StatusInternalServerError)
			_ = w.pw.CloseWithError(fmt.Errorf("%w: %v", errAborted, v))
		}
	}()
	h.ServeHTTP(w, in)
	w.commit(http.StatusOK)
	w.setTrailers()
	_ = w.pw.Close()
}

func (w *localWriter) Header() http.Header { return w.header }

func (w *localWriter) WriteHeader(code int) {
	if code < 200 && code >= 100 {
		return // informational responses are not forwarded in process
	}
	w.commit(code)
}

func (w *localWriter) Write(p []byte) (int, error) {
	w.commit(http.StatusOK)
	return w.pw.Write(p)
}

// Flush commits the header so a streaming caller can start reading.
func (w *localWriter) Flush() { w.commit(http.StatusOK) }

func (w *localWriter) commit(code int) {
	if w.committed {
		return
	}
	w.committed = true
	r := w.resp
	r.StatusCode = code
	r.Status = strconv.Itoa(code) + " " + http.StatusText(code)
	r.Header = w.header.Clone()
	if n, err := strconv.ParseInt(r.Header.Get("Content-Length"), 10, 64); err == nil && n >= 0 {
		r.ContentLength = n
	}
	close(w.ready)
}

// setTrailers fills the response's trailers once the handler is done; the
// caller reads them after the body's EOF.
func (w *localWriter) setTrailers() {
	if tr := trailers(w.resp.Header, w.header); tr != nil {
		w.resp.Trailer = tr
	}
}

// trailers are the declared trailers (the Trailer header as sent) and the
// "Trailer:"-prefixed headers of the final header map, as net/http sends
// them; nil when there are none.
func trailers(sent, final http.Header) http.Header {
	var tr http.Header
	set := func(k string, v []string) {
		if tr == nil {
			tr = http.Header{}
		}
		tr[http.CanonicalHeaderKey(k)] = v
	}
	for _, v := range sent.Values("Trailer") {
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				set(k, final.Values(k))
			}
		}
	}
	for k, v := range final {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			set(name, v)
		}
	}
	return tr
}

// unaryConnect reports a Connect unary call: its handler reads the whole
// request and writes one reply without waiting on the caller, so it can run
// on the caller's goroutine, whose stack is already grown, and skip the
// goroutine, pipe and hand-offs a stream needs.
func unaryConnect(r *http.Request) bool {
	return r.Header.Get("Connect-Protocol-Version") != "" &&
		!strings.HasPrefix(r.Header.Get("Content-Type"), "application/connect+")
}

// serveUnary runs h on the calling goroutine into a pooled buffer.
func serveUnary(h http.Handler, in, req *http.Request) (res *http.Response, err error) {
	w := &bufferedWriter{header: http.Header{}, body: bufferPool.Get().(*bytes.Buffer)}
	w.body.Reset()
	defer func() {
		_ = in.Body.Close()
		if v := recover(); v != nil {
			bufferPool.Put(w.body)
			res, err = nil, fmt.Errorf("%w: %v", errAborted, v)
		}
	}()
	h.ServeHTTP(w, in)
	w.WriteHeader(http.StatusOK)
	res = &http.Response{
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		StatusCode: w.code, Status: strconv.Itoa(w.code) + " " + http.StatusText(w.code),
		Header: w.sent, ContentLength: int64(w.body.Len()), Request: req,
		Body: &pooledBody{buf: w.body},
	}
	res.Trailer = trailers(w.sent, w.header)
	return res, nil
}

var bufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// bufferedWriter is the ResponseWriter of a unary in-process call.
type bufferedWriter struct {
	header http.Header
	sent   http.Header // header as of WriteHeader, as net/http fixes it
	code   int
	body   *bytes.Buffer
}

func (w *bufferedWriter) Header() http.Header { return w.header }

func (w *bufferedWriter) WriteHeader(code int) {
	if w.sent != nil || (code >= 100 && code < 200) {
		return
	}
	w.code, w.sent = code, w.header.Clone()
	if n, err := strconv.Atoi(w.sent.Get("Content-Length")); err == nil && n > 0 && n <= 32<<20 {
		w.body.Grow(n)
	}
}

func (w *bufferedWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(p)
}

// Flush has nothing to hand over before the handler returns.
func (w *bufferedWriter) Flush() {}

// pooledBody returns its buffer to the pool when the caller closes it.
type pooledBody struct {
	mu  sync.Mutex
	buf *bytes.Buffer
}

func (b *pooledBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf == nil {
		return 0, errors.New("httpx: read on a closed body")
	}
	return b.buf.Read(p)
}

func (b *pooledBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf != nil {
		if b.buf.Cap() <= 1<<20 { // don't pin large replies
			bufferPool.Put(b.buf)
		}
		b.buf = nil
	}
	return nil
}
