package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/pgtest"
)

// nulSetter puts a NUL-carrying string into one string field of a request
// message (nested, repeated or map); path names it for failures.
type nulSetter struct {
	path string
	set  func(protoreflect.Message)
}

const nulText = "bad\x00text"

// nulSetters lists one setter per string field reachable from md, through
// nested, repeated and map fields (a message type is not entered again
// below itself, so recursive types end).
func nulSetters(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) []nulSetter {
	if seen[md.FullName()] {
		return nil
	}
	seen[md.FullName()] = true
	defer delete(seen, md.FullName())
	var out []nulSetter
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		name := string(fd.Name())
		switch {
		case fd.IsMap():
			kd, vd := fd.MapKey(), fd.MapValue()
			if kd.Kind() == protoreflect.StringKind {
				out = append(out, nulSetter{name + " key", func(m protoreflect.Message) {
					m.Mutable(fd).Map().Set(protoreflect.ValueOfString(nulText).MapKey(), m.Mutable(fd).Map().NewValue())
				}})
			}
			key := func() protoreflect.MapKey { return mapKey(kd) }
			switch vd.Kind() {
			case protoreflect.StringKind:
				out = append(out, nulSetter{name + "[v]", func(m protoreflect.Message) {
					m.Mutable(fd).Map().Set(key(), protoreflect.ValueOfString(nulText))
				}})
			case protoreflect.MessageKind:
				for _, sub := range nulSetters(vd.Message(), seen) {
					out = append(out, nulSetter{name + "[v]." + sub.path, func(m protoreflect.Message) {
						mp := m.Mutable(fd).Map()
						v := mp.NewValue()
						sub.set(v.Message())
						mp.Set(key(), v)
					}})
				}
			}
		case fd.IsList():
			switch fd.Kind() {
			case protoreflect.StringKind:
				out = append(out, nulSetter{name + "[0]", func(m protoreflect.Message) {
					m.Mutable(fd).List().Append(protoreflect.ValueOfString(nulText))
				}})
			case protoreflect.MessageKind:
				for _, sub := range nulSetters(fd.Message(), seen) {
					out = append(out, nulSetter{name + "[0]." + sub.path, func(m protoreflect.Message) {
						l := m.Mutable(fd).List()
						v := l.NewElement()
						sub.set(v.Message())
						l.Append(v)
					}})
				}
			}
		case fd.Kind() == protoreflect.StringKind:
			out = append(out, nulSetter{name, func(m protoreflect.Message) { m.Set(fd, protoreflect.ValueOfString(nulText)) }})
		case fd.Kind() == protoreflect.MessageKind:
			for _, sub := range nulSetters(fd.Message(), seen) {
				out = append(out, nulSetter{name + "." + sub.path, func(m protoreflect.Message) { sub.set(m.Mutable(fd).Message()) }})
			}
		}
	}
	return out
}

func mapKey(kd protoreflect.FieldDescriptor) protoreflect.MapKey {
	switch kd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString("k").MapKey()
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(true).MapKey()
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(1).MapKey()
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(1).MapKey()
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(1).MapKey()
	default:
		return protoreflect.ValueOfInt64(1).MapKey()
	}
}

// TestEveryRPCRefusesNULInEveryStringField walks every method of every
// infliq service in the generated registry (so new RPCs are covered without
// editing this test), puts a NUL into each string field of its request in
// turn, and sends it, authenticated (and with the internal token), to the
// tier of a running `infliq all`. Each answer is invalid_argument, never a
// 5xx: the edge refuses the text before any handler or database sees it.
func TestEveryRPCRefusesNULInEveryStringField(t *testing.T) {
	const secret, internal = "badtext-test-secret-0123456789abcdef", "badtext-internal-token-0123456789"
	ports := startAll(t, map[string]string{"LOG_LEVEL": "error", "DATABASE_URL": pgtest.NewDSN(t),
		"JWT_SECRET": secret, "INTERNAL_API_TOKEN": internal, "RATE_LIMIT_MAX": "1000000", "REDIS_URL": "", "S3_BUCKET": ""})
	tierURL := func(n string) string { return fmt.Sprintf("http://127.0.0.1:%d", ports[n]) }
	tok, _, err := authn.NewIssuer(secret, "infliq", "infliq-app", time.Hour).IssueAccess(authn.AccessToken{UserID: id.New()}, time.Now())
	if err != nil {
		t.Fatal(err)
	}

	hc := &http.Client{Timeout: 20 * time.Second}
	methods, sent := 0, 0
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		pkg := string(fd.Package())
		if !strings.HasPrefix(pkg, "infliq.") {
			return true
		}
		tierName := strings.Split(pkg, ".")[1]
		base := tierURL("gateway")
		if _, ok := ports[tierName]; ok {
			base = tierURL(tierName)
		}
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			for j := 0; j < sd.Methods().Len(); j++ {
				md := sd.Methods().Get(j)
				methods++
				proc := "/" + string(sd.FullName()) + "/" + string(md.Name())
				streaming := md.IsStreamingClient() || md.IsStreamingServer()
				for _, s := range nulSetters(md.Input(), map[protoreflect.FullName]bool{}) {
					msg := dynamicpb.NewMessage(md.Input())
					s.set(msg)
					body, err := protojson.Marshal(msg)
					if err != nil {
						continue // a well-known type whose JSON form refuses the value (FieldMask, Any)
					}
					sent++
					code, status, raw := sendRPC(t, hc, base+proc, body, streaming, tok, internal)
					// A batch answers per item: its item carries the error.
					perItem := status == 200 && strings.Contains(raw, `"code":"invalid_argument"`)
					if status >= 500 || (code != "invalid_argument" && !perItem) {
						t.Errorf("%s %s: status %d code %q: %s", proc, s.path, status, code, raw)
					}
				}
			}
		}
		return true
	})
	if methods < 50 || sent < 100 {
		t.Fatalf("walked %d methods and sent %d requests: the registry walk found too little", methods, sent)
	}
	t.Logf("%d methods, %d requests with a NUL in one string field", methods, sent)
}

// sendRPC sends one Connect request (unary JSON, or one enveloped message for
// a stream) and returns the error code, HTTP status and body.
func sendRPC(t *testing.T, hc *http.Client, url string, body []byte, streaming bool, tok, internal string) (string, int, string) {
	t.Helper()
	ct := "application/json"
	if streaming {
		env := make([]byte, 5, 5+len(body))
		binary.BigEndian.PutUint32(env[1:], uint32(len(body)))
		body = append(env, body...)
		ct = "application/connect+json"
	}
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set(authn.InternalHeader, internal)
	res, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var e struct {
		Code  string `json:"code"`
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if streaming && res.StatusCode == 200 {
		// The last envelope (flag 2) holds the end-of-stream error.
		for b := raw; len(b) >= 5; {
			n := int(binary.BigEndian.Uint32(b[1:5]))
			if len(b) < 5+n {
				break
			}
			if b[0]&2 != 0 {
				_ = json.Unmarshal(b[5:5+n], &e)
			}
			b = b[5+n:]
		}
		return e.Error.Code, res.StatusCode, string(raw)
	}
	_ = json.Unmarshal(raw, &e)
	return e.Code, res.StatusCode, string(raw)
}
