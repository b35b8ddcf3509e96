package feed

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	feedv1 "github.com/infliq/infliq/backend/gen/infliq/feed/v1"
	postv1 "github.com/infliq/infliq/backend/gen/infliq/post/v1"
	"github.com/infliq/infliq/backend/platform/tier"
)

// pageCodec is the feed service's Connect JSON codec. protojson walks every
// message by reflection, which cost as much CPU per feed page as the page
// query; the feed pages (HomeFeed, GlobalFeed, ReelsFeed responses) are
// encoded here directly instead, as protojson would (proto3 JSON: unset
// fields omitted, enums by name, int64 quoted, RFC 3339 timestamps).
// Anything else, and any page it cannot encode the same way (invalid UTF-8,
// out-of-range timestamps), goes to protojson. TestPageCodecMatchesProtojson
// pins the output to protojson's, field by field.
type pageCodec struct{ name string }

// withPageCodec registers pageCodec for both JSON content types Connect serves.
func withPageCodec() connect.HandlerOption {
	return connect.WithHandlerOptions(
		connect.WithCodec(pageCodec{"json"}),
		connect.WithCodec(pageCodec{"json; charset=utf-8"}))
}

func (c pageCodec) Name() string { return c.name }

func (c pageCodec) Marshal(msg any) ([]byte, error) { return c.MarshalAppend(nil, msg) }

func (c pageCodec) MarshalAppend(dst []byte, msg any) ([]byte, error) {
	var (
		posts []*postv1.Post
		page  *commonv1.PageResponse
		field = "posts"
	)
	switch m := msg.(type) {
	case *feedv1.HomeFeedResponse:
		posts, page = m.GetPosts(), m.GetPage()
	case *feedv1.GlobalFeedResponse:
		posts, page = m.GetPosts(), m.GetPage()
	case *feedv1.ReelsFeedResponse:
		posts, page, field = m.GetReels(), m.GetPage(), "reels"
	default:
		return protojsonAppend(dst, msg)
	}
	if out, ok := appendPage(dst, field, posts, page); ok {
		return out, nil
	}
	return protojsonAppend(dst, msg)
}

func protojsonAppend(dst []byte, msg any) ([]byte, error) {
	m, ok := msg.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%T is not a proto.Message", msg)
	}
	return protojson.MarshalOptions{}.MarshalAppend(dst, m)
}

// Unmarshal is Connect's own JSON decoding (unknown fields are discarded).
func (c pageCodec) Unmarshal(data []byte, msg any) error {
	m, ok := msg.(proto.Message)
	if !ok {
		return tier.ErrMalformed
	}
	if len(data) == 0 {
		return tier.ErrMalformed
	}
	if unmarshalPageRequest(data, msg) {
		return nil
	}
	return tier.JSONCodec{CodecName: c.name}.Unmarshal(data, m)
}

// jsonObject appends the members of one JSON object, omitting unset values.
type jsonObject struct {
	b  []byte
	n  int
	ok bool // false once a value protojson would reject or format otherwise was seen
}

func (o *jsonObject) key(k string) {
	if o.n > 0 {
		o.b = append(o.b, ',')
	}
	o.n++
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, '"', ':')
}

func (o *jsonObject) str(k, v string) {
	if v != "" {
		o.key(k)
		o.quote(v)
	}
}

// quote is protojson's string escaping: quote, backslash and control
// characters only (no HTML escaping); invalid UTF-8 is protojson's error.
func (o *jsonObject) quote(s string) {
	o.b = append(o.b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				o.ok = false
			}
			i += n
			continue
		}
		if c >= ' ' && c != '"' && c != '\\' {
			i++
			continue
		}
		o.b = append(o.b, s[start:i]...)
		switch c {
		case '"', '\\':
			o.b = append(o.b, '\\', c)
		case '\b':
			o.b = append(o.b, '\\', 'b')
		case '\f':
			o.b = append(o.b, '\\', 'f')
		case '\n':
			o.b = append(o.b, '\\', 'n')
		case '\r':
			o.b = append(o.b, '\\', 'r')
		case '\t':
			o.b = append(o.b, '\\', 't')
		default:
			o.b = append(o.b, '\\', 'u', '0', '0', hexDigit[c>>4], hexDigit[c&0xf])
		}
		i++
		start = i
	}
	o.b = append(o.b, s[start:]...)
	o.b = append(o.b, '"')
}

const hexDigit = "0123456789abcdef"

func (o *jsonObject) int32(k string, v int32) {
	if v != 0 {
		o.key(k)
		o.b = strconv.AppendInt(o.b, int64(v), 10)
	}
}

func (o *jsonObject) int64(k string, v int64) {
	if v != 0 {
		o.key(k)
		o.b = append(o.b, '"')
		o.b = strconv.AppendInt(o.b, v, 10)
		o.b = append(o.b, '"')
	}
}

func (o *jsonObject) bool(k string, v bool) {
	if v {
		o.key(k)
		o.b = append(o.b, "true"...)
	}
}

// enum is an enum value by name, or by number when the name is unknown.
func (o *jsonObject) enum(k string, v int32, names map[int32]string) {
	if v == 0 {
		return
	}
	o.key(k)
	if name, ok := names[v]; ok {
		o.b = append(o.b, '"')
		o.b = append(o.b, name...)
		o.b = append(o.b, '"')
		return
	}
	o.b = strconv.AppendInt(o.b, int64(v), 10)
}

func (o *jsonObject) strings(k string, vs []string) {
	if len(vs) == 0 {
		return
	}
	o.key(k)
	o.b = append(o.b, '[')
	for i, v := range vs {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		o.quote(v)
	}
	o.b = append(o.b, ']')
}

// Timestamp range protojson accepts: 0001-01-01 to 9999-12-31 UTC.
const (
	minTimestampSeconds = -62135596800
	maxTimestampSeconds = 253402300799
)

// timestamp is RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits.
func (o *jsonObject) timestamp(k string, ts *timestamppb.Timestamp) {
	if ts == nil {
		return
	}
	secs, nanos := ts.GetSeconds(), ts.GetNanos()
	if secs < minTimestampSeconds || secs > maxTimestampSeconds || nanos < 0 || nanos > 999_999_999 {
		o.ok = false
		return
	}
	o.key(k)
	o.b = append(o.b, '"')
	o.b = time.Unix(secs, 0).UTC().AppendFormat(o.b, "2006-01-02T15:04:05")
	if nanos != 0 {
		digits := 9
		for nanos%1000 == 0 {
			nanos /= 1000
			digits -= 3
		}
		var frac [10]byte
		frac[0] = '.'
		for i := digits; i > 0; i-- {
			frac[i] = byte('0' + nanos%10)
			nanos /= 10
		}
		o.b = append(o.b, frac[:digits+1]...)
	}
	o.b = append(o.b, 'Z', '"')
}

// open starts a nested object; close ends it and takes its bytes back.
func (o *jsonObject) open() jsonObject { return jsonObject{b: append(o.b, '{'), ok: true} }

func (o *jsonObject) close(inner *jsonObject) {
	o.b = append(inner.b, '}')
	o.ok = o.ok && inner.ok
}

func (o *jsonObject) user(k string, u *commonv1.UserSummary) {
	if u == nil {
		return
	}
	o.key(k)
	in := o.open()
	in.str("id", u.GetId())
	in.str("name", u.GetName())
	in.str("profilePicture", u.GetProfilePicture())
	in.bool("isVerified", u.GetIsVerified())
	o.close(&in)
}

func (o *jsonObject) post(p *postv1.Post) {
	o.str("id", p.GetId())
	o.user("author", p.GetAuthor())
	o.enum("type", int32(p.GetType()), postv1.PostType_name)
	o.str("content", p.GetContent())
	o.str("mediaUrl", p.GetMediaUrl())
	o.enum("mediaType", int32(p.GetMediaType()), postv1.MediaType_name)
	o.str("thumbnailUrl", p.GetThumbnailUrl())
	o.int32("likesCount", p.GetLikesCount())
	o.int32("commentsCount", p.GetCommentsCount())
	o.int64("viewsCount", p.GetViewsCount())
	o.int32("sharesCount", p.GetSharesCount())
	o.bool("isLiked", p.GetIsLiked())
	o.strings("likerIds", p.GetLikerIds())
	o.timestamp("createdAt", p.GetCreatedAt())
	if cs := p.GetRecentComments(); len(cs) > 0 {
		o.key("recentComments")
		o.b = append(o.b, '[')
		for i, c := range cs {
			if i > 0 {
				o.b = append(o.b, ',')
			}
			in := o.open()
			in.str("id", c.GetId())
			in.str("postId", c.GetPostId())
			in.user("author", c.GetAuthor())
			in.str("text", c.GetText())
			in.timestamp("createdAt", c.GetCreatedAt())
			o.close(&in)
		}
		o.b = append(o.b, ']')
	}
}

// appendPage appends {"<field>":[posts…],"page":{…}}; ok is false when
// protojson must encode the page instead.
func appendPage(dst []byte, field string, posts []*postv1.Post, page *commonv1.PageResponse) ([]byte, bool) {
	o := jsonObject{b: append(dst, '{'), ok: true}
	if len(posts) > 0 {
		o.key(field)
		o.b = append(o.b, '[')
		for i, p := range posts {
			if i > 0 {
				o.b = append(o.b, ',')
			}
			in := o.open()
			in.post(p)
			o.close(&in)
		}
		o.b = append(o.b, ']')
	}
	if page != nil {
		o.key("page")
		in := o.open()
		in.str("nextCursor", page.GetNextCursor())
		o.close(&in)
	}
	return append(o.b, '}'), o.ok
}
