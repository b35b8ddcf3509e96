// Package socketio serves the Engine.IO v4 / Socket.IO v5 wire protocol that
// the current app's socket.io-client speaks: long-polling and websocket
// transports (with the upgrade probe), ping/pong, maxPayload, the default
// namespace with events, acks, CONNECT with an auth payload and
// connect_error. Websockets run on gorilla/websocket (see ws.go). Only text packets are supported;
// binary attachments are refused, the app never sends them.
package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// Engine.IO packet types.
const (
	eOpen    = '0'
	eClose   = '1'
	ePing    = '2'
	ePong    = '3'
	eMessage = '4'
	eUpgrade = '5'
	eNoop    = '6'
)

// recordSep separates packets in a long-polling payload.
const recordSep = 0x1e

// Socket.IO packet types.
const (
	Connect      = '0'
	Disconnect   = '1'
	Event        = '2'
	Ack          = '3'
	ConnectError = '4'
	BinaryEvent  = '5'
	BinaryAck    = '6'
)

// Packet is one decoded Socket.IO packet.
type Packet struct {
	Type byte
	Nsp  string
	// ID is the ack id, or -1 when the packet carries none.
	ID   int64
	Data json.RawMessage
}

// Decoding errors.
var (
	ErrEmpty       = errors.New("socketio: empty packet")
	ErrBadType     = errors.New("socketio: unknown packet type")
	ErrBinary      = errors.New("socketio: binary packets are not supported")
	ErrBadAckID    = errors.New("socketio: bad ack id")
	ErrBadJSON     = errors.New("socketio: invalid JSON payload")
	ErrBadEvent    = errors.New("socketio: event payload must be an array starting with a name")
	ErrNamespaceSz = errors.New("socketio: namespace too long")
)

// DecodePacket parses a Socket.IO packet (the payload of an Engine.IO
// message): <type>[<nsp>,][<id>][<json>].
func DecodePacket(b []byte) (Packet, error) {
	p := Packet{Nsp: "/", ID: -1}
	if len(b) == 0 {
		return p, ErrEmpty
	}
	p.Type = b[0]
	if p.Type < Connect || p.Type > BinaryAck {
		return p, ErrBadType
	}
	if p.Type == BinaryEvent || p.Type == BinaryAck {
		return p, ErrBinary
	}
	i := 1
	if i < len(b) && b[i] == '/' {
		j := bytes.IndexByte(b[i:], ',')
		if j < 0 {
			j = len(b) - i
		}
		if j > 256 {
			return p, ErrNamespaceSz
		}
		p.Nsp = string(b[i : i+j])
		i += j
		if i < len(b) {
			i++ // the comma
		}
	}
	start := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i > start {
		if i-start > 15 {
			return p, ErrBadAckID
		}
		n, err := strconv.ParseInt(string(b[start:i]), 10, 64)
		if err != nil {
			return p, ErrBadAckID
		}
		p.ID = n
	}
	if rest := b[i:]; len(rest) > 0 {
		if !json.Valid(rest) {
			return p, ErrBadJSON
		}
		p.Data = rest
	}
	return p, nil
}

// DecodeEvent splits an EVENT payload into its name and arguments.
func DecodeEvent(data json.RawMessage) (string, []json.RawMessage, error) {
	if !json.Valid(data) {
		return "", nil, ErrBadEvent
	}
	return decodeValidEvent(data)
}

// EncodeEvent returns the Engine.IO message packet carrying a Socket.IO
// EVENT for the default namespace ("42[...]"). Encode once and Send the
// same bytes to many sockets.
func EncodeEvent(name string, args ...any) ([]byte, error) {
	buf := make([]byte, 0, 64+len(name)+rawSize(args))
	buf = append(buf, eMessage, Event)
	return appendArray(buf, name, args)
}

// encodeAck returns the packet acknowledging ack id with args ("43<id>[...]").
func encodeAck(id int64, args []any) ([]byte, error) {
	buf := make([]byte, 0, 48+rawSize(args))
	buf = append(buf, eMessage, Ack)
	buf = strconv.AppendInt(buf, id, 10)
	return appendArray(buf, "", args)
}

// rawSize is the length of the pre-encoded arguments: the buffer is made
// once, at its size.
func rawSize(args []any) int {
	n := 0
	for _, a := range args {
		if r, ok := a.(json.RawMessage); ok {
			n += len(r) + 1
		}
	}
	return n
}

func appendArray(buf []byte, name string, args []any) ([]byte, error) {
	buf = append(buf, '[')
	first := true
	if name != "" {
		buf = AppendString(buf, name)
		first = false
	}
	for _, a := range args {
		if !first {
			buf = append(buf, ',')
		}
		first = false
		switch v := a.(type) {
		case json.RawMessage:
			buf = append(buf, v...)
		default:
			ab, err := json.Marshal(v)
			if err != nil {
				return nil, err
			}
			buf = append(buf, ab...)
		}
	}
	return append(buf, ']'), nil
}

// splitPayload splits a long-polling body into Engine.IO packets.
func splitPayload(body []byte) [][]byte {
	if len(body) == 0 {
		return nil
	}
	return bytes.Split(body, []byte{recordSep})
}

// joinPayload joins packets into a long-polling body.
func joinPayload(pkts [][]byte) []byte {
	n := len(pkts)
	for _, p := range pkts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for i, p := range pkts {
		if i > 0 {
			out = append(out, recordSep)
		}
		out = append(out, p...)
	}
	return out
}
