package socketio

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/olahol/melody"
)

// Options configure a Server. Zero values take the socket.io defaults.
type Options struct {
	PingInterval time.Duration // 25s
	PingTimeout  time.Duration // 20s
	// MaxPayload bounds one websocket message and one polling POST body.
	MaxPayload int64 // 1e6
	// ConnectTimeout closes an engine that never completes a Socket.IO CONNECT.
	ConnectTimeout time.Duration // 45s
	// SendQueue is the number of outgoing websocket messages queued per
	// socket; a socket that falls further behind is disconnected. The
	// queue takes no memory while empty.
	SendQueue int // 64
	// CheckOrigin decides websocket upgrades; nil accepts requests without
	// an Origin header only.
	CheckOrigin func(*http.Request) bool
	// Authenticate checks the CONNECT auth payload (nil when absent) and
	// returns what Socket.Data will hold. Its error text is sent to the
	// client as the connect_error message.
	Authenticate func(ctx context.Context, auth json.RawMessage) (any, error)
	// OnConnect runs after a Socket.IO CONNECT succeeded, before the client
	// is told; it must not emit (nothing would reach the client before the
	// CONNECT answer).
	OnConnect func(*Socket)
	// Transport is the websocket session layer: "" or "native" (ws.go) or
	// "melody" (ws_melody.go).
	Transport string
	// MaxSessions caps open engine sessions (0: no cap). A handshake beyond
	// it is answered 503 with Retry-After before any upgrade, so the
	// process never runs out of file descriptors (an accept that fails with
	// EMFILE leaves the client hanging and starves the tier's own
	// connections to Redis and PostgreSQL).
	MaxSessions int
	// OnDisconnect runs once when a connected socket goes away.
	OnDisconnect func(*Socket, string)
	Log          *slog.Logger
}

// AckFunc answers a client's event; it is nil when the client asked for no
// ack. Calling it more than once sends only the first answer.
type AckFunc func(args ...any)

// Handler handles one client event. It runs on the socket's read goroutine,
// so events of one socket are handled in order.
type Handler func(s *Socket, args []json.RawMessage, ack AckFunc)

// Server is an Engine.IO/Socket.IO endpoint; mount it on /socket.io/.
type Server struct {
	o        Options
	up       *websocket.Upgrader
	handlers map[string]Handler

	mel *melody.Melody // nil: the native transport

	mu       sync.Mutex
	sessions map[string]*Socket
	closed   bool

	ws      wsStats
	bursts  *burstPool
	refused atomic.Uint64 // handshakes refused at MaxSessions
}

// Refused is the number of handshakes refused because MaxSessions were open.
func (s *Server) Refused() uint64 { return s.refused.Load() }

// WriteStats are the websocket write syscalls so far, the packets they
// carried and the sockets closed as slow consumers.
func (s *Server) WriteStats() (writes, packets, slowClosed uint64) {
	return s.ws.writes.Load(), s.ws.frames.Load(), s.ws.slowClosed.Load()
}

const maxPollQueue = 1024

// NewServer returns a server; register handlers with On before serving.
func NewServer(o Options) *Server {
	if o.PingInterval <= 0 {
		o.PingInterval = 25 * time.Second
	}
	if o.PingTimeout <= 0 {
		o.PingTimeout = 20 * time.Second
	}
	if o.MaxPayload <= 0 {
		o.MaxPayload = 1_000_000
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 45 * time.Second
	}
	if o.SendQueue <= 0 {
		o.SendQueue = 64
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.CheckOrigin == nil {
		o.CheckOrigin = func(r *http.Request) bool { return r.Header.Get("Origin") == "" }
	}
	s := &Server{o: o, up: newUpgrader(o.CheckOrigin), handlers: map[string]Handler{}, sessions: map[string]*Socket{}, bursts: newBurstPool()}
	if o.Transport == "melody" {
		s.mel = s.newMelody()
	}
	return s
}

// On registers the handler of a client event.
func (s *Server) On(event string, h Handler) { s.handlers[event] = h }

// Len is the number of open engine sessions.
func (s *Server) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Close disconnects every socket and refuses new ones.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	all := make([]*Socket, 0, len(s.sessions))
	for _, so := range s.sessions {
		all = append(all, so)
	}
	s.mu.Unlock()
	for _, so := range all {
		so.Disconnect()
	}
}

func engineError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"code":%d,"message":%q}`, code, msg)
}

// ServeHTTP implements the Engine.IO request dispatch.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("EIO") != "4" {
		engineError(w, http.StatusBadRequest, 5, "Unsupported protocol version")
		return
	}
	sid := q.Get("sid")
	switch q.Get("transport") {
	case "polling":
		if q.Has("j") {
			engineError(w, http.StatusBadRequest, 3, "Bad request")
			return
		}
		if sid == "" {
			if r.Method != http.MethodGet {
				engineError(w, http.StatusBadRequest, 2, "Bad handshake method")
				return
			}
			so := s.newSocket()
			if so == nil {
				s.refuseFull(w)
				return
			}
			so.startTimers()
			w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
			_, _ = w.Write(s.openPacket(so.sid, true))
			return
		}
		so := s.lookup(sid)
		if so == nil {
			engineError(w, http.StatusBadRequest, 1, "Session ID unknown")
			return
		}
		switch r.Method {
		case http.MethodGet:
			so.pollGet(w, r)
		case http.MethodPost:
			so.pollPost(w, r)
		default:
			engineError(w, http.StatusBadRequest, 2, "Bad request method")
		}
	case "websocket":
		if sid == "" {
			// The session is registered before the upgrade, so a full
			// server can still answer with an HTTP status.
			so := s.newSocket()
			if so == nil {
				s.refuseFull(w)
				return
			}
			so.direct = true
			if s.mel != nil {
				s.serveMelody(w, r, so, false)
				return
			}
			c, br, err := s.upgrade(w, r)
			if err != nil {
				s.remove(so)
				return // the upgrader answered
			}
			s.serveWS(so, c, br, false)
			return
		}
		so := s.lookup(sid)
		if so == nil {
			engineError(w, http.StatusBadRequest, 1, "Session ID unknown")
			return
		}
		so.mu.Lock()
		busy := so.ws != nil || so.probe != nil || so.closed
		so.mu.Unlock()
		if busy {
			engineError(w, http.StatusBadRequest, 3, "Bad request")
			return
		}
		if s.mel != nil {
			s.serveMelody(w, r, so, true)
			return
		}
		c, br, err := s.upgrade(w, r)
		if err != nil {
			return
		}
		s.serveWS(so, c, br, true)
	default:
		engineError(w, http.StatusBadRequest, 0, "Transport unknown")
	}
}

func (s *Server) openPacket(sid string, upgrades bool) []byte {
	up := `["websocket"]`
	if !upgrades {
		up = `[]`
	}
	return fmt.Appendf(nil, `0{"sid":"%s","upgrades":%s,"pingInterval":%d,"pingTimeout":%d,"maxPayload":%d}`,
		sid, up, s.o.PingInterval.Milliseconds(), s.o.PingTimeout.Milliseconds(), s.o.MaxPayload)
}

func newID() string {
	b := make([]byte, 15)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newSocket registers a new session; nil when MaxSessions are open.
func (s *Server) newSocket() *Socket {
	so := &Socket{srv: s, sid: newID(), pollWake: make(chan struct{}, 1)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.o.MaxSessions > 0 && len(s.sessions) >= s.o.MaxSessions {
		s.refused.Add(1)
		return nil
	}
	s.sessions[so.sid] = so
	return so
}

// refuseFull answers a handshake the server has no room for; clients retry
// with their reconnection backoff (another replica, behind a balancer).
func (s *Server) refuseFull(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "5")
	engineError(w, http.StatusServiceUnavailable, 4, "Server at capacity")
}

func (s *Server) lookup(sid string) *Socket {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[sid]
}

func (s *Server) remove(so *Socket) {
	s.mu.Lock()
	if s.sessions[so.sid] == so {
		delete(s.sessions, so.sid)
	}
	s.mu.Unlock()
}

// serveWS attaches a new websocket to so (as its transport, or as an
// upgrade probe) and starts its read goroutine; the HTTP handler returns.
func (s *Server) serveWS(so *Socket, c *websocket.Conn, br *bufio.Reader, probe bool) {
	ws := newWSConn(so, c, br, s.o.SendQueue, &s.ws)
	if s.attachWS(so, ws, probe) {
		go ws.read(s)
	} else {
		_ = c.Close()
	}
}

// attachWS makes ws so's transport or upgrade probe; false when so is gone.
func (s *Server) attachWS(so *Socket, ws *wsConn, probe bool) bool {
	so.mu.Lock()
	if so.closed || s.isClosed() {
		so.mu.Unlock()
		s.remove(so)
		return false
	}
	if probe {
		so.probe = ws
		so.mu.Unlock()
	} else {
		so.ws = ws
		so.mu.Unlock()
		_ = ws.write(s.openPacket(so.sid, false))
		so.startTimers()
	}
	return true
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Server) wsDisconnect(ws *wsConn) {
	so := ws.so
	so.mu.Lock()
	if so.probe == ws {
		so.probe = nil
		so.mu.Unlock()
		return
	}
	active := so.ws == ws
	so.mu.Unlock()
	if active {
		so.close("transport close")
	}
}

func (s *Server) wsMessage(ws *wsConn, msg []byte) {
	so := ws.so
	so.mu.Lock()
	probing := so.probe == ws
	so.mu.Unlock()
	if probing {
		switch string(msg) {
		case "2probe":
			so.wsSend(ws, []byte("3probe"))
			so.enqueuePoll([]byte{eNoop}) // release the pending poll so the client can pause polling
		case "5":
			so.upgrade(ws)
		}
		return
	}
	so.handleEngine(msg)
}

// Socket is one client connection (an Engine.IO session carrying the
// default Socket.IO namespace).
type Socket struct {
	srv      *Server
	sid      string
	direct   bool // opened as a websocket, never polled
	overflow atomic.Bool

	mu        sync.Mutex
	ws        *wsConn  // active websocket, nil while polling
	probe     *wsConn  // websocket being upgraded
	queue     [][]byte // packets waiting for the next poll
	polling   bool
	pollWake  chan struct{}
	closed    bool
	connected bool
	// connecting is held from the first CONNECT until it succeeds or
	// fails: one engine session carries one namespace connection, so a
	// repeated CONNECT never authenticates (or subscribes) again.
	connecting bool
	id         string // Socket.IO socket id
	data       any
	timer      *time.Timer
	timerGen   uint64
	connTimer  *time.Timer // CONNECT deadline, dropped once connected
	awaiting   bool        // a ping is out, waiting for its pong
}

// ID is the Socket.IO socket id sent to the client.
func (so *Socket) ID() string {
	so.mu.Lock()
	defer so.mu.Unlock()
	return so.id
}

// Data is what Authenticate returned.
func (so *Socket) Data() any {
	so.mu.Lock()
	defer so.mu.Unlock()
	return so.data
}

// Emit sends an event to this socket.
func (so *Socket) Emit(event string, args ...any) error {
	pkt, err := EncodeEvent(event, args...)
	if err != nil {
		return err
	}
	so.Send(pkt)
	return nil
}

// Send sends a packet made by EncodeEvent. The bytes must not be modified
// afterwards: they may be shared by many sockets.
func (so *Socket) Send(pkt []byte) {
	so.mu.Lock()
	if so.closed {
		so.mu.Unlock()
		return
	}
	if ws := so.ws; ws != nil {
		so.mu.Unlock()
		so.wsSend(ws, pkt)
		return
	}
	so.mu.Unlock()
	so.enqueuePoll(pkt)
}

// Batch sends the packets queued on the socket while fn runs (by fn or by
// anyone else) together: over a websocket they leave in one write after
// fn returns. Everything for the socket waits for fn, so fn must be short
// (a handler's RPC of a few milliseconds, not a client's answer).
func (so *Socket) Batch(fn func()) {
	so.mu.Lock()
	ws := so.ws
	so.mu.Unlock()
	if ws != nil {
		ws.cork()
		defer ws.uncork()
	}
	fn()
}

// wsSend queues pkt on ws; a client too slow to keep up is cut off (it
// reconnects and resyncs).
func (so *Socket) wsSend(ws *wsConn, pkt []byte) {
	if err := ws.write(pkt); err != nil && so.overflow.CompareAndSwap(false, true) {
		go so.close("send queue overflow")
	}
}

// Disconnect ends the socket the way a server-side socket.disconnect() does:
// the client is told not to reconnect on its own.
func (so *Socket) Disconnect() {
	so.mu.Lock()
	connected := so.connected
	so.mu.Unlock()
	if connected {
		so.Send([]byte{eMessage, Disconnect})
	}
	so.close("server namespace disconnect")
}

func (so *Socket) enqueuePoll(pkt []byte) {
	so.mu.Lock()
	if so.closed {
		so.mu.Unlock()
		return
	}
	if len(so.queue) >= maxPollQueue {
		so.mu.Unlock()
		so.close("poll queue overflow")
		return
	}
	so.queue = append(so.queue, pkt)
	so.mu.Unlock()
	select {
	case so.pollWake <- struct{}{}:
	default:
	}
}

// startTimers arms the first ping and the CONNECT deadline.
func (so *Socket) startTimers() {
	so.mu.Lock()
	so.armLocked(firstPing(so.srv.o.PingInterval), false)
	so.connTimer = time.AfterFunc(so.srv.o.ConnectTimeout, func() {
		so.mu.Lock()
		stale := !so.connected && !so.closed
		so.mu.Unlock()
		if stale {
			so.close("connect timeout")
		}
	})
	so.mu.Unlock()
}

// firstPing is when a new session's first ping goes out: at a random point
// in the second half of the interval. Sockets that connected together (the
// reconnect storm after a deploy: 50,000 in about ten seconds) would
// otherwise be pinged together every interval for as long as they stay, a
// wave of 5,000 pings a second where 2,000 is the average; with the
// first ping spread, so is every later one (each follows its pong by the
// interval). Early is safe for clients: socket.io-client allows interval +
// timeout from the handshake and restarts that on each ping.
func firstPing(interval time.Duration) time.Duration {
	if half := interval / 2; half > 0 {
		return interval - mrand.N(half)
	}
	return interval
}

// armLocked schedules the next ping (awaiting=false) or the pong deadline
// (awaiting=true). A generation number voids timers that fire late.
func (so *Socket) armLocked(d time.Duration, awaiting bool) {
	so.timerGen++
	gen := so.timerGen
	so.awaiting = awaiting
	if so.timer != nil {
		so.timer.Stop()
	}
	so.timer = time.AfterFunc(d, func() { so.onTimer(gen) })
}

func (so *Socket) onTimer(gen uint64) {
	so.mu.Lock()
	if so.closed || gen != so.timerGen {
		so.mu.Unlock()
		return
	}
	if so.awaiting {
		so.mu.Unlock()
		so.close("ping timeout")
		return
	}
	so.armLocked(so.srv.o.PingTimeout, true)
	so.mu.Unlock()
	so.Send([]byte{ePing})
}

func (so *Socket) upgrade(ws *wsConn) {
	so.mu.Lock()
	if so.probe != ws || so.closed {
		so.mu.Unlock()
		return
	}
	so.probe, so.ws = nil, ws
	q := so.queue
	so.queue = nil
	so.mu.Unlock()
	for _, p := range q {
		if len(p) == 1 && p[0] == eNoop {
			continue
		}
		so.wsSend(ws, p)
	}
	select { // release a poll still pending
	case so.pollWake <- struct{}{}:
	default:
	}
}

func (so *Socket) pollGet(w http.ResponseWriter, r *http.Request) {
	so.mu.Lock()
	if so.polling || so.ws != nil {
		so.mu.Unlock()
		engineError(w, http.StatusBadRequest, 3, "Bad request")
		if !so.isWS() {
			so.close("multiple polls")
		}
		return
	}
	so.polling = true
	so.mu.Unlock()
	for {
		so.mu.Lock()
		if len(so.queue) > 0 || so.closed || so.ws != nil {
			q := so.queue
			so.queue = nil
			if so.closed {
				q = append(q, []byte{eClose})
			} else if len(q) == 0 {
				q = [][]byte{{eNoop}}
			}
			so.polling = false
			so.mu.Unlock()
			w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
			_, _ = w.Write(joinPayload(q))
			return
		}
		so.mu.Unlock()
		select {
		case <-so.pollWake:
		case <-r.Context().Done():
			so.mu.Lock()
			so.polling = false
			so.mu.Unlock()
			return
		}
	}
}

// onWorker: the socket's packets arrive on a burst worker (a native
// websocket transport).
func (so *Socket) onWorker() bool {
	so.mu.Lock()
	defer so.mu.Unlock()
	return so.ws != nil && so.ws.ms == nil && so.ws.br != nil
}

func (so *Socket) isWS() bool {
	so.mu.Lock()
	defer so.mu.Unlock()
	return so.ws != nil
}

func (so *Socket) pollPost(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, so.srv.o.MaxPayload+1))
	if err != nil {
		engineError(w, http.StatusBadRequest, 3, "Bad request")
		return
	}
	if int64(len(body)) > so.srv.o.MaxPayload {
		engineError(w, http.StatusRequestEntityTooLarge, 3, "Payload too large")
		so.close("payload too large")
		return
	}
	w.Header().Set("Content-Type", "text/html")
	_, _ = w.Write([]byte("ok"))
	for _, p := range splitPayload(body) {
		so.handleEngine(p)
	}
}

func (so *Socket) handleEngine(p []byte) {
	if len(p) == 0 {
		return
	}
	switch p[0] {
	case ePong:
		so.mu.Lock()
		if so.awaiting && !so.closed {
			so.armLocked(so.srv.o.PingInterval, false)
		}
		so.mu.Unlock()
	case ePing:
		so.Send(append([]byte{ePong}, p[1:]...))
	case eMessage:
		so.handleSocketIO(p[1:])
	case eClose:
		so.close("transport close")
	}
}

func (so *Socket) handleSocketIO(b []byte) {
	p, err := DecodePacket(b)
	if err != nil {
		so.srv.o.Log.Debug("socketio: dropped packet", "err", err)
		return
	}
	switch p.Type {
	case Connect:
		// A native websocket's packets are handled on a pooled worker
		// (ws.go), whose stack is grown already: CONNECT runs there, in
		// order. Elsewhere (melody's long-lived read goroutine, a polling
		// POST) authentication and subscriptions run on a short-lived
		// goroutine, so their deep call stacks stay on neither; the
		// client sends no event before it has the CONNECT answer, so
		// order is kept.
		if so.onWorker() {
			so.onConnect(p)
		} else {
			go so.onConnect(p)
		}
	case Disconnect:
		if p.Nsp == "/" {
			so.close("client namespace disconnect")
		}
	case Event:
		so.mu.Lock()
		ok := so.connected
		so.mu.Unlock()
		if !ok || p.Nsp != "/" {
			return
		}
		name, args, err := decodeValidEvent(p.Data) // DecodePacket checked json.Valid
		if err != nil {
			return
		}
		h := so.srv.handlers[name]
		if h == nil {
			return
		}
		var ack AckFunc
		if p.ID >= 0 {
			var once sync.Once
			ack = func(args ...any) {
				once.Do(func() {
					pkt, err := encodeAck(p.ID, args)
					if err == nil {
						so.Send(pkt)
					}
				})
			}
		}
		so.dispatch(name, h, args, ack)
	}
}

// dispatch runs a handler; a panicking handler never takes the server down.
func (so *Socket) dispatch(name string, h Handler, args []json.RawMessage, ack AckFunc) {
	defer func() {
		if r := recover(); r != nil {
			so.srv.o.Log.Error("socketio: handler panicked", "event", name, "panic", fmt.Sprint(r))
			if ack != nil {
				ack(map[string]any{"ok": false, "error": "Internal error"})
			}
		}
	}()
	h(so, args, ack)
}

func connectErrorPacket(nsp, msg string) []byte {
	b, _ := json.Marshal(map[string]string{"message": msg})
	prefix := []byte{eMessage, ConnectError}
	if nsp != "/" {
		prefix = append(prefix, nsp+","...)
	}
	return append(prefix, b...)
}

func (so *Socket) onConnect(p Packet) {
	if p.Nsp != "/" {
		so.Send(connectErrorPacket(p.Nsp, "Invalid namespace"))
		return
	}
	so.mu.Lock()
	already := so.connected || so.connecting || so.closed
	so.connecting = !already || so.connecting
	so.mu.Unlock()
	if already {
		return
	}
	var data any
	if so.srv.o.Authenticate != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		d, err := so.srv.o.Authenticate(ctx, p.Data)
		cancel()
		if err != nil {
			so.mu.Lock()
			so.connecting = false // the client may CONNECT again with other auth
			so.mu.Unlock()
			so.Send(connectErrorPacket("/", err.Error()))
			return
		}
		data = d
	}
	so.mu.Lock()
	if so.closed {
		so.mu.Unlock()
		return
	}
	so.connecting = false
	so.connected, so.id, so.data = true, newID(), data
	if so.connTimer != nil {
		so.connTimer.Stop()
		so.connTimer = nil
	}
	id := so.id
	so.mu.Unlock()
	// OnConnect completes before the client hears CONNECT, so no event of
	// the client can race with it.
	if so.srv.o.OnConnect != nil {
		so.srv.o.OnConnect(so)
	}
	so.Send(append([]byte(`40{"sid":`), strconv.Quote(id)+"}"...))
}

func (so *Socket) close(reason string) {
	so.mu.Lock()
	if so.closed {
		so.mu.Unlock()
		return
	}
	so.closed = true
	so.timerGen++
	if so.timer != nil {
		so.timer.Stop()
	}
	if so.connTimer != nil {
		so.connTimer.Stop()
		so.connTimer = nil
	}
	ws, probe := so.ws, so.probe
	connected := so.connected
	so.connected = false
	so.mu.Unlock()
	so.srv.remove(so)
	if ws != nil {
		ws.close()
	}
	if probe != nil {
		probe.close()
	}
	select {
	case so.pollWake <- struct{}{}:
	default:
	}
	if connected && so.srv.o.OnDisconnect != nil {
		so.srv.o.OnDisconnect(so, reason)
	}
}
