package compress

import (
	"bytes"
	stdgzip "compress/gzip"
	"fmt"
	"io"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// feedPage is shaped like a HomeFeed page of 10 posts in Connect JSON.
func feedPage() []byte {
	var b bytes.Buffer
	b.WriteString(`{"posts":[`)
	for i := range 10 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"6745a1b2c3d4e5f6a7b8c9%02d","author":{"id":"6745a1b2c3d4e5f6a7b8d0%02d","name":"user %d",`+
			`"profilePicture":"https://cdn.example.com/u/%d.jpg","isVerified":true},"type":"POST_TYPE_POST",`+
			`"content":"post number %d","mediaUrl":"https://cdn.example.com/p/%d.jpg","mediaType":"MEDIA_TYPE_IMAGE",`+
			`"likesCount":%d,"viewsCount":"%d","createdAt":"2026-11-27T04:%02d:00Z"}`, i, i, i*7919, i*7919, 199990+i, 199990+i, i*3, i*11, i)
	}
	b.WriteString(`],"page":{"nextCursor":"6745a1b2c3d4e5f6a7b8c909"}}`)
	return b.Bytes()
}

// A pooled compressor, reset between messages as Connect does, writes
// plain gzip that the standard library reads back.
func TestGzipRoundTrip(t *testing.T) {
	w, err := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		var out bytes.Buffer
		w.Reset(&out)
		if _, err := w.Write(feedPage()); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		r, err := stdgzip.NewReader(&out)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, feedPage()) {
			t.Fatalf("round trip: %v", err)
		}
	}
}

func BenchmarkGzipFeedPage(b *testing.B) {
	page := feedPage()
	kw, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	sw, _ := stdgzip.NewWriterLevel(io.Discard, stdgzip.BestSpeed)
	for _, c := range []struct {
		name string
		w    interface {
			io.WriteCloser
			Reset(io.Writer)
		}
	}{{"klauspost", kw}, {"stdlib", sw}} {
		b.Run(c.name, func(b *testing.B) {
			var out bytes.Buffer
			for b.Loop() {
				out.Reset()
				c.w.Reset(&out)
				_, _ = c.w.Write(page)
				_ = c.w.Close()
			}
			b.ReportMetric(float64(out.Len()), "bytes")
		})
	}
}
