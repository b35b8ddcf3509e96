package feed

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	feedv1 "github.com/infliq/infliq/backend/gen/infliq/feed/v1"
	postv1 "github.com/infliq/infliq/backend/gen/infliq/post/v1"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/mediaurl"
)

// samePage checks that pageCodec encodes m as protojson does: both fail,
// or both produce the same JSON value.
func samePage(t *testing.T, name string, m proto.Message) {
	t.Helper()
	got, errGot := pageCodec{"json"}.Marshal(m)
	want, errWant := protojson.Marshal(m)
	if (errGot != nil) != (errWant != nil) {
		t.Fatalf("%s: error %v, protojson's %v", name, errGot, errWant)
	}
	if errWant != nil {
		return
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: invalid JSON %s: %v", name, got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%s:\n got %s\nwant %s", name, got, want)
	}
	// And it decodes back to the same message.
	back := m.ProtoReflect().New().Interface()
	if err := (pageCodec{"json"}).Unmarshal(got, back); err != nil || !proto.Equal(back, m) {
		t.Fatalf("%s: round trip %v", name, err)
	}
}

// populate sets every field of m (recursively, lists of two) to a non-zero
// value, so a field added to the schema but not to pageCodec fails the test.
func populate(m protoreflect.Message, depth int) {
	fields := m.Descriptor().Fields()
	if m.Descriptor().FullName() == "google.protobuf.Timestamp" {
		m.Set(fields.ByName("seconds"), protoreflect.ValueOfInt64(1764216000))
		m.Set(fields.ByName("nanos"), protoreflect.ValueOfInt32(120_000_000))
		return
	}
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.Message() != nil && depth > 3 {
			continue
		}
		if fd.IsList() {
			l := m.Mutable(fd).List()
			for range 2 {
				if fd.Message() != nil {
					v := l.NewElement()
					populate(v.Message(), depth+1)
					l.Append(v)
				} else {
					l.Append(scalar(fd))
				}
			}
			continue
		}
		if fd.Message() != nil {
			populate(m.Mutable(fd).Message(), depth+1)
			continue
		}
		m.Set(fd, scalar(fd))
	}
}

func scalar(fd protoreflect.FieldDescriptor) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(string(fd.Name()) + ` "<&>" \ é`)
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(true)
	case protoreflect.EnumKind:
		return protoreflect.ValueOfEnum(1)
	case protoreflect.Int32Kind:
		return protoreflect.ValueOfInt32(int32(fd.Number()) * 1000)
	case protoreflect.Int64Kind:
		return protoreflect.ValueOfInt64(int64(fd.Number()) << 40)
	}
	panic(fmt.Sprintf("populate: add kind %v (%s)", fd.Kind(), fd.FullName()))
}

func pages(posts []*postv1.Post, page *commonv1.PageResponse) []proto.Message {
	return []proto.Message{
		&feedv1.HomeFeedResponse{Posts: posts, Page: page},
		&feedv1.GlobalFeedResponse{Posts: posts, Page: page},
		&feedv1.ReelsFeedResponse{Reels: posts, Page: page},
	}
}

func TestPageCodecMatchesProtojson(t *testing.T) {
	full := &postv1.Post{}
	populate(full.ProtoReflect(), 0)
	for _, m := range pages([]*postv1.Post{full, full}, &commonv1.PageResponse{NextCursor: "c"}) {
		samePage(t, "every field", m)
	}
	for _, m := range pages(nil, nil) {
		samePage(t, "empty", m)
	}
	for _, m := range pages(nil, &commonv1.PageResponse{}) {
		samePage(t, "empty page", m)
	}
	var cases []*postv1.Post
	for _, s := range []string{"", "a\x00b\x01\x1f\x7f\b\f\n\r\t\"\\/", "\u2028\u2029<>&", "emoji 😀 中文 \ufffd", "bad \xff utf8", "cut \xe4\xb8"} {
		cases = append(cases, &postv1.Post{Id: "p", Content: s, Author: &commonv1.UserSummary{Name: s}, LikerIds: []string{s}})
	}
	for _, ts := range []*timestamppb.Timestamp{
		{}, {Seconds: 1, Nanos: 1}, {Nanos: 1000}, {Nanos: 1_000_000}, {Nanos: 10_000_000}, {Nanos: 123_456_789}, {Nanos: 999_999_999},
		{Seconds: -1}, {Seconds: -62135596800}, {Seconds: 253402300799, Nanos: 5e8}, timestamppb.New(time.Date(1960, 2, 29, 1, 2, 3, 4e6, time.UTC)),
		{Seconds: -62135596801}, {Seconds: 253402300800}, {Nanos: -1}, {Nanos: 1e9},
	} {
		cases = append(cases, &postv1.Post{Id: "t", CreatedAt: ts, RecentComments: []*postv1.Comment{{CreatedAt: ts}}})
	}
	cases = append(cases,
		&postv1.Post{Type: 7, MediaType: -3, LikesCount: -5, ViewsCount: -1 << 62, SharesCount: 1 << 30},
		&postv1.Post{RecentComments: []*postv1.Comment{{}, {Author: &commonv1.UserSummary{}}}},
		&postv1.Post{Author: &commonv1.UserSummary{}},
		&postv1.Post{})
	for i, p := range cases {
		for _, m := range pages([]*postv1.Post{p, full}, &commonv1.PageResponse{NextCursor: "n"}) {
			samePage(t, fmt.Sprintf("case %d %T", i, m), m)
		}
	}
	// Other messages are protojson's.
	samePage(t, "other", &feedv1.StoryFeedResponse{Groups: []*feedv1.StoryGroup{{HasUnviewed: true}}})
}

func FuzzPageCodec(f *testing.F) {
	f.Add("a", "b", int64(1), int32(2), int64(3), int32(4))
	f.Add("\xff", "<\u2028>", int64(-1), int32(-1), int64(-62135596801), int32(1e9))
	f.Fuzz(func(t *testing.T, s1, s2 string, n64 int64, n32 int32, secs int64, nanos int32) {
		p := &postv1.Post{Id: s1, Content: s2, Author: &commonv1.UserSummary{Name: s2, Id: s1}, LikesCount: n32, ViewsCount: n64,
			Type: postv1.PostType(n32), MediaType: postv1.MediaType(nanos), LikerIds: []string{s1, s2},
			CreatedAt: &timestamppb.Timestamp{Seconds: secs, Nanos: nanos}}
		for _, m := range pages([]*postv1.Post{p}, &commonv1.PageResponse{NextCursor: s1}) {
			samePage(t, "fuzz", m)
		}
	})
}

// BenchmarkPageCodec encodes a HomeFeed page of 10 posts.
func BenchmarkPageCodec(b *testing.B) {
	posts := make([]*postv1.Post, 10)
	for i := range posts {
		posts[i] = &postv1.Post{
			Id: fmt.Sprintf("6745a1b2c3d4e5f6a7b8c9%02d", i), Type: postv1.PostType_POST_TYPE_POST,
			Author:  &commonv1.UserSummary{Id: fmt.Sprintf("6745a1b2c3d4e5f6a7b8d0%02d", i), Name: "user", ProfilePicture: "https://cdn.example.com/u/1.jpg"},
			Content: fmt.Sprintf("post number %d", i), MediaUrl: "https://cdn.example.com/p/1.jpg", MediaType: postv1.MediaType_MEDIA_TYPE_IMAGE,
			LikesCount: 3, ViewsCount: 12, CreatedAt: timestamppb.Now(),
		}
	}
	m := &feedv1.HomeFeedResponse{Posts: posts, Page: &commonv1.PageResponse{NextCursor: "6745a1b2c3d4e5f6a7b8c909"}}
	buf := make([]byte, 0, 8<<10)
	b.Run("pageCodec", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf, _ = pageCodec{"json"}.MarshalAppend(buf[:0], m)
		}
	})
	b.Run("protojson", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf, _ = protojson.MarshalOptions{}.MarshalAppend(buf[:0], m)
		}
	})
}

// resolvePosts resolves exactly the fields the mediaurl interceptor
// rewrites, including any a schema change may add.
func TestResolvePostsMatchesRewrite(t *testing.T) {
	r := mediaurl.New(config.S3{Bucket: "media", Region: "eu-west-1", CloudFrontDomain: "d111.cloudfront.net"})
	s := &Service{media: r}
	p := &postv1.Post{}
	populate(p.ProtoReflect(), 0)
	stored := proto.Clone(p)
	want := proto.Clone(p)
	r.Rewrite(want)
	s.resolvePosts([]*postv1.Post{p})
	if !proto.Equal(p, want) || proto.Equal(p, stored) {
		t.Fatalf("resolvePosts: %v, want %v", p, want)
	}
}
