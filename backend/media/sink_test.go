package media

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/infliq/infliq/backend/platform/config"
)

// sinkS3 is a loopback S3 stand-in that accepts PutObject and multipart
// uploads and discards the bytes, counting them. gofakes3 keeps every part
// in memory, which would hide the media path's own memory use in the same
// process; the sink keeps none.
type sinkS3 struct {
	received  atomic.Int64
	completed atomic.Int64
	aborted   atomic.Int64
	uploads   atomic.Int64
}

func (s *sinkS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	key := strings.TrimPrefix(r.URL.Path, "/"+testBucket+"/")
	switch {
	case r.Method == http.MethodPost && q.Has("uploads"):
		n := s.uploads.Add(1)
		w.Header().Set("Content-Type", "application/xml")
		fmt.Fprintf(w, `<InitiateMultipartUploadResult><Bucket>%s</Bucket><Key>%s</Key><UploadId>u%d</UploadId></InitiateMultipartUploadResult>`, testBucket, key, n)
	case r.Method == http.MethodPut:
		n, _ := io.Copy(io.Discard, r.Body)
		s.received.Add(n)
		w.Header().Set("ETag", `"e`+q.Get("partNumber")+`"`)
	case r.Method == http.MethodPost && q.Has("uploadId"):
		_, _ = io.Copy(io.Discard, r.Body)
		s.completed.Add(1)
		w.Header().Set("Content-Type", "application/xml")
		fmt.Fprintf(w, `<CompleteMultipartUploadResult><Bucket>%s</Bucket><Key>%s</Key><ETag>"x"</ETag></CompleteMultipartUploadResult>`, testBucket, key)
	case r.Method == http.MethodDelete:
		if q.Has("uploadId") {
			s.aborted.Add(1)
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

func newSink(t testing.TB) (*sinkS3, config.S3) {
	s := &sinkS3{}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, config.S3{AccessKeyID: "test", SecretAccessKey: "test-secret", Region: "us-east-1", Bucket: testBucket, Endpoint: srv.URL, ForcePathStyle: true}
}

// videoStream is an endless-looking MP4: a real ftyp header, then n bytes.
type videoStream struct {
	head []byte
	left int64
}

// pattern is the filler of videoStream (cheap to copy, not all zeros).
var pattern = func() (b [4096]byte) {
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}()

func newVideoStream(n int64) *videoStream { return &videoStream{head: mp4Header("isom"), left: n} }

func (v *videoStream) Read(p []byte) (int, error) {
	if len(v.head) > 0 {
		c := copy(p, v.head)
		v.head = v.head[c:]
		return c, nil
	}
	if v.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > v.left {
		p = p[:v.left]
	}
	n := copy(p, pattern[:])
	for n < len(p) {
		n += copy(p[n:], p[:n])
	}
	v.left -= int64(len(p))
	return len(p), nil
}

// streamingForm writes a multipart form with one `file` part from src
// without ever holding it, and returns the body and its content type.
func streamingForm(field, name, ctype string, src io.Reader) (io.Reader, string) {
	pr, pw := io.Pipe()
	boundary := "infliqtestboundary0123456789"
	go func() {
		_, err := io.WriteString(pw, "--"+boundary+"\r\nContent-Disposition: form-data; name=\""+field+"\"; filename=\""+name+"\"\r\nContent-Type: "+ctype+"\r\n\r\n")
		if err == nil {
			_, err = io.Copy(pw, src)
		}
		if err == nil {
			_, err = io.WriteString(pw, "\r\n--"+boundary+"--\r\n")
		}
		pw.CloseWithError(err)
	}()
	return pr, "multipart/form-data; boundary=" + boundary
}
