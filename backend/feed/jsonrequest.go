package feed

import (
	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	feedv1 "github.com/infliq/infliq/backend/gen/infliq/feed/v1"
	postv1 "github.com/infliq/infliq/backend/gen/infliq/post/v1"
)

// unmarshalPageRequest decodes the compact JSON page requests clients send
// (`{"page":{"limit":10}}`, a cursor, an offset) without protojson, which
// costs more than the rest of decoding a request. It accepts only
// unescaped members without whitespace, each at most once, and reports
// false for anything else, which protojson then decodes; what it accepts
// decodes as protojson would (FuzzPageRequestMatchesProtojson).
func unmarshalPageRequest(data []byte, msg any) bool {
	var page **commonv1.PageRequest
	var off **postv1.PageOffset
	switch m := msg.(type) {
	case *feedv1.HomeFeedRequest:
		page, off = &m.Page, &m.Offset
	case *feedv1.GlobalFeedRequest:
		page, off = &m.Page, &m.Offset
	case *feedv1.ReelsFeedRequest:
		page, off = &m.Page, &m.Offset
	default:
		return false
	}
	var p *commonv1.PageRequest
	var o *postv1.PageOffset
	d := jsonScan{b: data}
	ok := d.object(func(key string) bool {
		switch {
		case key == "page" && p == nil:
			p = &commonv1.PageRequest{}
			var cursor, limit bool
			return d.object(func(key string) bool {
				switch {
				case key == "cursor" && !cursor:
					cursor = true
					p.Cursor, cursor = d.token()
					return cursor
				case key == "limit" && !limit:
					limit = true
					p.Limit, limit = d.int32()
					return limit
				}
				return false
			})
		case key == "offset" && o == nil:
			o = &postv1.PageOffset{}
			var seen bool
			return d.object(func(key string) bool {
				if key != "offset" || seen {
					return false
				}
				o.Offset, seen = d.int32()
				return seen
			})
		}
		return false
	})
	if !ok || len(d.b) != 0 {
		return false
	}
	*page, *off = p, o
	return true
}

// jsonScan reads the strict JSON subset unmarshalPageRequest accepts.
type jsonScan struct{ b []byte }

func (d *jsonScan) next(c byte) bool {
	if len(d.b) == 0 || d.b[0] != c {
		return false
	}
	d.b = d.b[1:]
	return true
}

// object reads {"key":value,…}, calling member after each key's colon.
func (d *jsonScan) object(member func(key string) bool) bool {
	if !d.next('{') {
		return false
	}
	if d.next('}') {
		return true
	}
	for {
		key, ok := d.token()
		if !ok || !d.next(':') || !member(key) {
			return false
		}
		if d.next('}') {
			return true
		}
		if !d.next(',') {
			return false
		}
	}
}

// token reads a string of [A-Za-z0-9_-] (keys and cursors), which needs no
// unescaping or UTF-8 validation.
func (d *jsonScan) token() (string, bool) {
	if !d.next('"') {
		return "", false
	}
	for i, c := range d.b {
		switch {
		case c == '"':
			s := string(d.b[:i])
			d.b = d.b[i+1:]
			return s, true
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
		default:
			return "", false
		}
	}
	return "", false
}

// int32 reads a non-negative integer of at most 9 digits without leading zeros.
func (d *jsonScan) int32() (int32, bool) {
	var n int32
	i := 0
	for ; i < len(d.b) && i < 10 && '0' <= d.b[i] && d.b[i] <= '9'; i++ {
		n = n*10 + int32(d.b[i]-'0')
	}
	if i == 0 || i > 9 || (i > 1 && d.b[0] == '0') {
		return 0, false
	}
	d.b = d.b[i:]
	return n, true
}
