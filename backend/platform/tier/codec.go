package tier

import (
	"errors"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// ErrMalformed is the one decoding error a client sees. Connect's own
// codecs answer "unmarshal into *userv1.UpdateProfileRequest: proto: …",
// which names Go types and parser internals.
var ErrMalformed = errors.New("request is not a valid message for this procedure")

// safeCodecs are Connect's default codecs (same wire behaviour: unknown
// JSON fields discarded) with client-safe decoding errors.
func safeCodecs() []connect.HandlerOption {
	return []connect.HandlerOption{
		connect.WithCodec(protoCodec{}),
		connect.WithCodec(JSONCodec{"json"}),
		connect.WithCodec(JSONCodec{"json; charset=utf-8"}),
	}
}

type protoCodec struct{}

func (protoCodec) Name() string { return "proto" }

func (protoCodec) Marshal(m any) ([]byte, error) { return protoCodec{}.MarshalAppend(nil, m) }

func (protoCodec) MarshalAppend(dst []byte, m any) ([]byte, error) {
	pm, ok := m.(proto.Message)
	if !ok {
		return nil, ErrMalformed
	}
	return proto.MarshalOptions{}.MarshalAppend(dst, pm)
}

func (protoCodec) Unmarshal(b []byte, m any) error {
	pm, ok := m.(proto.Message)
	if !ok || proto.Unmarshal(b, pm) != nil {
		return ErrMalformed
	}
	return nil
}

func (protoCodec) MarshalStable(m any) ([]byte, error) {
	pm, ok := m.(proto.Message)
	if !ok {
		return nil, ErrMalformed
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(pm)
}

func (protoCodec) IsBinary() bool { return true }

// JSONCodec is Connect's protojson codec under name, with ErrMalformed as
// its only decoding error.
type JSONCodec struct{ CodecName string }

func (c JSONCodec) Name() string { return c.CodecName }

func (c JSONCodec) Marshal(m any) ([]byte, error) { return c.MarshalAppend(nil, m) }

func (JSONCodec) MarshalAppend(dst []byte, m any) ([]byte, error) {
	pm, ok := m.(proto.Message)
	if !ok {
		return nil, ErrMalformed
	}
	return protojson.MarshalOptions{}.MarshalAppend(dst, pm)
}

func (JSONCodec) Unmarshal(b []byte, m any) error {
	pm, ok := m.(proto.Message)
	if !ok || len(b) == 0 || (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, pm) != nil {
		return ErrMalformed
	}
	return nil
}

func (c JSONCodec) MarshalStable(m any) ([]byte, error) { return c.Marshal(m) }

func (JSONCodec) IsBinary() bool { return false }
