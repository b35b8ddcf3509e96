package media

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	mediav1 "github.com/infliq/infliq/backend/gen/infliq/media/v1"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
)

// auditStatuses lists uid's audit rows' statuses.
func (e *env) auditStatuses(uid id.ID) []string {
	e.t.Helper()
	rows, err := e.svc.db.db.Query(context.Background(), `SELECT status FROM media_audit_logs WHERE user_id = $1 ORDER BY created_at`, uid.String())
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// mediaRows counts uid's recorded media objects.
func (e *env) mediaRows(uid id.ID) int {
	e.t.Helper()
	var n int
	if err := e.svc.db.db.QueryRow(context.Background(), `SELECT count(*) FROM media_objects WHERE owner_id = $1`, uid.String()).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// leftNothing checks that a failed upload stored no object and no media
// row, and recorded exactly one audit row, a failed one.
func (e *env) leftNothing(what string, uid id.ID) {
	e.t.Helper()
	if keys := e.objects(); len(keys) != 0 {
		e.t.Errorf("%s: objects left: %v", what, keys)
	}
	if n := e.mediaRows(uid); n != 0 {
		e.t.Errorf("%s: %d media rows recorded", what, n)
	}
	if st := e.auditStatuses(uid); len(st) != 1 || st[0] == "success" {
		e.t.Errorf("%s: audit rows %v, want one failed row", what, st)
	}
}

// noisyPNG is an n×n PNG that compresses badly (a few KB), so half of it
// holds whole chunks.
func noisyPNG(t testing.TB, n int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, n, n))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7919 % 251)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// truncatedForm is a multipart body cut inside the file: half a PNG and no
// closing boundary.
func truncatedForm(field string, png []byte) (string, string) {
	const b = "truncboundary42"
	return "--" + b + "\r\nContent-Disposition: form-data; name=\"" + field + "\"; filename=\"x.png\"\r\nContent-Type: image/png\r\n\r\n" +
		string(png[:len(png)/2]), "multipart/form-data; boundary=" + b
}

// TestTruncatedUploadStoresNothing: a multipart body that ends inside the
// file (the request itself complete) is a 400 on both legacy routes and
// leaves no object behind.
func TestTruncatedUploadStoresNothing(t *testing.T) {
	img := noisyPNG(t, 40)
	for _, route := range []struct{ path, field string }{{"/api/media/upload", "file"}, {"/api/media/upload-multiple", "files"}} {
		e := newEnv(t)
		uid := id.New()
		body, ct := truncatedForm(route.field, img)
		status, m := e.legacyUpload(route.path, uid, strings.NewReader(body), ct)
		if status != http.StatusBadRequest {
			t.Errorf("%s: %d %v, want 400", route.path, status, m)
		}
		e.leftNothing(route.path, uid)
	}
}

// TestAbortedUploadStoresNothing: a client that declares a body and hangs up
// halfway leaves no object and one failed audit row.
func TestAbortedUploadStoresNothing(t *testing.T) {
	img := noisyPNG(t, 40)
	e := newEnv(t)
	uid := id.New()
	body, ct := truncatedForm("file", img)
	c, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "POST /api/media/upload HTTP/1.1\r\nHost: media\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s",
		tiertest.Token(t, uid), ct, len(body)*4, body)
	_ = c.Close()
	// The tier finishes on its own: wait for its audit row.
	for i := 0; len(e.auditStatuses(uid)) == 0; i++ {
		if i == 200 {
			t.Fatal("no audit row after the client aborted")
		}
		time.Sleep(25 * time.Millisecond)
	}
	e.leftNothing("aborted upload", uid)
}

// TestPresignedTruncatedUploadRefused: an object uploaded through the
// presigned POST that is shorter than the size CreateUpload declared (half a
// PNG, half a video) is deleted and refused at CompleteUpload, and nothing is
// recorded but the failed completion. (Real S3 refuses such a POST through
// the policy's exact content-length-range; gofakes3, like other stores, does
// not, so the tier checks the size pinned in the object's metadata.)
func TestPresignedTruncatedUploadRefused(t *testing.T) {
	video := append(mp4Header("isom"), bytes.Repeat([]byte{0x42}, 4096)...)
	for _, tc := range []struct {
		ct   string
		file []byte
	}{{"image/png", noisyPNG(t, 40)}, {"video/mp4", video}} {
		e := newEnv(t)
		uid := id.New()
		ctx := context.Background()
		c := e.client(uid, false)
		res, err := c.CreateUpload(ctx, connect.NewRequest(&mediav1.CreateUploadRequest{ContentType: tc.ct, SizeBytes: int64(len(tc.file))}))
		if err != nil {
			t.Fatal(err)
		}
		parts := []formPart{}
		for k, v := range res.Msg.Fields {
			parts = append(parts, formPart{field: k, body: []byte(v)})
		}
		parts = append(parts, formPart{field: "file", filename: "x", contentType: tc.ct, body: tc.file[:len(tc.file)/2]})
		body, ct := multipartBody(t, parts...)
		pres, err := http.Post(res.Msg.Url, ct, body)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, pres.Body)
		pres.Body.Close()
		if pres.StatusCode/100 != 2 {
			t.Fatalf("%s: presigned POST: %d", tc.ct, pres.StatusCode)
		}
		if _, err := c.CompleteUpload(ctx, connect.NewRequest(&mediav1.CompleteUploadRequest{Key: res.Msg.Key})); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("%s: complete of a truncated object: %v", tc.ct, err)
		}
		if keys := e.objects(); len(keys) != 0 {
			t.Errorf("%s: objects left: %v", tc.ct, keys)
		}
		if n := e.mediaRows(uid); n != 0 {
			t.Errorf("%s: %d media rows recorded", tc.ct, n)
		}
		// create-upload succeeded; the completion is the one failed row.
		if st := e.auditStatuses(uid); len(st) != 2 || st[0] != "success" || st[1] == "success" {
			t.Errorf("%s: audit rows %v, want a successful create and a failed complete", tc.ct, st)
		}
	}
}
