package httpx

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func localClient(t *testing.T, h http.Handler) *http.Client {
	t.Helper()
	l := NewLocal()
	l.Register("tier.local:4001", h)
	return &http.Client{Transport: l.Transport(http.DefaultTransport)}
}

func TestLocalUnary(t *testing.T) {
	var seen *http.Request
	c := localClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r
		r.Header.Set("X-Edited", "by handler")
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", "6")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(strings.ToUpper(string(b))))
	}))
	req, _ := http.NewRequest("POST", "http://tier.local:4001/svc/Method?x=1", strings.NewReader("abcdef"))
	req.Header.Set("X-In", "1")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 201 || res.Status != "201 Created" || string(body) != "ABCDEF" || res.ContentLength != 6 {
		t.Fatalf("got %d %q %q len %d", res.StatusCode, res.Status, body, res.ContentLength)
	}
	if res.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("headers %v", res.Header)
	}
	if seen.RequestURI != "/svc/Method?x=1" || seen.Host != "tier.local:4001" || seen.RemoteAddr != localAddr ||
		seen.Header.Get("X-In") != "1" || seen.ContentLength != 6 || seen.ProtoMajor != 1 {
		t.Fatalf("handler saw %q host %q remote %q len %d", seen.RequestURI, seen.Host, seen.RemoteAddr, seen.ContentLength)
	}
	if req.Header.Get("X-Edited") != "" {
		t.Fatal("the handler edited the caller's request headers")
	}
}

func TestLocalNoBodyAndDefaultStatus(t *testing.T) {
	c := localClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.ContentLength != 0 {
			t.Errorf("body %v length %d", r.Body, r.ContentLength)
		}
	}))
	res, err := c.Get("http://tier.local:4001/health")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || len(b) != 0 {
		t.Fatalf("got %d %q", res.StatusCode, b)
	}
}

// A server stream reaches the caller message by message, before the
// handler has finished.
func TestLocalStreams(t *testing.T) {
	next := make(chan struct{})
	c := localClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-next
		_, _ = io.WriteString(w, "second\n")
	}))
	res, err := c.Get("http://tier.local:4001/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	if l, _ := br.ReadString('\n'); l != "first\n" {
		t.Fatalf("first line %q", l)
	}
	close(next)
	if l, _ := br.ReadString('\n'); l != "second\n" {
		t.Fatalf("second line %q", l)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("after the stream: %v", err)
	}
}

func TestLocalTrailers(t *testing.T) {
	c := localClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		_, _ = io.WriteString(w, "data")
		w.Header().Set("X-Sum", "42")
		w.Header().Set(http.TrailerPrefix+"Grpc-Status", "0")
	}))
	res, err := c.Get("http://tier.local:4001/t")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.Trailer.Get("X-Sum") != "42" || res.Trailer.Get("Grpc-Status") != "0" {
		t.Fatalf("trailers %v", res.Trailer)
	}
}

// A panicking handler breaks its response, as a dropped connection would,
// instead of crashing the process.
func TestLocalPanic(t *testing.T) {
	c := localClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "partial")
		panic("boom")
	}))
	res, err := c.Get("http://tier.local:4001/p")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(res.Body)
	res.Body.Close()
	if !errors.Is(err, errAborted) {
		t.Fatalf("body error %v", err)
	}
	c = localClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) }))
	res, err = c.Get("http://tier.local:4001/p")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 500 || !errors.Is(err, errAborted) {
		t.Fatalf("got %d, body error %v", res.StatusCode, err)
	}
}

// A caller that gives up before the header gets its context's error, and
// the handler sees the cancellation.
func TestLocalCancel(t *testing.T) {
	ended := make(chan error, 1)
	c := localClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		ended <- r.Context().Err()
		_, _ = io.WriteString(w, "late") // the caller has gone: must not block
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://tier.local:4001/slow", nil)
	if _, err := c.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	if err := <-ended; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("handler saw %v", err)
	}
}

// Hosts that are not registered go over the network.
func TestLocalFallsThrough(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "remote")
	}))
	defer srv.Close()
	c := localClient(t, http.NotFoundHandler())
	res, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(b) != "remote" {
		t.Fatalf("got %q", b)
	}
	var nilLocal *Local
	if nilLocal.Handler("x") != nil || nilLocal.Transport(http.DefaultTransport) != http.DefaultTransport {
		t.Fatal("a nil registry must serve nothing in process")
	}
}

// A large body streams through whole, in order.
func TestLocalLargeBodyStreams(t *testing.T) {
	chunk := strings.Repeat("x", 64<<10)
	n := 20
	c := localClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < n; i++ {
			if _, err := io.WriteString(w, chunk); err != nil {
				t.Errorf("write %d: %v", i, err)
				return
			}
		}
	}))
	res, err := c.Get("http://tier.local:4001/big")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if err != nil || got != int64(n*len(chunk)) || res.ContentLength != -1 {
		t.Fatalf("read %d of %d bytes (length %d): %v", got, n*len(chunk), res.ContentLength, err)
	}
}

// Connect unary calls run on the caller's goroutine into a pooled buffer;
// the reply, its header as of WriteHeader and its trailers arrive whole.
func TestLocalConnectUnary(t *testing.T) {
	c := localClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/proto")
		w.Header().Set("Trailer", "X-Sum")
		w.WriteHeader(http.StatusTeapot)
		w.Header().Set("X-After", "ignored") // as in net/http: too late for the header
		_, _ = w.Write(b)
		_, _ = w.Write([]byte("!"))
		w.Header().Set("X-Sum", "7")
		w.Header().Set(http.TrailerPrefix+"Extra", "1")
	}))
	call := func(body string) *http.Response {
		req, _ := http.NewRequest("POST", "http://tier.local:4001/svc/M", strings.NewReader(body))
		req.Header.Set("Connect-Protocol-Version", "1")
		req.Header.Set("Content-Type", "application/proto")
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for _, body := range []string{"first", "second, longer reply"} { // the second reuses the pooled buffer
		res := call(body)
		if _, ok := res.Body.(*pooledBody); !ok {
			t.Fatalf("body %T: the unary call did not take the buffered path", res.Body)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 418 || string(b) != body+"!" || res.ContentLength != int64(len(body)+1) ||
			res.Header.Get("X-After") != "" || res.Trailer.Get("X-Sum") != "7" || res.Trailer.Get("Extra") != "1" {
			t.Fatalf("got %d %q len %d, header %v, trailer %v", res.StatusCode, b, res.ContentLength, res.Header, res.Trailer)
		}
		if n, err := res.Body.Read(make([]byte, 1)); n != 0 || err == nil {
			t.Fatal("read after close succeeded")
		}
	}
	// A panicking unary handler fails the call instead of the process.
	c = localClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom") }))
	req, _ := http.NewRequest("POST", "http://tier.local:4001/svc/M", strings.NewReader("x"))
	req.Header.Set("Connect-Protocol-Version", "1")
	if _, err := c.Do(req); !errors.Is(err, errAborted) {
		t.Fatalf("panic: %v", err)
	}
	// Connect streams still stream.
	req, _ = http.NewRequest("POST", "http://tier.local:4001/svc/S", strings.NewReader("x"))
	req.Header.Set("Connect-Protocol-Version", "1")
	req.Header.Set("Content-Type", "application/connect+proto")
	if unaryConnect(req) {
		t.Fatal("a Connect stream was taken for a unary call")
	}
}
