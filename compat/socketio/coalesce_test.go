package socketio

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/infliq/infliq/compat/socketio/sioclient"
)

// countingConn counts the writes that reach the connection.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	c.n.Add(1)
	return c.Conn.Write(b)
}

// hijackCounter makes the hijacked connection a countingConn.
type hijackCounter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (h hijackCounter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	cc := countingConn{c, h.n}
	rw.Writer.Reset(cc)
	return cc, rw, nil
}

func batchServer(t *testing.T, wrap *atomic.Int64) (*Server, *httptest.Server) {
	srv := NewServer(Options{PingInterval: time.Minute})
	srv.On("five", func(s *Socket, _ []json.RawMessage, ack AckFunc) {
		s.Batch(func() {
			for i := range 5 {
				_ = s.Emit("n", i)
			}
			ack("done")
		})
	})
	srv.On("five-apart", func(s *Socket, _ []json.RawMessage, ack AckFunc) {
		for i := range 5 {
			_ = s.Emit("n", i)
		}
		ack("done")
	})
	var h http.Handler = srv
	if wrap != nil {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { srv.ServeHTTP(hijackCounter{w, wrap}, r) })
	}
	hs := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); hs.Close() })
	return srv, hs
}

func readFiveAndAck(t *testing.T, c *sioclient.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i := range 5 {
		p, err := c.Read()
		if err != nil || p.Event != "n" || string(p.Args[0]) != strconv.Itoa(i) {
			t.Fatalf("packet %d: %+v %v", i, p, err)
		}
	}
	if p, err := c.Read(); err != nil || p.Event != "" || string(p.Args[0]) != `"done"` {
		t.Fatalf("ack: %+v %v", p, err)
	}
}

// TestBatchLeavesInOneWrite: the packets a handler sends inside Batch (five
// events and the ack) reach the socket in one write syscall, counted by the
// server on a real TCP socket; sent one by one to an idle socket, each is
// its own write.
func TestBatchLeavesInOneWrite(t *testing.T) {
	srv, hs := batchServer(t, nil)
	c, err := sioclient.Dial(hs.URL, "/socket.io/", "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w0, p0, _ := srv.WriteStats()
	if err := c.Emit(1, "five"); err != nil {
		t.Fatal(err)
	}
	readFiveAndAck(t, c)
	w1, p1, _ := srv.WriteStats()
	if w1-w0 != 1 || p1-p0 != 6 {
		t.Fatalf("batched: %d writes for %d packets; want 1 for 6", w1-w0, p1-p0)
	}
	if err := c.Emit(2, "five-apart"); err != nil {
		t.Fatal(err)
	}
	readFiveAndAck(t, c)
	w2, p2, _ := srv.WriteStats()
	if p2-p1 != 6 || w2-w1 < 1 || w2-w1 > 6 {
		t.Fatalf("unbatched: %d writes for %d packets", w2-w1, p2-p1)
	}
}

// TestBatchOverPlainConn: the same through a connection without a file
// descriptor (blocking writes), counted by a net.Conn wrapper: the six
// packets are one Write.
func TestBatchOverPlainConn(t *testing.T) {
	var n atomic.Int64
	_, hs := batchServer(t, &n)
	c, err := sioclient.Dial(hs.URL, "/socket.io/", "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	before := n.Load()
	if err := c.Emit(1, "five"); err != nil {
		t.Fatal(err)
	}
	readFiveAndAck(t, c)
	if got := n.Load() - before; got != 1 {
		t.Fatalf("%d writes for a batch of six packets; want 1", got)
	}
}
