// Package safetext refuses text that PostgreSQL cannot store or that a JSON
// decoder would silently rewrite: a NUL byte (Postgres text refuses it, which
// surfaced as a 500) and invalid UTF-8 (encoding/json turns it into U+FFFD,
// so it was stored altered). It is applied once at each edge: every Connect
// request message (Interceptor), every legacy JSON body (JSON) and every
// socket event (JSON on the event's bytes). The error names the field.
package safetext

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/infliq/infliq/backend/platform/apperr"
)

// String reports why s is refused ("" when it is fine).
func String(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		return "contains a NUL byte"
	}
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	return ""
}

func refuse(field, why string) *apperr.Error {
	return apperr.BadRequest(field + " " + why)
}

// Message checks every string of m, nested, repeated and map keys and
// values included; the error is invalid_argument naming the field path.
func Message(m proto.Message) error {
	if m == nil {
		return nil
	}
	return walk(m.ProtoReflect(), "")
}

func walk(m protoreflect.Message, prefix string) error {
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		name := prefix + string(fd.Name())
		switch {
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				if fd.MapKey().Kind() == protoreflect.StringKind {
					if why := String(k.String()); why != "" {
						err = refuse(name+" key", why)
						return false
					}
				}
				err = value(fd.MapValue(), mv, name+"["+strconv.Quote(k.String())+"]")
				return err == nil
			})
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len() && err == nil; i++ {
				err = value(fd, l.Get(i), name+"["+strconv.Itoa(i)+"]")
			}
		default:
			err = value(fd, v, name)
		}
		return err == nil
	})
	return err
}

func value(fd protoreflect.FieldDescriptor, v protoreflect.Value, name string) error {
	switch fd.Kind() {
	case protoreflect.StringKind:
		if why := String(v.String()); why != "" {
			return refuse(name, why)
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return walk(v.Message(), name+".")
	}
	return nil
}

// Interceptor checks every request message, unary and streamed, before the
// handler (and the validate interceptor) sees it. perItem lists procedures
// that check their items' text themselves and answer per item, so that one
// bad item of a batch does not fail the others.
func Interceptor(perItem ...string) connect.Interceptor {
	skip := map[string]bool{}
	for _, p := range perItem {
		skip[p] = true
	}
	return interceptor{skip: skip}
}

type interceptor struct{ skip map[string]bool }

func (i interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if m, ok := req.Any().(proto.Message); ok && !req.Spec().IsClient && !i.skip[req.Spec().Procedure] {
			if err := Message(m); err != nil {
				return nil, apperr.ToConnect(apperr.From(err))
			}
		}
		return next(ctx, req)
	}
}

func (i interceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i interceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if i.skip[conn.Spec().Procedure] {
			return next(ctx, conn)
		}
		return next(ctx, checkedConn{conn})
	}
}

type checkedConn struct{ connect.StreamingHandlerConn }

func (c checkedConn) Receive(m any) error {
	if err := c.StreamingHandlerConn.Receive(m); err != nil {
		return err
	}
	if pm, ok := m.(proto.Message); ok {
		if err := Message(pm); err != nil {
			return apperr.ToConnect(apperr.From(err))
		}
	}
	return nil
}

// JSON checks a JSON document's strings (keys and values) on its raw
// bytes, before a decoder replaces invalid UTF-8: NUL (\u0000, or an
// escaped lone surrogate, which decodes to U+FFFD) and invalid UTF-8 are
// refused with an error naming the field, e.g. "content" or "[1].text".
// Malformed JSON is left to the decoder.
func JSON(raw []byte) error {
	valid := utf8.Valid(raw)
	if valid && !bytes.Contains(raw, []byte(`\u`)) {
		return nil // the common case: no escapes that could hide a NUL
	}
	field, why := locate(raw, valid)
	if why == "" {
		return nil
	}
	if field == "" {
		field = "body"
	}
	return refuse(field, why)
}

// locate walks the document and names the first bad string. Invalid UTF-8
// is found by the replacement character the decoder leaves for it.
func locate(raw []byte, valid bool) (string, string) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	type frame struct {
		array bool
		index int
		key   string
		isKey bool // the next string in this object is a key
	}
	var stack []*frame
	path := func() string {
		var b strings.Builder
		for _, f := range stack {
			if f.array {
				b.WriteString("[" + strconv.Itoa(f.index) + "]")
			} else if f.key != "" {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			}
		}
		return b.String()
	}
	advance := func() {
		if n := len(stack); n > 0 {
			if f := stack[n-1]; f.array {
				f.index++
			} else {
				f.isKey = true
			}
		}
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) || err != nil {
			if !valid {
				return path(), "is not valid UTF-8"
			}
			return "", ""
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, &frame{isKey: true})
			case '[':
				stack = append(stack, &frame{array: true})
			default:
				stack = stack[:len(stack)-1]
				advance()
			}
		case string:
			bad := ""
			if strings.IndexByte(t, 0) >= 0 {
				bad = "contains a NUL byte"
			} else if strings.ContainsRune(t, utf8.RuneError) && (!valid || loneSurrogate(raw)) {
				bad = "is not valid UTF-8"
			}
			if n := len(stack); n > 0 && !stack[n-1].array && stack[n-1].isKey {
				stack[n-1].key, stack[n-1].isKey = t, false
				if bad != "" {
					return path() + " key", bad
				}
				continue
			}
			if bad != "" {
				return path(), bad
			}
			advance()
		default:
			advance()
		}
	}
}

// loneSurrogate reports an escaped UTF-16 surrogate that is not half of a
// pair (\uD800-\uDBFF then \uDC00-\uDFFF): the decoder turns it into U+FFFD.
func loneSurrogate(raw []byte) bool {
	esc := func(i int) (rune, bool) { // the \uXXXX escape at i
		if i+6 > len(raw) || raw[i] != '\\' || raw[i+1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 16)
		return rune(v), err == nil
	}
	for i := 0; i < len(raw); {
		if raw[i] != '\\' {
			i++
			continue
		}
		r, ok := esc(i)
		if !ok {
			i += 2 // another escape (\\, \", …)
			continue
		}
		switch {
		case r >= 0xD800 && r <= 0xDBFF:
			if lo, ok := esc(i + 6); ok && lo >= 0xDC00 && lo <= 0xDFFF {
				i += 12
				continue
			}
			return true
		case r >= 0xDC00 && r <= 0xDFFF:
			return true
		}
		i += 6
	}
	return false
}
