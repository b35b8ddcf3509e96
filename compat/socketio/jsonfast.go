package socketio

import (
	"encoding/json"
	"unicode/utf8"
)

// Hand-rolled JSON for the per-message path: encoding/json's reflection
// (and its decoding of []json.RawMessage) was a tenth of the realtime
// tier's CPU per message. Output and results are byte-for-byte those of
// encoding/json; the tests compare them.

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string exactly as json.Marshal encodes
// it (HTML-safe: <, > and & escaped; invalid UTF-8 as \ufffd; U+2028 and
// U+2029 escaped).
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// valueEnd returns the end of the JSON value starting at b[i]; b must be
// valid JSON (json.Valid), so only strings and nesting need care.
func valueEnd(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch c := b[i]; c {
		case '"':
			i++
			for i < len(b) && b[i] != '"' {
				if b[i] == '\\' {
					i++
				}
				i++
			}
			i++ // the closing quote
			if depth == 0 {
				return i
			}
			continue
		case '[', '{':
			depth++
		case ']', '}':
			if depth == 0 {
				return i // a literal ended at the container's end
			}
			depth--
			if depth == 0 {
				return i + 1
			}
		case ',':
			if depth == 0 {
				return i
			}
		default:
			if depth == 0 && isSpace(c) {
				return i
			}
		}
		i++
	}
	return i
}

// splitArray returns the elements of the JSON array b (valid JSON), as
// json.Unmarshal into []json.RawMessage would, sharing b's bytes; false
// when b is not an array.
func splitArray(b []byte) ([]json.RawMessage, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return nil, false
	}
	i = skipSpace(b, i+1)
	var out []json.RawMessage
	if i < len(b) && b[i] == ']' {
		return out, true
	}
	for i < len(b) {
		end := valueEnd(b, i)
		out = append(out, json.RawMessage(b[i:end:end]))
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ',' {
			break
		}
		i = skipSpace(b, i+1)
	}
	return out, true
}

// plainString returns the content of the JSON string literal b when it
// needs no unescaping (no backslash, ASCII only): the common case.
func plainString(b []byte) (string, bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", false
	}
	for _, c := range b[1 : len(b)-1] {
		if c == '\\' || c >= utf8.RuneSelf {
			return "", false
		}
	}
	return string(b[1 : len(b)-1]), true
}

// decodeValidEvent is DecodeEvent for data already checked by json.Valid.
func decodeValidEvent(data []byte) (string, []json.RawMessage, error) {
	arr, ok := splitArray(data)
	if !ok || len(arr) == 0 {
		return "", nil, ErrBadEvent
	}
	name, ok := plainString(arr[0])
	if !ok {
		if err := json.Unmarshal(arr[0], &name); err != nil {
			return "", nil, ErrBadEvent
		}
	}
	if name == "" {
		return "", nil, ErrBadEvent
	}
	return name, arr[1:], nil
}

// ObjectMembers calls fn with each member of the JSON object b (which must
// be valid JSON, e.g. an argument of a decoded event), keys still quoted
// as in the input; false when b is not an object or fn stopped.
func ObjectMembers(b []byte, fn func(key, val []byte) bool) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	for i < len(b) && b[i] == '"' {
		kend := valueEnd(b, i)
		key := b[i:kend]
		i = skipSpace(b, kend)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipSpace(b, i+1)
		vend := valueEnd(b, i)
		if !fn(key, b[i:vend]) {
			return false
		}
		i = skipSpace(b, vend)
		if i >= len(b) || b[i] != ',' {
			break
		}
		i = skipSpace(b, i+1)
	}
	return true
}

// PlainString is the content of a JSON string literal that needs no
// unescaping (ASCII, no backslash); false otherwise.
func PlainString(b []byte) (string, bool) { return plainString(b) }
