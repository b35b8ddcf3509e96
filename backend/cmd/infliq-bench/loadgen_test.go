//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var responseCases = []struct {
	name   string
	raw    string
	head   bool
	code   int
	body   int64
	close  bool
	status string
}{
	{name: "content-length", raw: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello", code: 200, body: 5},
	{name: "lower-case names, LF only", raw: "HTTP/1.1 200 OK\ncontent-length:  3 \n\nabc", code: 200, body: 3},
	{name: "no reason phrase", raw: "HTTP/1.1 204\r\n\r\n", code: 204},
	{name: "chunked", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\na;ext=1\r\n0123456789\r\n0\r\n\r\n", code: 200, body: 15},
	{name: "chunked with trailers", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\nGrpc-Status: 0\r\n\r\n", code: 200, body: 3},
	{name: "chunked and content-length", raw: "HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n", code: 200, body: 1, close: true},
	{name: "connection close", raw: "HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 2\r\n\r\nok", code: 200, body: 2, close: true},
	{name: "HTTP/1.0", raw: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", code: 200, body: 2, close: true},
	{name: "HTTP/1.0 keep-alive", raw: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", code: 200, body: 2},
	{name: "until close", raw: "HTTP/1.1 200 OK\r\n\r\nthe rest", code: 200, body: 8, close: true},
	{name: "HEAD", raw: "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", head: true, code: 200},
	{name: "304 has no body", raw: "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", code: 304},
	{name: "interim responses", raw: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", code: 201},
	{name: "error status", raw: "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy", code: 503, body: 4, status: "503 Service Unavailable"},
}

var malformedResponses = map[string]string{
	"empty":                   "",
	"garbage":                 "hello world\r\n\r\n",
	"HTTP/2":                  "HTTP/2.0 200 OK\r\n\r\n",
	"letters in code":         "HTTP/1.1 2x0 OK\r\n\r\n",
	"code too long":           "HTTP/1.1 2000 OK\r\n\r\n",
	"code below 100":          "HTTP/1.1 099 OK\r\n\r\n",
	"no colon":                "HTTP/1.1 200 OK\r\nContent-Length 5\r\n\r\nhello",
	"space in name":           "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello",
	"folded header":           "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n",
	"negative length":         "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
	"empty length":            "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
	"conflicting lengths":     "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
	"huge length":             "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
	"short body":              "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
	"truncated headers":       "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n",
	"gzip transfer-encoding":  "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
	"chunked in HTTP/1.0":     "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"bad chunk size":          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	"chunk longer than sized": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
	"missing last chunk":      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n",
	"missing trailer end":     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
	"switching protocols":     "HTTP/1.1 101 Switching Protocols\r\n\r\n",
	"endless interim":         strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", maxInterim+2),
	"line too long":           "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", readBufferSize) + "\r\n\r\n",
}

func TestReadResponse(t *testing.T) {
	for _, tc := range responseCases {
		t.Run(tc.name, func(t *testing.T) {
			// Twice in a row on one reader: the first must end exactly where
			// the second starts (unless it is delimited by the close).
			raw := tc.raw
			if !tc.close {
				raw += raw
			}
			br := bufio.NewReader(strings.NewReader(raw))
			for range 1 + boolInt(!tc.close) {
				res, err := readResponse(br, tc.head)
				if err != nil {
					t.Fatal(err)
				}
				want := response{code: tc.code, body: tc.body, close: tc.close, status: tc.status}
				if res != want {
					t.Fatalf("got %+v, want %+v", res, want)
				}
			}
			if n, _ := br.Peek(1); len(n) != 0 {
				t.Fatalf("%d bytes left unread", br.Buffered())
			}
		})
	}
	for name, raw := range malformedResponses {
		t.Run("malformed/"+name, func(t *testing.T) {
			if res, err := readResponse(bufio.NewReaderSize(strings.NewReader(raw), readBufferSize), false); err == nil {
				t.Fatalf("accepted %q as %+v", raw, res)
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestReadResponseNoResponse(t *testing.T) {
	_, err := readResponse(bufio.NewReader(strings.NewReader("")), false)
	if !errors.Is(err, errNoResponse) {
		t.Fatalf("EOF before a response: got %v, want errNoResponse", err)
	}
	_, err = readResponse(bufio.NewReader(strings.NewReader("HTTP/1.1 20")), false)
	if err == nil || errors.Is(err, errNoResponse) {
		t.Fatalf("EOF inside a status line: got %v, want an error other than errNoResponse", err)
	}
}

// FuzzReadResponse: no input panics the parser, and when both it and
// net/http accept a (final) response, they agree on its status and body.
func FuzzReadResponse(f *testing.F) {
	for _, tc := range responseCases {
		f.Add([]byte(tc.raw))
	}
	for _, raw := range malformedResponses {
		f.Add([]byte(raw))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		res, err := readResponse(bufio.NewReaderSize(bytes.NewReader(raw), 4096), false)
		if err != nil {
			return
		}
		if res.code < 200 || res.code > 999 || res.body < 0 || res.body > int64(len(raw)) {
			t.Fatalf("accepted %q as %+v", raw, res)
		}
		hr, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
		if err != nil || hr.StatusCode < 200 {
			return
		}
		n, err := io.Copy(io.Discard, hr.Body)
		if err != nil {
			return
		}
		if hr.StatusCode != res.code || n != res.body {
			t.Fatalf("%q: parsed as %d with %d body bytes; net/http: %d with %d", raw, res.code, res.body, hr.StatusCode, n)
		}
	})
}

func TestAppendRequest(t *testing.T) {
	r := Request{Method: "POST", Path: "/a/b?c=d", Header: http.Header{
		"Content-Type": {"application/json"}, "Authorization": {"Bearer x"}, "X-Multi": {"1", "2"},
		"Host": {"evil"}, "Content-Length": {"999"},
	}, Body: []byte(`{"k":1}`)}
	b := appendRequest([]byte("stale"), "127.0.0.1:1", &r)[len("stale"):]
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(b)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(req.Body)
	if req.Method != "POST" || req.RequestURI != "/a/b?c=d" || req.Host != "127.0.0.1:1" || string(body) != `{"k":1}` ||
		req.ContentLength != 7 || req.Header.Get("Content-Type") != "application/json" ||
		req.Header.Get("Authorization") != "Bearer x" || !slices.Equal(req.Header["X-Multi"], []string{"1", "2"}) ||
		req.Header.Get("Accept-Encoding") != "" {
		t.Fatalf("request %q read back as %+v", b, req)
	}
	for _, m := range []string{"GET", "POST"} {
		b := appendRequest(nil, "h", &Request{Method: m, Path: "/"})
		if got, want := bytes.Contains(b, []byte("Content-Length: 0\r\n")), m == "POST"; got != want {
			t.Errorf("%s without a body: %q", m, b)
		}
	}
}

// testLoad runs spec against addr with defaults filled in and checks what
// every result must satisfy.
func testLoad(t *testing.T, ctx context.Context, addr string, spec loadSpec) *loadResult {
	t.Helper()
	spec.addr, spec.host = addr, addr
	if spec.seq == nil {
		spec.seq = new(atomic.Uint64)
	}
	if spec.duration == 0 {
		spec.duration = time.Minute // bounded by maxRequests
	}
	if spec.timeout == 0 {
		spec.timeout = 10 * time.Second
	}
	if spec.maxRequests == 0 {
		spec.maxRequests = 1 << 40
	}
	r := runLoad(ctx, spec)
	if !slices.IsSorted(r.lat) || uint64(len(r.lat)) != r.requests {
		t.Fatalf("%d latencies (sorted %v) for %d requests", len(r.lat), slices.IsSorted(r.lat), r.requests)
	}
	var sum uint64
	for _, n := range r.codes {
		sum += n
	}
	if sum != r.requests {
		t.Fatalf("status codes %v add up to %d, not %d requests", r.codes, sum, r.requests)
	}
	return r
}

func TestLoadClosedLoop(t *testing.T) {
	var conns atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/length", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, "fixed")
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		for range 3 {
			_, _ = w.Write(bytes.Repeat([]byte("x"), 5000))
			w.(http.Flusher).Flush() // forces chunked encoding
		}
	})
	mux.HandleFunc("/close", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		_, _ = io.WriteString(w, "bye")
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if string(b) != `{"i":1}` {
			http.Error(w, "bad body", http.StatusBadRequest)
		}
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	paths := []string{"/length", "/chunked", "/close", "/echo", "/fail"}
	h := http.Header{"Authorization": {"Bearer t"}}
	r := testLoad(t, context.Background(), strings.TrimPrefix(srv.URL, "http://"), loadSpec{
		conns: 4, maxRequests: 500,
		next: func(i uint64) Request {
			p := paths[i%uint64(len(paths))]
			if p == "/echo" {
				return Request{Method: "POST", Path: p, Header: h, Body: []byte(`{"i":1}`)}
			}
			return Request{Method: "GET", Path: p, Header: h}
		},
	})
	if r.requests != 500 || r.ok != 400 || r.codes[200] != 400 || r.codes[500] != 100 || r.workers != 4 {
		t.Fatalf("%d requests, %d ok, codes %v, %d workers", r.requests, r.ok, r.codes, r.workers)
	}
	if !slices.Equal(r.errors, []string{"500 Internal Server Error"}) {
		t.Fatalf("errors %q", r.errors)
	}
	// Every /close response ends its connection: the next request reconnects.
	if n := conns.Load(); n < 100 {
		t.Fatalf("%d connections for 100 Connection: close responses", n)
	}
	m := r.metrics()
	if m.Requests != 500 || m.Success != 0.8 || m.StatusCodes["500"] != 100 || m.Latencies.P50 <= 0 ||
		m.Latencies.P99 < m.Latencies.P50 || m.Latencies.Max < m.Latencies.P99 || m.Throughput <= 0 {
		t.Fatalf("metrics %+v", m)
	}
}

// scriptedServer accepts connections and runs serve on each, until the
// test ends.
func scriptedServer(t *testing.T, serve func(c net.Conn, br *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c, bufio.NewReader(c))
			}()
		}
	}()
	return ln.Addr().String()
}

// readRequest reads one request (and its body) from br.
func readRequest(br *bufio.Reader) bool {
	req, err := http.ReadRequest(br)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, req.Body)
	return true
}

func TestLoadMalformedAndAbruptClose(t *testing.T) {
	// Each connection: one good response, then a malformed one or a close
	// halfway through a body; the generator counts an error and reconnects.
	var n atomic.Int64
	addr := scriptedServer(t, func(c net.Conn, br *bufio.Reader) {
		if !readRequest(br) {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		if !readRequest(br) {
			return
		}
		if n.Add(1)%2 == 0 {
			_, _ = io.WriteString(c, "HTTP/1.1 2OO OK\r\n\r\n")
		} else {
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
		}
	})
	r := testLoad(t, context.Background(), addr, loadSpec{conns: 1, maxRequests: 40,
		next: func(uint64) Request { return Request{Method: "POST", Path: "/", Body: []byte("x")} }})
	if r.requests != 40 || r.ok != 20 || r.codes[0] != 20 {
		t.Fatalf("%d requests, %d ok, codes %v", r.requests, r.ok, r.codes)
	}
	var malformed, eof bool
	for _, e := range r.errors {
		malformed = malformed || strings.Contains(e, errMalformed.Error())
		eof = eof || strings.Contains(e, io.ErrUnexpectedEOF.Error())
	}
	if !malformed || !eof {
		t.Fatalf("errors %q: want a malformed response and an unexpected EOF", r.errors)
	}
}

func TestLoadRetriesStaleConnection(t *testing.T) {
	// Each connection serves one response, then closes when the next
	// request arrives, without a word: a keep-alive connection gone stale.
	addr := scriptedServer(t, func(c net.Conn, br *bufio.Reader) {
		if readRequest(br) {
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			readRequest(br)
		}
	})
	for _, tc := range []struct {
		method string
		ok     uint64
	}{{"GET", 20}, {"POST", 10}} { // a POST is not sent twice: every second one fails
		r := testLoad(t, context.Background(), addr, loadSpec{conns: 1, maxRequests: 20,
			next: func(uint64) Request { return Request{Method: tc.method, Path: "/"} }})
		if r.requests != 20 || r.ok != tc.ok {
			t.Fatalf("%s: %d requests, %d ok, errors %q", tc.method, r.requests, r.ok, r.errors)
		}
	}
}

func TestLoadOpenLoopMeasuresFromSchedule(t *testing.T) {
	const service = 50 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(service)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	next := func(uint64) Request { return Request{Method: "GET", Path: "/"} }

	// One worker, a request due every 10 ms, each taking ≥ 50 ms: request k
	// goes out after the k before it, ≥ k×50 ms after the start, though it
	// was due at k×10 ms. Measured from its schedule, the last of 10 takes
	// ≥ 9×40+50 ms; measured from its send it would take about 50 ms.
	r := testLoad(t, context.Background(), addr, loadSpec{conns: 1, maxWorkers: 1, rate: 100, duration: 100 * time.Millisecond, next: next})
	// (On a very slow machine some may miss dispatchGrace: the bound
	// holds for those sent.)
	if r.requests+r.unsent != 10 || r.requests < 2 || r.ok != r.requests || r.workers != 1 {
		t.Fatalf("%d requests, %d unsent, %d ok, %d workers", r.requests, r.unsent, r.ok, r.workers)
	}
	if last := r.lat[len(r.lat)-1]; last < time.Duration(r.requests-1)*(service-10*time.Millisecond)+service {
		t.Fatalf("latencies %v: the last request's wait for its worker is missing", r.lat)
	}
	if r.late == 0 || r.scheduleNote() == "" {
		t.Fatalf("a schedule 9×40 ms behind was not reported: %+v", r)
	}

	// With workers to spare, the generator opens connections to keep the
	// schedule: 20 requests due within 100 ms, each taking 50 ms.
	r = testLoad(t, context.Background(), addr, loadSpec{conns: 1, rate: 200, duration: 100 * time.Millisecond, next: next})
	if r.requests+r.unsent != 20 || r.workers < 2 {
		t.Fatalf("%d requests, %d unsent, %d workers", r.requests, r.unsent, r.workers)
	}
	if r.lat[0] < service {
		t.Fatalf("latency %v shorter than the service time", r.lat[0])
	}
}

func TestLoadHonoursContext(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	addr := strings.TrimPrefix(srv.URL, "http://")
	for _, rate := range []int{0, 1000} {
		t.Run(fmt.Sprint("rate ", rate), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			// Every request hangs for longer than the test may run: only
			// ctx can end this.
			r := testLoad(t, ctx, addr, loadSpec{conns: 4, rate: rate, duration: time.Hour, timeout: time.Hour, maxRequests: 1 << 40,
				next: func(uint64) Request { return Request{Method: "GET", Path: "/"} }})
			if r.requests != 0 {
				t.Fatalf("%d requests cut short by ctx were counted: %q", r.requests, r.errors)
			}
		})
	}
}

func TestQuantile(t *testing.T) {
	lat := make([]time.Duration, 100)
	for i := range lat {
		lat[i] = time.Duration(i + 1)
	}
	for q, want := range map[float64]time.Duration{0.5: 50, 0.99: 99, 1: 100, 0: 1} {
		if got := quantile(lat, q); got != want {
			t.Errorf("q%v = %v, want %v", q, got, want)
		}
	}
	if quantile(nil, 0.5) != 0 {
		t.Error("quantile of nothing")
	}
}

// The per-request path allocates nothing for a successful response: that is
// the point of the generator.
func TestHotPathAllocations(t *testing.T) {
	r := Request{Method: "GET", Path: "/api/posts/feed?page=1&limit=10", Header: jsonHeader("token")}
	buf := appendRequest(nil, "127.0.0.1:1", &r)
	if n := testing.AllocsPerRun(100, func() { buf = appendRequest(buf[:0], "127.0.0.1:1", &r) }); n != 0 {
		t.Errorf("appendRequest: %v allocations", n)
	}
	raw := "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
	sr := strings.NewReader(raw)
	br := bufio.NewReaderSize(sr, readBufferSize)
	if n := testing.AllocsPerRun(100, func() {
		sr.Reset(raw)
		br.Reset(sr)
		for range 2 {
			if _, err := readResponse(br, false); err != nil {
				t.Fatal(err)
			}
		}
	}); n != 0 {
		t.Errorf("readResponse: %v allocations", n)
	}
}
