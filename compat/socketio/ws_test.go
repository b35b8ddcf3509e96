package socketio

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/infliq/infliq/compat/socketio/sioclient"
)

// TestWebsocketTransport: a server-side disconnect delivers what was
// queued before it (the "41" packet, then the close).
func TestWebsocketTransport(t *testing.T) {
	reasons := make(chan string, 4)
	srv := NewServer(Options{
		PingInterval: time.Minute, // no pings interleaved with the packets counted below
		SendQueue:    8,
		OnDisconnect: func(_ *Socket, reason string) { reasons <- reason },
	})
	srv.On("burst-then-boot", func(s *Socket, _ []json.RawMessage, _ AckFunc) {
		for i := range 5 {
			_ = s.Emit("n", i)
		}
		s.Disconnect()
	})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); hs.Close() })

	c, err := sioclient.Dial(hs.URL, "/socket.io/", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Emit(-1, "burst-then-boot"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i := range 5 {
		p, err := c.Read()
		if err != nil || p.Event != "n" || string(p.Args[0]) != strconv.Itoa(i) {
			t.Fatalf("packet %d: %+v %v", i, p, err)
		}
	}
	if p, err := c.Read(); !errors.Is(err, sioclient.ErrDisconnected) {
		t.Fatalf("want the DISCONNECT packet, got %+v %v", p, err)
	}
	if _, err := c.Read(); err == nil {
		t.Fatal("connection still open after the disconnect")
	}
	if r := <-reasons; r != "server namespace disconnect" {
		t.Errorf("reason %q", r)
	}

}

// TestSlowConsumerClosedOthersUnaffected: a client that never reads while
// the server floods it is closed as a slow consumer (counted once), and a
// client on the same server keeps getting its answers meanwhile.
func TestSlowConsumerClosedOthersUnaffected(t *testing.T) {
	reasons := make(chan string, 4)
	srv := NewServer(Options{
		PingInterval: time.Minute,
		SendQueue:    8,
		OnDisconnect: func(_ *Socket, reason string) { reasons <- reason },
	})
	big := strings.Repeat("x", 64<<10)
	flooded := make(chan struct{})
	srv.On("flood", func(s *Socket, _ []json.RawMessage, _ AckFunc) {
		pkt, _ := EncodeEvent("big", big)
		go func() {
			defer close(flooded)
			for range 1_000 { // 64 MB, far beyond the kernel's socket buffers
				s.Send(pkt)
			}
		}()
	})
	srv.On("echo", func(_ *Socket, args []json.RawMessage, ack AckFunc) { ack(args[0]) })
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); hs.Close() })

	fast, err := sioclient.Dial(hs.URL, "/socket.io/", "")
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()
	slow, err := sioclient.Dial(hs.URL, "/socket.io/", "")
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if err := slow.Emit(-1, "flood"); err != nil {
		t.Fatal(err)
	}
	_ = fast.SetReadDeadline(time.Now().Add(30 * time.Second))
	echo := func(i int) {
		t.Helper()
		if err := fast.Emit(i, "echo", i); err != nil {
			t.Fatal(err)
		}
		p, err := fast.Read()
		if err != nil || p.AckID != i || string(p.Args[0]) != strconv.Itoa(i) {
			t.Fatalf("echo %d: %+v %v", i, p, err)
		}
	}
	for i := range 50 { // while the slow one is flooded
		echo(i)
	}
	select {
	case r := <-reasons:
		if r != "send queue overflow" {
			t.Fatalf("reason %q", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a client that reads nothing was never cut off")
	}
	<-flooded
	_ = fast.SetReadDeadline(time.Now().Add(30 * time.Second))
	for i := 50; i < 100; i++ { // and after
		echo(i)
	}
	if _, _, n := srv.WriteStats(); n != 1 {
		t.Fatalf("%d slow-consumer closes; want 1", n)
	}
	select {
	case r := <-reasons:
		t.Fatalf("another socket closed: %q", r)
	default:
	}
}

// TestOverflowCloseCode: the close frame a slow consumer gets says why
// (1008, "send queue overflow"), and the packets that did not fit are
// dropped rather than sent first.
func TestOverflowCloseCode(t *testing.T) {
	srv := NewServer(Options{PingInterval: time.Minute, SendQueue: 8})
	srv.On("nine", func(s *Socket, _ []json.RawMessage, _ AckFunc) {
		s.Batch(func() { // queued together: the ninth overflows the queue
			for i := range 9 {
				_ = s.Emit("n", i)
			}
		})
	})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); hs.Close() })
	c, err := sioclient.Dial(hs.URL, "/socket.io/", "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Emit(-1, "nine"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	p, err := c.Read()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != CloseSlowConsumer || ce.Text != "send queue overflow" {
		t.Fatalf("got %+v %v; want close 1008 send queue overflow", p, err)
	}
	if _, _, n := srv.WriteStats(); n != 1 {
		t.Fatalf("%d slow-consumer closes counted", n)
	}
}
