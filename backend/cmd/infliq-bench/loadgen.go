//go:build linux

package main

// A lean HTTP/1.1 load generator. The generator shares the machine's two
// cores with the system under test, so each request costs it one write and
// the reads of its response: the request is serialized by hand into a reused
// buffer, the response is framed by a minimal parser (status line, the three
// headers that frame a body, Content-Length or chunked body discarded), and
// latencies go to per-worker slices. No per-request timers, channels or
// locks in the closed loop.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

const (
	// maxOpenLoopWorkers bounds the connections an open loop opens to keep
	// its schedule while responses are slow.
	maxOpenLoopWorkers = 1024
	// lateThreshold is how far behind its schedule a request may be handed
	// to a worker before it counts as late (timer slop stays below it).
	lateThreshold = 10 * time.Millisecond
	// dispatchGrace is how long after the end of the schedule a backlog
	// still gets sent; what remains is reported as not sent.
	dispatchGrace = time.Second
	// maxDistinctErrors bounds the error strings kept per worker (transport
	// errors name local ports, so they need not repeat).
	maxDistinctErrors = 8
	readBufferSize    = 32 << 10
)

// loadSpec is one run of the generator.
type loadSpec struct {
	addr     string // host:port to dial
	host     string // Host header
	conns    int    // closed loop: workers; open loop: workers to start with
	rate     int    // requests per second; 0 = closed loop
	duration time.Duration
	timeout  time.Duration // per request
	// maxWorkers bounds the open loop's workers (default maxOpenLoopWorkers).
	maxWorkers int
	// seq hands out request indices; shared by the warm-up and the measured
	// run so that next never sees an index twice (scenarios derive unique
	// phone numbers and the like from it).
	seq *atomic.Uint64
	// maxRequests bounds the indices handed out.
	maxRequests uint64
	next        func(uint64) Request
}

// loadResult is what a run measured.
type loadResult struct {
	requests, ok uint64
	codes        map[int]uint64 // 0 = no response (transport or protocol error)
	errors       []string       // distinct, first seen first
	lat          []time.Duration
	began, end   time.Time // start of the run; last response
	workers      int
	// Open loop: requests handed to a worker more than lateThreshold after
	// their scheduled time, the largest such lag, and scheduled requests
	// never sent because the backlog outlived dispatchGrace.
	late   uint64
	maxLag time.Duration
	unsent uint64
}

// runLoad drives spec until its duration ends, its indices run out or ctx
// is done, and returns once every in-flight request has finished.
func runLoad(ctx context.Context, spec loadSpec) *loadResult {
	if spec.conns < 1 {
		spec.conns = 1
	}
	if spec.timeout <= 0 {
		spec.timeout = 30 * time.Second
	}
	if spec.maxWorkers <= 0 {
		spec.maxWorkers = maxOpenLoopWorkers
	}
	g := &loadgen{spec: spec, ctx: ctx, dialer: net.Dialer{Timeout: spec.timeout}}
	g.began = time.Now()
	g.end = g.began.Add(spec.duration)
	stop := context.AfterFunc(ctx, g.stop)
	defer stop()
	res := &loadResult{began: g.began}
	if spec.rate > 0 {
		g.openLoop(res)
	} else {
		g.closedLoop()
	}
	g.wg.Wait()
	g.merge(res)
	return res
}

type loadgen struct {
	spec       loadSpec
	ctx        context.Context
	dialer     net.Dialer
	began, end time.Time
	stopped    atomic.Bool
	wg         sync.WaitGroup
	mu         sync.Mutex // guards workers
	workers    []*worker
}

// stop cuts in-flight requests short when ctx is done: an expired deadline
// wakes every blocked read and write.
func (g *loadgen) stop() {
	g.stopped.Store(true)
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, w := range g.workers {
		w.mu.Lock()
		if w.conn != nil {
			_ = w.conn.SetDeadline(time.Unix(1, 0))
		}
		w.mu.Unlock()
	}
}

// claim hands out the next request index, or false when they ran out.
func (g *loadgen) claim() (uint64, bool) {
	i := g.spec.seq.Add(1) - 1
	return i, i < g.spec.maxRequests
}

func (g *loadgen) spawn(loop func(w *worker)) {
	w := &worker{g: g, codes: map[int]uint64{}}
	g.mu.Lock()
	g.workers = append(g.workers, w)
	g.mu.Unlock()
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		defer w.close()
		loop(w)
	}()
}

// closedLoop: conns workers send back to back, each on its own connection;
// latency runs from just before the request is sent (or its connection
// dialled) to the end of its response.
func (g *loadgen) closedLoop() {
	for range g.spec.conns {
		g.spawn(func(w *worker) {
			for {
				start := time.Now()
				if !start.Before(g.end) || g.stopped.Load() {
					return
				}
				i, ok := g.claim()
				if !ok {
					return
				}
				w.serve(i, start)
			}
		})
	}
}

// openLoop schedules request k at began + k/rate. Each idle worker claims
// the next slot, sleeps until it is due and sends it, so a request costs one
// wake-up (no dispatcher goroutine, no hand-off). A worker that claims a
// slot already late starts another worker (a connection), up to maxWorkers.
// Latency runs from the scheduled time, so a request that waited for a free
// worker counts its wait (no coordinated omission).
func (g *loadgen) openLoop(res *loadResult) {
	per := float64(time.Second) / float64(g.spec.rate)
	total := uint64(g.spec.duration.Seconds() * float64(g.spec.rate))
	lastDispatch := g.end.Add(dispatchGrace)
	var (
		next, sent, late atomic.Uint64
		maxLag           atomic.Int64
		workers          atomic.Int64
		abandoned        atomic.Bool // the backlog outlived dispatchGrace
	)
	var loop func(w *worker)
	grow := func() {
		for {
			n := workers.Load()
			if n >= int64(g.spec.maxWorkers) {
				return
			}
			if workers.CompareAndSwap(n, n+1) {
				g.spawn(loop)
				return
			}
		}
	}
	loop = func(w *worker) {
		timer := time.NewTimer(time.Hour)
		defer timer.Stop()
		for !abandoned.Load() {
			k := next.Add(1) - 1
			if k >= total {
				return
			}
			due := g.began.Add(time.Duration(float64(k) * per))
			if d := time.Until(due); d > 0 {
				timer.Reset(d)
				select {
				case <-timer.C:
				case <-g.ctx.Done():
					return
				}
			} else if lag := -d; lag > lateThreshold {
				if time.Now().After(lastDispatch) {
					abandoned.Store(true)
					return
				}
				late.Add(1)
				for m := maxLag.Load(); int64(lag) > m && !maxLag.CompareAndSwap(m, int64(lag)); m = maxLag.Load() {
				}
				grow()
			}
			i, ok := g.claim()
			if !ok || g.stopped.Load() {
				return
			}
			sent.Add(1)
			w.serve(i, due)
		}
	}
	for range min(g.spec.conns, g.spec.maxWorkers) {
		grow()
	}
	g.wg.Wait()
	res.late, res.maxLag = late.Load(), time.Duration(maxLag.Load())
	if abandoned.Load() {
		res.unsent = total - sent.Load()
	}
}

func (g *loadgen) merge(res *loadResult) {
	res.codes = map[int]uint64{}
	seen := map[string]bool{}
	n := 0
	for _, w := range g.workers {
		n += len(w.lat)
	}
	res.lat = make([]time.Duration, 0, n)
	res.workers = len(g.workers)
	for _, w := range g.workers {
		res.requests += w.requests
		res.ok += w.ok
		for c, k := range w.codes {
			res.codes[c] += k
		}
		for _, e := range w.errs {
			if !seen[e] {
				seen[e] = true
				res.errors = append(res.errors, e)
			}
		}
		res.lat = append(res.lat, w.lat...)
		if w.lastDone.After(res.end) {
			res.end = w.lastDone
		}
	}
	slices.Sort(res.lat)
}

// worker owns one keep-alive connection; only its goroutine uses it, but
// for stop, which sets deadlines under mu.
type worker struct {
	g        *loadgen
	mu       sync.Mutex // guards conn against stop
	conn     net.Conn
	br       *bufio.Reader
	deadline time.Time // the connection's deadline, moved only every timeout/2
	reused   bool      // the connection has served a response
	wbuf     []byte

	requests, ok uint64
	codes        map[int]uint64
	errs         []string
	lat          []time.Duration
	lastDone     time.Time
}

// serve sends request i and records its latency from start.
func (w *worker) serve(i uint64, start time.Time) {
	r := w.g.spec.next(i)
	code, status, err := w.do(&r)
	done := time.Now()
	if err != nil && (w.g.stopped.Load() || w.g.ctx.Err() != nil) { // stop runs just after ctx is done
		return // cut short by ctx: not a measurement
	}
	w.requests++
	w.lat = append(w.lat, done.Sub(start))
	w.codes[code]++
	w.lastDone = done
	switch {
	case err != nil:
		w.addError(err.Error())
	case code >= 200 && code < 400:
		w.ok++
	default:
		w.addError(status)
	}
}

func (w *worker) addError(e string) {
	if len(w.errs) < maxDistinctErrors && !slices.Contains(w.errs, e) {
		w.errs = append(w.errs, e)
	}
}

// do sends r and discards its response. Like net/http, a request whose
// reused connection turns out closed before any byte of a response is sent
// again on a new connection once, if its method is idempotent.
func (w *worker) do(r *Request) (code int, status string, err error) {
	w.wbuf = appendRequest(w.wbuf[:0], w.g.spec.host, r)
	for attempt := 0; ; attempt++ {
		if w.conn == nil {
			if err := w.dial(); err != nil {
				return 0, "", err
			}
		}
		if now := time.Now(); now.Add(w.g.spec.timeout / 2).After(w.deadline) {
			w.deadline = now.Add(w.g.spec.timeout)
			_ = w.conn.SetDeadline(w.deadline)
			if w.g.stopped.Load() { // stop may have set its deadline before this one
				return 0, "", context.Canceled
			}
		}
		reused := w.reused
		var res response
		_, err = w.conn.Write(w.wbuf)
		stale := err != nil
		if err == nil {
			res, err = readResponse(w.br, r.Method == "HEAD")
			stale = errors.Is(err, errNoResponse)
		}
		if err != nil {
			w.close()
			if stale && reused && attempt == 0 && idempotent(r.Method) && !w.g.stopped.Load() {
				continue
			}
			return 0, "", err
		}
		w.reused = true
		if res.close {
			w.close()
		}
		return res.code, res.status, nil
	}
}

func (w *worker) dial() error {
	c, err := w.g.dialer.DialContext(w.g.ctx, "tcp", w.g.spec.addr)
	if err != nil {
		return err
	}
	w.mu.Lock()
	if w.g.stopped.Load() { // stop has run or will find the connection
		w.mu.Unlock()
		_ = c.Close()
		return context.Canceled
	}
	w.conn = c
	w.mu.Unlock()
	if w.br == nil {
		w.br = bufio.NewReaderSize(c, readBufferSize)
	} else {
		w.br.Reset(c)
	}
	w.deadline, w.reused = time.Time{}, false
	return nil
}

func (w *worker) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.conn != nil {
		_ = w.conn.Close()
		w.conn = nil
	}
}

func idempotent(method string) bool {
	switch method {
	case "", "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
		return true
	}
	return false
}

// appendRequest serializes r as an HTTP/1.1 request. The generator frames
// the request itself (Host, Content-Length), so those headers of r are not
// copied; nothing else is added (no Accept-Encoding, no User-Agent).
func appendRequest(b []byte, host string, r *Request) []byte {
	method, path := r.Method, r.Path
	if method == "" {
		method = "GET"
	}
	if path == "" {
		path = "/"
	}
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	for k, vs := range r.Header {
		switch k {
		case "Host", "Content-Length", "Transfer-Encoding", "Connection":
			continue
		}
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	// As net/http: an empty POST, PUT or PATCH still says Content-Length: 0.
	if len(r.Body) > 0 || method == "POST" || method == "PUT" || method == "PATCH" {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(r.Body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	return append(b, r.Body...)
}

// response is what the generator keeps of a response.
type response struct {
	code   int
	status string // "500 Internal Server Error", only for codes outside 200–399
	close  bool   // the connection cannot carry another request
	body   int64  // body bytes discarded
}

var (
	errMalformed = errors.New("malformed response")
	// errNoResponse: the connection ended before any byte of a response (a
	// keep-alive connection the server had closed).
	errNoResponse = errors.New("connection closed before a response")
)

const (
	maxHeaderLines  = 256
	maxInterim      = 8       // 1xx responses before the final one
	maxBodyLength   = 1 << 40 // larger Content-Length or chunk sizes are refused
	maxChunkSizeLen = 16      // hex digits
)

// readResponse reads one response from br and discards its body. Interim
// (1xx) responses are skipped. It allocates only on error statuses and
// errors.
func readResponse(br *bufio.Reader, head bool) (response, error) {
	for interim := 0; ; interim++ {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if len(line) == 0 && interim == 0 && (err == io.EOF || errors.Is(err, syscall.ECONNRESET)) {
				return response{}, fmt.Errorf("%w: %v", errNoResponse, err)
			}
			return response{}, lineError(err)
		}
		line = trimEOL(line)
		// HTTP/1.x SP 3DIGIT [SP reason]
		if len(line) < 12 || string(line[:7]) != "HTTP/1." || (line[7] != '0' && line[7] != '1') || line[8] != ' ' ||
			(len(line) > 12 && line[12] != ' ') {
			return response{}, malformed("status line", line)
		}
		code := 0
		for _, c := range line[9:12] {
			if c < '0' || c > '9' {
				return response{}, malformed("status line", line)
			}
			code = code*10 + int(c-'0')
		}
		if code < 100 {
			return response{}, malformed("status line", line)
		}
		res := response{code: code}
		if code < 200 || code >= 400 {
			res.status = string(line[9:])
		}
		http10 := line[7] == '0'
		f, err := readFraming(br)
		if err != nil {
			return response{}, err
		}
		if code < 200 {
			if code == 101 || interim >= maxInterim {
				return response{}, malformed("interim response", line)
			}
			continue
		}
		if f.chunked && http10 {
			return response{}, malformed("header", []byte("Transfer-Encoding in an HTTP/1.0 response"))
		}
		// A response with both Content-Length and chunked is framed by
		// chunked, and its connection must not be reused (RFC 9112 6.3).
		res.close = f.close || (http10 && !f.keepAlive) || (f.chunked && f.length >= 0)
		switch {
		case head || code == 204 || code == 304:
		case f.chunked:
			res.body, err = discardChunked(br)
		case f.length >= 0:
			var n int
			n, err = br.Discard(int(f.length))
			res.body = int64(n)
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
		default: // delimited by the end of the connection
			res.body, err = io.Copy(io.Discard, br)
			res.close = true
		}
		if err != nil {
			return response{}, err
		}
		return res, nil
	}
}

// framing is what the headers say about the body and the connection.
type framing struct {
	length           int64 // -1 when absent
	chunked          bool
	close, keepAlive bool
}

// readFraming reads the header section up to its empty line and keeps the
// headers that frame the body.
func readFraming(br *bufio.Reader) (framing, error) {
	f := framing{length: -1}
	for n := 0; ; n++ {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return f, lineError(err)
		}
		line = trimEOL(line)
		if len(line) == 0 {
			return f, nil
		}
		if n >= maxHeaderLines || line[0] == ' ' || line[0] == '\t' { // no obsolete line folding
			return f, malformed("header", line)
		}
		colon := -1
		for i, c := range line {
			if c == ':' {
				colon = i
				break
			}
			if c <= ' ' || c >= 0x7f {
				break
			}
		}
		if colon <= 0 {
			return f, malformed("header", line)
		}
		name, val := line[:colon], trimOWS(line[colon+1:])
		switch {
		case equalFold(name, "content-length"):
			v, ok := parseDecimal(val)
			if !ok || (f.length >= 0 && f.length != v) {
				return f, malformed("Content-Length", val)
			}
			f.length = v
		case equalFold(name, "transfer-encoding"):
			if !equalFold(val, "chunked") {
				return f, malformed("Transfer-Encoding", val)
			}
			f.chunked = true
		case equalFold(name, "connection"):
			for len(val) > 0 {
				var tok []byte
				tok, val = cutByte(val, ',')
				tok = trimOWS(tok)
				f.close = f.close || equalFold(tok, "close")
				f.keepAlive = f.keepAlive || equalFold(tok, "keep-alive")
			}
		}
	}
}

// discardChunked reads a chunked body and its trailer section.
func discardChunked(br *bufio.Reader) (int64, error) {
	var total int64
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return total, lineError(err)
		}
		size, _ := cutByte(trimEOL(line), ';') // chunk extensions are ignored
		n, ok := parseHex(trimOWS(size))
		if !ok {
			return total, malformed("chunk size", line)
		}
		if n == 0 {
			break
		}
		d, err := br.Discard(int(n))
		total += int64(d)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return total, err
		}
		if line, err = br.ReadSlice('\n'); err != nil {
			return total, lineError(err)
		}
		if len(trimEOL(line)) != 0 {
			return total, malformed("chunk end", line)
		}
	}
	for n := 0; ; n++ { // trailer section
		line, err := br.ReadSlice('\n')
		if err != nil {
			return total, lineError(err)
		}
		if len(trimEOL(line)) == 0 {
			return total, nil
		}
		if n >= maxHeaderLines {
			return total, malformed("trailer", line)
		}
	}
}

func lineError(err error) error {
	switch err {
	case io.EOF:
		return io.ErrUnexpectedEOF
	case bufio.ErrBufferFull:
		return fmt.Errorf("%w: line longer than %d bytes", errMalformed, readBufferSize)
	}
	return err
}

func malformed(what string, b []byte) error {
	if len(b) > 64 {
		b = b[:64]
	}
	return fmt.Errorf("%w: %s %q", errMalformed, what, b)
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func cutByte(b []byte, sep byte) (before, after []byte) {
	for i, c := range b {
		if c == sep {
			return b[:i], b[i+1:]
		}
	}
	return b, nil
}

// equalFold reports whether b is lower, ignoring ASCII case (lower is
// lower-case).
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n = n*10 + int64(c-'0'); n > maxBodyLength {
			return 0, false
		}
	}
	return n, true
}

func parseHex(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > maxChunkSizeLen {
		return 0, false
	}
	var n int64
	for _, c := range b {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		if n = n<<4 | int64(d); n > maxBodyLength {
			return 0, false
		}
	}
	return n, true
}

// metrics is r in the shape report() reads (vegeta's), with exact
// percentiles (nearest rank over every latency).
func (r *loadResult) metrics() vegeta.Metrics {
	m := vegeta.Metrics{
		Requests:    r.requests,
		StatusCodes: make(map[string]int, len(r.codes)),
		Errors:      r.errors,
		Earliest:    r.began,
		End:         r.end,
	}
	if m.Errors == nil {
		m.Errors = []string{}
	}
	for c, n := range r.codes {
		m.StatusCodes[strconv.Itoa(c)] = int(n)
	}
	if r.requests > 0 {
		m.Success = float64(r.ok) / float64(r.requests)
	}
	if el := r.end.Sub(r.began); el > 0 {
		m.Duration = el
		m.Rate = float64(r.requests) / el.Seconds()
		m.Throughput = float64(r.ok) / el.Seconds()
	}
	if n := len(r.lat); n > 0 {
		var total time.Duration
		for _, d := range r.lat {
			total += d
		}
		m.Latencies = vegeta.LatencyMetrics{
			Total: total, Mean: total / time.Duration(n),
			P50: quantile(r.lat, 0.50), P90: quantile(r.lat, 0.90), P95: quantile(r.lat, 0.95), P99: quantile(r.lat, 0.99),
			Min: r.lat[0], Max: r.lat[n-1],
		}
	}
	return m
}

// quantile is the nearest-rank q-quantile of sorted.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// scheduleNote says whether an open loop kept its schedule ("" if it did).
func (r *loadResult) scheduleNote() string {
	if r.late == 0 && r.unsent == 0 {
		return ""
	}
	s := fmt.Sprintf("open loop fell behind its schedule: %d requests sent more than %s late (max %s), %d workers",
		r.late, lateThreshold, r.maxLag.Round(time.Millisecond), r.workers)
	if r.unsent > 0 {
		s += fmt.Sprintf(", %d scheduled requests not sent", r.unsent)
	}
	return s
}
