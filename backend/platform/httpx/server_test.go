package httpx

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/infliq/infliq/backend/platform/logx"
)

// TestDrainsInFlightAndEndsStreams: on shutdown a slow unary request still
// completes, while a long-lived stream sees its context cancelled.
func TestDrainsInFlightAndEndsStreams(t *testing.T) {
	streamEnded := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		// An in-flight unary call finishes with its context intact (a
		// database query on a cancelled context would fail it).
		select {
		case <-time.After(300 * time.Millisecond):
			_, _ = w.Write([]byte("done"))
		case <-r.Context().Done():
			_, _ = w.Write([]byte("cancelled"))
		}
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		close(streamEnded)
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- NewServer(mux, logx.Discard()).Serve(ctx, l, 5*time.Second) }()
	base := "http://" + l.Addr().String()

	res, err := http.Get(base + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	slow := make(chan string, 1)
	go func() {
		r, err := http.Get(base + "/slow")
		if err != nil {
			slow <- err.Error()
			return
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		slow <- string(b)
	}()
	time.Sleep(100 * time.Millisecond) // the slow request is in flight
	cancel()
	if got := <-slow; got != "done" {
		t.Fatalf("in-flight request was not drained: %q", got)
	}
	select {
	case <-streamEnded:
	case <-time.After(5 * time.Second):
		t.Fatal("stream context was not cancelled on shutdown")
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}

func TestRequestIDMiddleware(t *testing.T) {
	var seen string
	h := RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = logx.RequestID(r.Context()) }))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set(RequestIDHeader, "abc-123")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if seen != "abc-123" || rec.Header().Get(RequestIDHeader) != "abc-123" {
		t.Fatalf("kept id: %q %q", seen, rec.Header().Get(RequestIDHeader))
	}
}

func TestRecoverWritesJSON500(t *testing.T) {
	h := Recover(logx.Discard(), http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), `"code":"INTERNAL_ERROR"`) || strings.Contains(rec.Body.String(), "boom") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

func FuzzSaneRequestID(f *testing.F) {
	f.Add("smoke-1")
	f.Add("a b")
	f.Add(strings.Repeat("x", 200))
	f.Fuzz(func(t *testing.T, s string) {
		if SaneRequestID(s) {
			if len(s) > 128 || strings.ContainsAny(s, " \t\r\n") {
				t.Fatalf("accepted %q", s)
			}
		}
	})
}

func FuzzEdgeClientIP(f *testing.F) {
	f.Add("10.0.0.1:80", "1.2.3.4, 5.6.7.8")
	f.Add("[::1]:1", "garbage,,")
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", xff)
		_ = EdgeClientIP(r, func(a netip.Addr) bool { return a.IsPrivate() || a.IsLoopback() })
		_ = ServiceClientIP(r)
	})
}
