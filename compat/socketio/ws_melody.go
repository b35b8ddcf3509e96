package socketio

import (
	"errors"
	"net/http"
	"sync"

	"github.com/gorilla/websocket"
	"github.com/olahol/melody"
)

// The melody transport (Options.Transport "melody") runs the same
// Engine.IO/Socket.IO sessions on github.com/olahol/melody, tuned as far as
// its API allows: small read buffer, a shared write-buffer pool, the send
// queue as its message buffer, MaxMessageSize and CheckOrigin from the
// options. It keeps what melody is built on: the HTTP handler goroutine
// stays for the read loop (with net/http's connection state), a writer
// goroutine and a ping ticker per session, and one write syscall per
// packet. It is kept to re-run the comparison recorded in BENCHMARKS.md;
// the native transport (ws.go) is the default.
//
// A full melody buffer drops the packet and the close frame alike, so a
// slow consumer is cut off by melody's ping deadline (PongWait) rather
// than at once.

func (s *Server) newMelody() *melody.Melody {
	m := melody.New()
	m.Upgrader = &websocket.Upgrader{
		ReadBufferSize:  wsReadBuffer,
		WriteBufferSize: 4096,
		WriteBufferPool: &sync.Pool{},
		CheckOrigin:     s.o.CheckOrigin,
	}
	m.Config.MaxMessageSize = s.o.MaxPayload
	m.Config.MessageBufferSize = s.o.SendQueue
	m.HandleConnect(func(ss *melody.Session) {
		so, _ := ss.Keys["so"].(*Socket)
		probe, _ := ss.Keys["probe"].(bool)
		ws := &wsConn{so: so, ms: ss, max: s.o.SendQueue, stats: &s.ws}
		ss.Set("ws", ws)
		if !s.attachWS(so, ws, probe) {
			_ = ss.Close()
		}
	})
	m.HandleMessage(func(ss *melody.Session, msg []byte) {
		if ws := melodyWS(ss); ws != nil {
			s.wsMessage(ws, msg)
		}
	})
	m.HandleDisconnect(func(ss *melody.Session) {
		if ws := melodyWS(ss); ws != nil {
			s.wsDisconnect(ws)
		}
	})
	m.HandleError(func(ss *melody.Session, err error) {
		if ws := melodyWS(ss); ws != nil && errors.Is(err, melody.ErrMessageBufferFull) {
			ws.full.Store(true)
		}
	})
	return m
}

func melodyWS(ss *melody.Session) *wsConn {
	ws, _ := ss.Get("ws")
	w, _ := ws.(*wsConn)
	return w
}

// serveMelody runs the session on this (HTTP handler) goroutine.
func (s *Server) serveMelody(w http.ResponseWriter, r *http.Request, so *Socket, probe bool) {
	_ = s.mel.HandleRequestWithKeys(w, r, map[string]any{"so": so, "probe": probe})
}

func (w *wsConn) melodyWrite(pkt []byte) error {
	if err := w.ms.Write(pkt); err != nil {
		return nil // closed
	}
	w.stats.writes.Add(1)
	w.stats.frames.Add(1)
	if w.full.Load() {
		if w.full.CompareAndSwap(true, false) {
			w.stats.slowClosed.Add(1)
		}
		return errSendQueueFull
	}
	return nil
}
