// Package sioclient is a minimal Socket.IO v5 client over a websocket
// (Engine.IO v4, default namespace, text packets). It exists for load
// generation and Go tests; the compatibility tests use the real npm client.
package sioclient

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Conn is one connected socket.
type Conn struct {
	ws  *websocket.Conn
	wmu sync.Mutex
	// SID is the Socket.IO socket id.
	SID string
}

// Dialer opens websockets with small buffers.
var Dialer = &websocket.Dialer{ReadBufferSize: 1024, WriteBufferSize: 1024, HandshakeTimeout: 10 * time.Second}

// Dial connects to base (http://host:port) on path (/socket.io/) and sends
// the CONNECT packet with {token}. It returns after the server's CONNECT.
func Dial(base, path, token string) (*Conn, error) { return DialWith(Dialer, base, path, token) }

// DialWith is Dial through d (a load generator spreads its sockets over
// several local addresses this way).
func DialWith(d *websocket.Dialer, base, path, token string) (*Conn, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	u.Path = path
	u.RawQuery = "EIO=4&transport=websocket"
	ws, res, err := d.Dial(u.String(), http.Header{})
	if err != nil {
		if res != nil { // the server answered, but not with an upgrade
			res.Body.Close()
			return nil, fmt.Errorf("%w: HTTP %d", err, res.StatusCode)
		}
		return nil, err
	}
	c := &Conn{ws: ws}
	_, open, err := ws.ReadMessage()
	if err != nil || len(open) == 0 || open[0] != '0' {
		ws.Close()
		return nil, fmt.Errorf("sioclient: no open packet: %v", err)
	}
	auth, _ := json.Marshal(map[string]string{"token": token})
	if err := c.write(append([]byte("40"), auth...)); err != nil {
		ws.Close()
		return nil, err
	}
	for {
		_, m, err := ws.ReadMessage()
		if err != nil {
			ws.Close()
			return nil, err
		}
		s := string(m)
		switch {
		case strings.HasPrefix(s, "40"):
			var v struct {
				SID string `json:"sid"`
			}
			_ = json.Unmarshal(m[2:], &v)
			c.SID = v.SID
			return c, nil
		case strings.HasPrefix(s, "44"):
			ws.Close()
			return nil, fmt.Errorf("sioclient: connect_error %s", m[2:])
		case s == "2":
			_ = c.write([]byte("3"))
		}
	}
}

func (c *Conn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// WriteRaw sends one Engine.IO packet as it is (tests of malformed input).
func (c *Conn) WriteRaw(b []byte) error { return c.write(b) }

// Emit sends an event; ackID >= 0 asks for an ack with that id.
func (c *Conn) Emit(ackID int, event string, args ...any) error {
	arr, err := json.Marshal(append([]any{event}, args...))
	if err != nil {
		return err
	}
	b := []byte("42")
	if ackID >= 0 {
		b = strconv.AppendInt(b, int64(ackID), 10)
	}
	return c.write(append(b, arr...))
}

// Packet is one received Socket.IO event or ack.
type Packet struct {
	Event string // empty for acks
	AckID int
	Args  []json.RawMessage
}

// ErrDisconnected is returned when the server disconnected the socket.
var ErrDisconnected = errors.New("sioclient: disconnected by server")

// Read returns the next event or ack, answering pings on the way.
func (c *Conn) Read() (Packet, error) {
	for {
		_, m, err := c.ws.ReadMessage()
		if err != nil {
			return Packet{}, err
		}
		s := string(m)
		switch {
		case s == "2":
			if err := c.write([]byte("3")); err != nil {
				return Packet{}, err
			}
		case s == "41" || s == "1":
			return Packet{}, ErrDisconnected
		case strings.HasPrefix(s, "42"):
			var arr []json.RawMessage
			if err := json.Unmarshal(m[2:], &arr); err != nil || len(arr) == 0 {
				continue
			}
			var name string
			_ = json.Unmarshal(arr[0], &name)
			return Packet{Event: name, Args: arr[1:]}, nil
		case strings.HasPrefix(s, "43"):
			i := 2
			for i < len(m) && m[i] >= '0' && m[i] <= '9' {
				i++
			}
			n, _ := strconv.Atoi(s[2:i])
			var arr []json.RawMessage
			_ = json.Unmarshal(m[i:], &arr)
			return Packet{AckID: n, Args: arr}, nil
		}
	}
}

// SetReadDeadline bounds the next Read.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.ws.SetReadDeadline(t) }

// Close closes the websocket.
func (c *Conn) Close() error { return c.ws.Close() }
