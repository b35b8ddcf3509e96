package socketio

import (
	"bufio"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"github.com/olahol/melody"
)

// Per-connection memory is what limits how many idle sockets one process
// holds, and write syscalls are most of a delivered message's cost, so the
// websocket transport is built for idle connections and batched writes:
//   - the HTTP handler returns right after the upgrade, so net/http drops
//     the hijacked connection's 4 KiB reader and writer, the request and the
//     handler goroutine; one read goroutine, started fresh with a small
//     stack, is all an idle socket keeps;
//   - reads go through a small per-connection buffer (gorilla/websocket
//     reads larger frames in pieces);
//   - writes have no goroutine of their own: whoever queues a packet on an
//     idle socket writes the whole queue at once, framed into one pooled
//     buffer, with one non-blocking write syscall. Packets queued while a
//     write is under way leave together with the next one, and Batch holds
//     a socket's packets back until the caller has queued them all (an ack
//     and the sender's echo: one syscall). Only when the kernel's send
//     buffer is full does a goroutine take over the rest, blocking with a
//     deadline, until the queue is empty;
//   - the queue is bounded: a client that falls further behind is closed
//     with CloseSlowConsumer (and counted), never buffered without end.
//
// Liveness is Engine.IO's ping/pong (a socket that misses a pong is closed,
// which ends the read), so there are no websocket-level pings or read
// deadlines. gorilla/websocket does the upgrade and the reads; the server's
// frames (unmasked, never fragmented) are written here, and the client's
// pings and close frames are answered through the same queue, so nothing
// else ever writes to the connection.
const (
	wsReadBuffer = 512 // larger reads bypass it
	wsWriteWait  = 10 * time.Second
	wsCloseWait  = time.Second
)

// CloseSlowConsumer is the websocket close code (RFC 6455 "policy
// violation") sent to a client whose send queue overflowed; the reason
// text is "send queue overflow".
const CloseSlowConsumer = websocket.ClosePolicyViolation

var wsBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

var errSendQueueFull = errors.New("socketio: send queue full")

const (
	opText  = websocket.TextMessage
	opClose = websocket.CloseMessage
	opPong  = websocket.PongMessage
)

type frame struct {
	op byte
	p  []byte
}

// wsStats counts a server's websocket writes (one per write syscall) and
// the frames they carried.
type wsStats struct {
	writes, frames, slowClosed atomic.Uint64
}

// wsConn is one websocket transport of a Socket.
type wsConn struct {
	so    *Socket
	c     *websocket.Conn
	br    *bufio.Reader // c's reader (nil: unknown)
	nc    net.Conn
	raw   syscall.RawConn // nil when nc has no file descriptor: writes block
	max   int             // queued packets beyond which the client is too slow
	stats *wsStats
	ms    *melody.Session // the melody transport (ws_melody.go) instead of c
	full  atomic.Bool     // melody dropped a packet

	mu      sync.Mutex
	queue   []frame
	corked  int  // Batch calls under way: hold the queue
	writing bool // a goroutine owns nc's write side
	closing bool // close after the queue drains
	closed  bool // the close frame went out (or the connection failed)
	code    int
	reason  string
}

func newUpgrader(checkOrigin func(*http.Request) bool) *websocket.Upgrader {
	return &websocket.Upgrader{
		// 0: gorilla reads through the reader ownReader hands it at the
		// hijack (wsReadBuffer bytes), so the read loop sees what is
		// buffered.
		ReadBufferSize: 0,
		// Frames are written by wsConn, never through gorilla's writer:
		// with a pool set, gorilla allocates no write buffer at all.
		WriteBufferSize: 256,
		WriteBufferPool: &sync.Pool{},
		CheckOrigin:     checkOrigin,
	}
}

// ownReader gives gorilla/websocket a reader of ours at the hijack.
type ownReader struct {
	http.ResponseWriter
	br *bufio.Reader
}

func (o *ownReader) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(o.ResponseWriter).Hijack()
	if err != nil || rw.Reader.Buffered() > 0 { // the latter is refused by gorilla
		return c, rw, err
	}
	o.br = bufio.NewReaderSize(c, wsReadBuffer)
	return c, bufio.NewReadWriter(o.br, rw.Writer), nil
}

// upgrade upgrades the request; the HTTP handler returns right after.
func (s *Server) upgrade(w http.ResponseWriter, r *http.Request) (*websocket.Conn, *bufio.Reader, error) {
	o := &ownReader{ResponseWriter: w}
	c, err := s.up.Upgrade(o, r, nil)
	return c, o.br, err
}

func newWSConn(so *Socket, c *websocket.Conn, br *bufio.Reader, max int, stats *wsStats) *wsConn {
	w := &wsConn{so: so, c: c, br: br, nc: c.NetConn(), max: max, stats: stats}
	if sc, ok := w.nc.(syscall.Conn); ok && canRawWrite {
		w.raw, _ = sc.SyscallConn()
	}
	return w
}

// takeLocked makes the caller the writer when nobody writes and nothing
// holds the queue back.
func (w *wsConn) takeLocked() bool {
	if w.writing || w.corked > 0 || (len(w.queue) == 0 && !(w.closing && !w.closed)) {
		return false
	}
	w.writing = true
	return true
}

// write queues a text message and, unless a write is under way, writes
// the queue. It never blocks on the client: a socket whose queue is full
// is closed with CloseSlowConsumer and errSendQueueFull tells the caller.
func (w *wsConn) write(pkt []byte) error {
	if w.ms != nil {
		return w.melodyWrite(pkt)
	}
	w.mu.Lock()
	if w.closed || w.closing {
		w.mu.Unlock()
		return nil
	}
	if len(w.queue) >= w.max {
		w.queue = nil
		w.closing, w.code, w.reason = true, CloseSlowConsumer, "send queue overflow"
		start := w.takeLocked()
		w.mu.Unlock()
		w.stats.slowClosed.Add(1)
		if start {
			w.flush(false)
		} else {
			// A blocked writer gives up sooner.
			_ = w.nc.SetWriteDeadline(time.Now().Add(wsCloseWait))
		}
		return errSendQueueFull
	}
	w.queue = append(w.queue, frame{opText, pkt})
	start := w.takeLocked()
	w.mu.Unlock()
	if start {
		w.flush(false)
	}
	return nil
}

// control queues a pong (the client's websocket ping is answered in
// order with the packets).
func (w *wsConn) control(op byte, p []byte) {
	w.mu.Lock()
	if w.closed || w.closing {
		w.mu.Unlock()
		return
	}
	w.queue = append(w.queue, frame{op, p})
	start := w.takeLocked()
	w.mu.Unlock()
	if start {
		w.flush(false)
	}
}

// cork holds the queue until uncork (Socket.Batch).
func (w *wsConn) cork() {
	if w.ms != nil {
		return
	}
	w.mu.Lock()
	w.corked++
	w.mu.Unlock()
}

func (w *wsConn) uncork() {
	if w.ms != nil {
		return
	}
	w.mu.Lock()
	w.corked--
	start := w.takeLocked()
	w.mu.Unlock()
	if start {
		w.flush(false)
	}
}

// close sends what is queued, then a normal close frame, then closes the
// connection (which ends the read goroutine).
func (w *wsConn) close() { w.closeWith(websocket.CloseNormalClosure, "") }

func (w *wsConn) closeWith(code int, reason string) {
	if w.ms != nil {
		_ = w.ms.CloseWithMsg(closePayload(code, reason))
		return
	}
	w.mu.Lock()
	if w.closed || w.closing {
		w.mu.Unlock()
		return
	}
	w.closing, w.code, w.reason = true, code, reason
	start := w.takeLocked()
	w.mu.Unlock()
	if start {
		w.flush(false)
	}
}

// appendFrame appends one unmasked, unfragmented server frame.
func appendFrame(b []byte, op byte, p []byte) []byte {
	b = append(b, 0x80|op)
	switch n := len(p); {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, p...)
}

func closePayload(code int, reason string) []byte {
	if code == websocket.CloseNoStatusReceived {
		return nil
	}
	return websocket.FormatCloseMessage(code, reason)
}

// flush is run by the writer: it writes the queue, as one buffer, until
// the queue is empty, then gives the write side up. With blocking false it
// runs on the caller's goroutine and only writes what the kernel takes at
// once; the rest goes to a goroutine that may block.
func (w *wsConn) flush(blocking bool) {
	bp := wsBufPool.Get().(*[]byte)
	for {
		w.mu.Lock()
		q := w.queue
		w.queue = nil
		final := w.closing && !w.closed // nothing is queued after closing
		if final {
			w.closed = true
		}
		if len(q) == 0 && !final {
			w.writing = false
			w.mu.Unlock()
			break
		}
		code, reason := w.code, w.reason
		w.mu.Unlock()

		b := (*bp)[:0]
		for _, f := range q {
			b = appendFrame(b, f.op, f.p)
		}
		if final {
			b = appendFrame(b, opClose, closePayload(code, reason))
		}
		*bp = b
		// Counted before the write: a client that has the bytes sees
		// them counted.
		w.stats.frames.Add(uint64(len(q)))
		if !blocking && w.raw != nil {
			w.stats.writes.Add(1)
			n, wouldBlock, err := rawWrite(w.raw, b)
			if err != nil {
				w.abort()
				break
			}
			if wouldBlock {
				go w.drain(bp, n, final)
				return
			}
		} else if err := w.writeBlocking(b, final); err != nil {
			w.abort()
			break
		}
		if final {
			_ = w.nc.Close()
			break
		}
	}
	if cap(*bp) <= 64<<10 { // keep huge buffers out of the pool
		wsBufPool.Put(bp)
	}
}

// drain finishes a write the kernel could not take at once, then keeps
// writing (blocking) until the queue is empty.
func (w *wsConn) drain(bp *[]byte, n int, final bool) {
	if err := w.writeBlocking((*bp)[n:], final); err != nil {
		w.abort()
		wsBufPool.Put(bp)
		return
	}
	if final {
		_ = w.nc.Close()
		wsBufPool.Put(bp)
		return
	}
	wsBufPool.Put(bp)
	w.flush(true)
	// Back to non-blocking writes: no deadline may linger.
	_ = w.nc.SetWriteDeadline(time.Time{})
}

func (w *wsConn) writeBlocking(b []byte, final bool) error {
	wait := wsWriteWait
	if final {
		wait = wsCloseWait
	}
	_ = w.nc.SetWriteDeadline(time.Now().Add(wait))
	w.stats.writes.Add(1)
	_, err := w.nc.Write(b)
	return err
}

// abort closes the connection at once, dropping what is queued.
func (w *wsConn) abort() {
	w.mu.Lock()
	w.closed, w.closing, w.writing, w.queue = true, true, false, nil
	w.mu.Unlock()
	_ = w.nc.Close()
}

// readOne reads and handles one message; false when the connection failed.
func (w *wsConn) readOne(s *Server) bool {
	t, msg, err := w.c.ReadMessage()
	if err != nil {
		return false
	}
	if t == websocket.TextMessage {
		s.wsMessage(w, msg)
	}
	return true
}

// readBuffered handles messages until none is buffered, then reports
// whether the connection is still good.
func (w *wsConn) readBuffered(s *Server, done chan<- bool) {
	for {
		if !w.readOne(s) {
			done <- false
			return
		}
		if w.br.Buffered() == 0 {
			done <- true
			return
		}
	}
}

// burst is one socket's buffered data to read and handle on a worker.
type burst struct {
	w    *wsConn
	done chan<- bool
}

// burstPool runs the sockets' read bursts on long-lived worker goroutines.
// A fresh goroutine per burst started with a minimal stack and grew it
// (copying it several times) on every message: about a tenth of the
// realtime tier's CPU. Workers keep their grown stacks between bursts;
// there are only as many as bursts run at once (handlers wait for their
// RPCs). At most maxIdleWorkers wait for work, each for burstIdle: after a
// connect storm (every CONNECT waits for its authentication) the surplus
// exits at once instead of holding its stack.
type burstPool struct {
	jobs chan burst // unbuffered: a send succeeds only if a worker waits
	idle atomic.Int32
}

const (
	burstIdle      = 5 * time.Second
	maxIdleWorkers = 128
)

func newBurstPool() *burstPool { return &burstPool{jobs: make(chan burst)} }

// run hands b to an idle worker, or starts one.
func (p *burstPool) run(s *Server, b burst) {
	select {
	case p.jobs <- b:
	default:
		go p.work(s, b)
	}
}

func (p *burstPool) work(s *Server, b burst) {
	var idle *time.Timer
	defer func() {
		if idle != nil {
			idle.Stop()
		}
	}()
	for {
		b.w.readBuffered(s, b.done)
		if p.idle.Add(1) > maxIdleWorkers {
			p.idle.Add(-1)
			return
		}
		if idle == nil {
			idle = time.NewTimer(burstIdle)
		} else {
			idle.Reset(burstIdle)
		}
		select {
		case b = <-p.jobs:
			p.idle.Add(-1)
		case <-idle.C:
			p.idle.Add(-1)
			return
		}
	}
}

// read is the connection's read goroutine; it returns when the connection
// fails or is closed, and reports the transport gone.
func (w *wsConn) read(s *Server) {
	w.c.SetReadLimit(s.o.MaxPayload)
	w.c.SetPingHandler(func(data string) error {
		w.control(opPong, []byte(data))
		return nil
	})
	w.c.SetCloseHandler(func(code int, _ string) error {
		w.closeWith(code, "") // echo the client's close
		return nil
	})
	if w.br != nil {
		// Idle, this goroutine only waits for data, a few frames deep
		// (inside the buffer's fill), so its stack stays at the minimum;
		// reading frames and handling them (deep stacks: the websocket
		// reader, handlers and their RPCs) run on a pooled worker per
		// burst of data, waited for so events stay in order. Waiting by
		// filling the buffer costs one read syscall per burst (after the
		// kernel's EAGAIN), where peeking first cost two.
		done := make(chan bool)
		for {
			if _, err := w.br.Peek(1); err != nil {
				break
			}
			s.bursts.run(s, burst{w, done})
			if !<-done {
				break
			}
		}
	} else {
		for w.readOne(s) {
		}
	}
	w.mu.Lock()
	graceful := w.closing && !w.closed || w.writing
	w.mu.Unlock()
	if !graceful { // the writer closes the connection once the close frame is out
		w.abort()
	}
	s.wsDisconnect(w)
}
