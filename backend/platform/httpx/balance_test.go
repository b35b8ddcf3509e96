package httpx

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestBalancerSpreadsAndSkipsDeadReplicas: requests to a listed tier reach
// every live replica; a replica refusing connections costs no request, and a
// POST refused at dial reaches the next replica with its body whole.
func TestBalancerSpreadsAndSkipsDeadReplicas(t *testing.T) {
	var mu sync.Mutex
	hits := map[string]int{}
	serve := func(name string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			hits[name]++
			mu.Unlock()
			_, _ = w.Write(append([]byte(name+":"), b...))
		}))
	}
	a, b := serve("a"), serve("b")
	defer a.Close()
	defer b.Close()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + l.Addr().String()
	l.Close() // nothing listens there now
	list := dead + "," + a.URL + ", " + b.URL
	if FirstURL(list) != dead || len(SplitURLs(list)) != 3 {
		t.Fatal(SplitURLs(list))
	}
	c := &http.Client{Transport: NewBalancer(NewTransport(), list)}
	var wg sync.WaitGroup
	var failures sync.Map
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := strings.Repeat("x", 1000+i)
			res, err := c.Post(FirstURL(list)+"/echo", "text/plain", strings.NewReader(body))
			if err != nil {
				failures.Store(i, err.Error())
				return
			}
			got, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if _, rest, _ := strings.Cut(string(got), ":"); rest != body {
				failures.Store(i, "body lost")
			}
		}()
	}
	wg.Wait()
	failures.Range(func(k, v any) bool { t.Errorf("request %v: %v", k, v); return true })
	if hits["a"] == 0 || hits["b"] == 0 || hits["a"]+hits["b"] != 60 {
		t.Fatalf("hits %v", hits)
	}
	// A single URL is not balanced: the request goes where it says.
	if _, err := (&http.Client{Transport: NewBalancer(NewTransport(), dead)}).Get(dead); err == nil {
		t.Fatal("single dead URL answered")
	}
}

// TestBalancerResendsIdempotentCallsAReplicaDropped: a replica that closes
// the connection without answering (a rolling restart) costs an idempotent
// call with a replayable body nothing: it goes to the other replica. A
// plain POST is not resent: the dropped replica may have acted on it.
func TestBalancerResendsIdempotentCallsAReplicaDropped(t *testing.T) {
	var mu sync.Mutex
	hits := map[string]int{}
	drop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		mu.Lock()
		hits["drop"]++
		mu.Unlock()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer drop.Close()
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		hits["ok"]++
		mu.Unlock()
		_, _ = w.Write(b)
	}))
	defer ok.Close()
	list := drop.URL + "," + ok.URL
	c := &http.Client{Transport: NewBalancer(NewTransport(), list)}
	post := func(idem bool) (string, error) {
		req, _ := http.NewRequest(http.MethodPost, FirstURL(list)+"/rpc", strings.NewReader("payload"))
		if idem {
			req.Header.Set(IdempotencyKeyHeader, "get")
		}
		res, err := c.Do(req)
		if err != nil {
			return "", err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b), nil
	}
	for range 10 {
		if got, err := post(true); err != nil || got != "payload" {
			t.Fatalf("idempotent call: %q %v", got, err)
		}
	}
	failed := 0
	for range 10 {
		if _, err := post(false); err != nil {
			failed++
		}
	}
	mu.Lock()
	dropped := hits["drop"]
	mu.Unlock()
	if failed == 0 || dropped == 0 {
		t.Fatalf("plain POSTs: %d failed, dropping replica hit %d times", failed, dropped)
	}
}
