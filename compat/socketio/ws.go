package socketio

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Per-connection memory is what limits how many idle sockets one process
// holds, so the websocket transport is built for idle connections:
//   - the HTTP handler returns right after the upgrade, so net/http drops
//     the hijacked connection's 4 KiB reader and writer, the request and the
//     handler goroutine; one read goroutine, started fresh with a small
//     stack, is all an idle socket keeps;
//   - reads go through a small per-connection buffer (frames larger than it
//     are read in pieces);
//   - writes borrow a pooled buffer only while writing, and run on a writer
//     goroutine that exists only while packets are queued, so an idle
//     socket has no write buffer, no writer goroutine and no ticker.
//
// Liveness is Engine.IO's ping/pong (a socket that misses a pong is closed,
// which ends the read), so there are no websocket-level pings or read
// deadlines.
const (
	wsReadBuffer  = 1024
	wsWriteBuffer = 4096
	wsWriteWait   = 10 * time.Second
)

var wsWritePool = &sync.Pool{}

var errSendQueueFull = errors.New("socketio: send queue full")

// wsConn is one websocket transport of a Socket.
type wsConn struct {
	so  *Socket
	c   *websocket.Conn
	max int // queued packets beyond which the client is too slow

	mu      sync.Mutex
	queue   [][]byte
	writing bool // a writer goroutine owns c's write side
	closing bool // close after the queue drains
	closed  bool
}

func newUpgrader(checkOrigin func(*http.Request) bool) *websocket.Upgrader {
	return &websocket.Upgrader{
		ReadBufferSize:  wsReadBuffer,
		WriteBufferSize: wsWriteBuffer,
		WriteBufferPool: wsWritePool,
		CheckOrigin:     checkOrigin,
	}
}

// write queues a text message. It never blocks: a socket whose queue is
// full is too slow and errSendQueueFull tells the caller to drop it.
func (w *wsConn) write(pkt []byte) error {
	w.mu.Lock()
	if w.closed || w.closing {
		w.mu.Unlock()
		return nil
	}
	if len(w.queue) >= w.max {
		w.mu.Unlock()
		return errSendQueueFull
	}
	w.queue = append(w.queue, pkt)
	start := !w.writing
	w.writing = true
	w.mu.Unlock()
	if start {
		go w.flush()
	}
	return nil
}

// close sends what is queued, then a close frame, then closes the
// connection (which ends the read goroutine).
func (w *wsConn) close() {
	w.mu.Lock()
	if w.closed || w.closing {
		w.mu.Unlock()
		return
	}
	w.closing = true
	start := !w.writing
	w.writing = true
	w.mu.Unlock()
	if start {
		go w.flush()
	}
}

// flush is the writer goroutine: it drains the queue and exits.
func (w *wsConn) flush() {
	for {
		w.mu.Lock()
		q := w.queue
		w.queue = nil
		if len(q) == 0 {
			closing := w.closing && !w.closed
			if closing {
				w.closed = true
			}
			w.writing = false
			w.mu.Unlock()
			if closing {
				_ = w.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
				_ = w.c.Close()
			}
			return
		}
		w.mu.Unlock()
		for i, p := range q {
			_ = w.c.SetWriteDeadline(time.Now().Add(wsWriteWait))
			if err := w.c.WriteMessage(websocket.TextMessage, p); err != nil {
				w.abort()
				return
			}
			q[i] = nil
		}
	}
}

// abort closes the connection at once, dropping what is queued.
func (w *wsConn) abort() {
	w.mu.Lock()
	w.closed, w.closing, w.writing, w.queue = true, true, false, nil
	w.mu.Unlock()
	_ = w.c.Close()
}

// read is the connection's read goroutine; it returns when the connection
// fails or is closed, and reports the transport gone.
func (w *wsConn) read(s *Server) {
	w.c.SetReadLimit(s.o.MaxPayload)
	for {
		t, msg, err := w.c.ReadMessage()
		if err != nil {
			break
		}
		if t == websocket.TextMessage {
			s.wsMessage(w, msg)
		}
	}
	w.abort()
	s.wsDisconnect(w)
}
