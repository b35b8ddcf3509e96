package media

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	mediav1 "github.com/infliq/infliq/backend/gen/infliq/media/v1"
	"github.com/infliq/infliq/backend/gen/infliq/media/v1/mediav1connect"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
)

// legacyUpload posts a multipart body to the tier and decodes the JSON reply.
func (e *env) legacyUpload(path string, uid id.ID, body io.Reader, ct string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url+path, body)
	req.Header.Set("Content-Type", ct)
	if !uid.IsZero() {
		req.Header.Set("Authorization", "Bearer "+tiertest.Token(e.t, uid))
	}
	res, err := e.h1.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
		e.t.Fatalf("%s: status %d, body is not JSON: %v", path, res.StatusCode, err)
	}
	return res.StatusCode, m
}

// objects lists the bucket's keys.
func (e *env) objects() []string {
	e.t.Helper()
	out, err := e.st.client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: &e.st.bucket})
	if err != nil {
		e.t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, *o.Key)
	}
	return keys
}

func (e *env) get(url string) (*http.Response, []byte) {
	e.t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(url)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

func TestLegacyUploadHappyPathStripsEXIFAndRenders(t *testing.T) {
	e := newEnv(t)
	uid := id.New()
	img := testJPEG(t, 1600, 900, 6)
	body, ct := multipartBody(t, formPart{field: "file", filename: "profile.jpg", contentType: "image/jpg", body: img})
	status, m := e.legacyUpload("/api/media/upload", uid, body, ct)
	if status != 200 || m["success"] != true {
		t.Fatalf("upload: %d %v", status, m)
	}
	key, _ := m["key"].(string)
	if !strings.HasPrefix(key, "general/"+uid.String()+"/") || !strings.HasSuffix(key, ".jpg") || m["bucket"] != testBucket {
		t.Fatalf("key/bucket: %v", m)
	}
	if _, ok := m["thumbnailUrl"]; !ok || m["thumbnailUrl"] != nil {
		t.Fatalf("thumbnailUrl must be present and null for images: %v", m)
	}
	url, _ := m["url"].(string)
	if !strings.HasPrefix(url, ProxyPath) || !strings.HasSuffix(url, "_display.jpg") {
		t.Fatalf("url should be the display rendition's proxy URL: %q", url)
	}
	// Stored original: no GPS, right type.
	rc, err := e.st.Open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := io.ReadAll(rc)
	rc.Close()
	if bytes.Contains(stored, []byte("GPS-SECRET")) {
		t.Fatal("EXIF GPS stored")
	}
	_, ctype, _, _ := e.st.Head(context.Background(), key)
	if ctype != "image/jpeg" {
		t.Fatalf("stored content type %q", ctype)
	}
	// Display rendition: 1200 px long side, JPEG.
	rc, err = e.st.Open(context.Background(), renditionKey(key, "_display.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	disp, _ := io.ReadAll(rc)
	rc.Close()
	if cfg, format, err := decodeConfig(disp); err != nil || format != "jpeg" || cfg.Width != 1200 || cfg.Height != 675 {
		t.Fatalf("display: %v %s %v", cfg, format, err)
	}
	// The proxy redirects to a signed URL that serves the bytes.
	res, _ := e.get(e.url + ProxyPath + key)
	if res.StatusCode != http.StatusFound {
		t.Fatalf("proxy: %d", res.StatusCode)
	}
	res2, got := e.get(res.Header.Get("Location"))
	if res2.StatusCode != 200 || !bytes.Equal(got, stored) {
		t.Fatalf("signed GET: %d (%d bytes)", res2.StatusCode, len(got))
	}
	// Recorded and listable.
	lr, err := e.client(uid, true).ListMedia(context.Background(), connect.NewRequest(&mediav1.ListMediaRequest{}))
	if err != nil || len(lr.Msg.Objects) != 1 || lr.Msg.Objects[0].Key != key || lr.Msg.Objects[0].DisplayUrl == "" {
		t.Fatalf("list: %v %v", lr, err)
	}
}

func TestLegacyUploadRejections(t *testing.T) {
	e := newEnv(t, func(m *configMedia, _ *configS3) { m.MaxFileSize = 1 << 20 })
	uid := id.New()
	png := testPNG(t, 10, 10)
	cases := []struct {
		name   string
		parts  []formPart
		status int
		code   string
	}{
		{"no file", []formPart{{field: "folder", body: []byte("posts")}}, 400, "BAD_REQUEST"},
		{"wrong field", []formPart{{field: "image", filename: "a.png", contentType: "image/png", body: png}}, 400, "BAD_REQUEST"},
		{"bad folder", []formPart{{field: "folder", body: []byte("../etc")}, {field: "file", filename: "a.png", contentType: "image/png", body: png}}, 400, "MEDIA_INVALID_FOLDER"},
		{"html declared as image", []formPart{{field: "file", filename: "a.png", contentType: "image/png", body: []byte("<html><script>x</script></html>")}}, 400, "BAD_REQUEST"},
		{"svg type", []formPart{{field: "file", filename: "a.svg", contentType: "image/svg+xml", body: []byte("<svg/>")}}, 400, "BAD_REQUEST"},
		{"video declared as image", []formPart{{field: "file", filename: "a.jpg", contentType: "image/jpeg", body: mp4Header("isom")}}, 400, "BAD_REQUEST"},
		{"truncated png", []formPart{{field: "file", filename: "a.png", contentType: "image/png", body: png[:len(png)-8]}}, 400, "BAD_REQUEST"},
		{"two files on single", []formPart{{field: "file", filename: "a.png", contentType: "image/png", body: png}, {field: "file", filename: "b.png", contentType: "image/png", body: png}}, 400, "BAD_REQUEST"},
		{"too large", []formPart{{field: "file", filename: "a.mp4", contentType: "video/mp4", body: append(mp4Header("isom"), make([]byte, 2<<20)...)}}, 413, "PAYLOAD_TOO_LARGE"},
	}
	for _, c := range cases {
		body, ct := multipartBody(t, c.parts...)
		status, m := e.legacyUpload("/api/media/upload", uid, body, ct)
		if status != c.status || m["code"] != c.code || m["error"] == "" {
			t.Errorf("%s: %d %v", c.name, status, m)
		}
	}
	status, m := e.legacyUpload("/api/media/upload", uid, strings.NewReader("{}"), "application/json")
	if status != 400 {
		t.Errorf("json body: %d %v", status, m)
	}
	status, m = e.legacyUpload("/api/media/upload", id.Nil, strings.NewReader(""), "multipart/form-data; boundary=x")
	if status != 401 {
		t.Errorf("no token: %d %v", status, m)
	}
	if keys := e.objects(); len(keys) != 0 {
		t.Fatalf("rejected uploads left objects: %v", keys)
	}
	// Every attempt is audited as rejected.
	var n int
	if err := e.svc.db.db.QueryRow(context.Background(), `SELECT count(*) FROM media_audit_logs WHERE status = 'rejected' AND user_id = $1`, uid.String()).Scan(&n); err != nil || n != len(cases)+1 {
		t.Fatalf("rejected audit rows = %d (%v), want %d", n, err, len(cases)+1)
	}
}

// TestOversizeMidStreamLeavesNothing streams a body larger than several
// parts past MAX_FILE_SIZE: the reply is 413 and the multipart upload is
// aborted, so no object (or pending upload) remains.
func TestOversizeMidStreamLeavesNothing(t *testing.T) {
	e := newEnv(t, func(m *configMedia, _ *configS3) { m.MaxFileSize = 12 << 20 })
	uid := id.New()
	pr, pw := io.Pipe()
	body, ct := multipartBody(t, formPart{field: "file", filename: "big.mp4", contentType: "video/mp4", body: append(mp4Header("isom"), make([]byte, 20<<20)...)})
	go func() { _, _ = io.Copy(pw, body); pw.Close() }()
	status, m := e.legacyUpload("/api/media/upload", uid, pr, ct)
	if status != 413 || m["code"] != "PAYLOAD_TOO_LARGE" {
		t.Fatalf("oversize: %d %v", status, m)
	}
	if keys := e.objects(); len(keys) != 0 {
		t.Fatalf("partial object left: %v", keys)
	}
	ups, err := e.st.client.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: &e.st.bucket})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups.Uploads) != 0 {
		t.Fatalf("multipart upload not aborted: %d pending", len(ups.Uploads))
	}
}

// TestRateLimitBeforeBody: over the limit, the handler answers 429 without
// reading a byte of the body.
func TestRateLimitBeforeBody(t *testing.T) {
	e := newEnv(t, func(m *configMedia, _ *configS3) { m.UploadMaxInWindow = 1 })
	uid := id.New()
	body, ct := multipartBody(t, formPart{field: "file", filename: "a.png", contentType: "image/png", body: testPNG(t, 4, 4)})
	if status, m := e.legacyUpload("/api/media/upload", uid, body, ct); status != 200 {
		t.Fatalf("first: %d %v", status, m)
	}
	spy := &readSpy{}
	req := httptest.NewRequest(http.MethodPost, "/api/media/upload", spy)
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+tiertest.Token(t, uid))
	rec := httptest.NewRecorder()
	e.svc.uploadHandler(false).ServeHTTP(rec, req)
	if rec.Code != 429 || !strings.Contains(rec.Body.String(), "MEDIA_RATE_LIMIT") {
		t.Fatalf("second: %d %s", rec.Code, rec.Body)
	}
	if spy.reads != 0 {
		t.Fatalf("body was read %d times before the limit check", spy.reads)
	}
	// Another user is not affected.
	body, ct = multipartBody(t, formPart{field: "file", filename: "a.png", contentType: "image/png", body: testPNG(t, 4, 4)})
	if status, m := e.legacyUpload("/api/media/upload", id.New(), body, ct); status != 200 {
		t.Fatalf("other user: %d %v", status, m)
	}
}

type readSpy struct{ reads int }

func (r *readSpy) Read([]byte) (int, error) { r.reads++; return 0, io.EOF }

func TestUploadMultiple(t *testing.T) {
	e := newEnv(t, func(m *configMedia, _ *configS3) { m.MaxMultipleFiles = 2 })
	uid := id.New()
	png := testPNG(t, 8, 8)
	body, ct := multipartBody(t,
		formPart{field: "files", filename: "a.png", contentType: "image/png", body: png},
		formPart{field: "files", filename: "b.mov", contentType: "video/mp4", body: mp4Header("qt  ")},
		formPart{field: "folder", body: []byte("Posts")}, // after the files: they move
	)
	status, m := e.legacyUpload("/api/media/upload-multiple", uid, body, ct)
	if status != 200 {
		t.Fatalf("upload-multiple: %d %v", status, m)
	}
	files, _ := m["files"].([]any)
	if len(files) != 2 {
		t.Fatalf("files: %v", m)
	}
	k1 := files[0].(map[string]any)["key"].(string)
	k2 := files[1].(map[string]any)["key"].(string)
	if !strings.HasPrefix(k1, "posts/"+uid.String()+"/") || !strings.HasSuffix(k1, ".png") || !strings.HasSuffix(k2, ".mov") {
		t.Fatalf("keys %q %q", k1, k2)
	}
	if _, ct2, _, _ := e.st.Head(context.Background(), k2); ct2 != "video/quicktime" {
		t.Fatalf("mov stored as %q (B18)", ct2)
	}
	if got := e.objects(); len(got) != 2 {
		t.Fatalf("objects after move: %v", got)
	}
	// Too many files: 400 JSON, and nothing of the request remains.
	before := len(e.objects())
	body, ct = multipartBody(t,
		formPart{field: "files", filename: "a.png", contentType: "image/png", body: png},
		formPart{field: "files", filename: "b.png", contentType: "image/png", body: png},
		formPart{field: "files", filename: "c.png", contentType: "image/png", body: png},
	)
	status, m = e.legacyUpload("/api/media/upload-multiple", uid, body, ct)
	if status != 400 || !strings.Contains(m["error"].(string), "Too many files") {
		t.Fatalf("too many: %d %v", status, m)
	}
	// One bad file fails the request by name.
	body, ct = multipartBody(t,
		formPart{field: "files", filename: "ok.png", contentType: "image/png", body: png},
		formPart{field: "files", filename: "evil.png", contentType: "image/png", body: []byte("<script>")},
	)
	status, m = e.legacyUpload("/api/media/upload-multiple", uid, body, ct)
	if status != 400 || m["error"] != `Invalid file "evil.png"` {
		t.Fatalf("bad file: %d %v", status, m)
	}
	if after := len(e.objects()); after != before {
		t.Fatalf("failed requests left objects: %d -> %d", before, after)
	}
}

func TestOwnershipSignListDelete(t *testing.T) {
	e := newEnv(t)
	alice, bob := id.New(), id.New()
	body, ct := multipartBody(t, formPart{field: "file", filename: "a.png", contentType: "image/png", body: testPNG(t, 4, 4)})
	_, m := e.legacyUpload("/api/media/upload", alice, body, ct)
	key := m["key"].(string)
	ctx := context.Background()
	for _, grpc := range []bool{false, true} {
		a, b := e.client(alice, grpc), e.client(bob, grpc)
		res, err := a.GetSignedUrl(ctx, connect.NewRequest(&mediav1.GetSignedUrlRequest{Key: key, ExpiresSeconds: 5}))
		if err != nil || !strings.Contains(res.Msg.Url, "X-Amz-Expires=60") {
			t.Fatalf("sign (clamped to min): %v %v", res, err)
		}
		res, err = a.GetSignedUrl(ctx, connect.NewRequest(&mediav1.GetSignedUrlRequest{Key: "/" + key, ExpiresSeconds: 999999}))
		if err != nil || !strings.Contains(res.Msg.Url, "X-Amz-Expires=3600") {
			t.Fatalf("sign (clamped to max): %v %v", res, err)
		}
		if _, err := b.GetSignedUrl(ctx, connect.NewRequest(&mediav1.GetSignedUrlRequest{Key: key})); connect.CodeOf(err) != connect.CodePermissionDenied {
			t.Fatalf("bob signs alice's key: %v", err)
		}
		for _, k := range []string{"general/" + bob.String() + "/../" + alice.String() + "/x", "secret/" + bob.String() + "/x", bob.String()} {
			if _, err := b.GetSignedUrl(ctx, connect.NewRequest(&mediav1.GetSignedUrlRequest{Key: k})); connect.CodeOf(err) != connect.CodePermissionDenied {
				t.Fatalf("traversal key %q: %v", k, err)
			}
		}
		if _, err := b.GetSignedUrl(ctx, connect.NewRequest(&mediav1.GetSignedUrlRequest{Key: key, ExpiresSeconds: -1})); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Fatalf("negative expiry: %v", err)
		}
		lr, err := b.ListMedia(ctx, connect.NewRequest(&mediav1.ListMediaRequest{}))
		if err != nil || len(lr.Msg.Objects) != 0 {
			t.Fatalf("bob lists alice's objects: %v %v", lr, err)
		}
		if _, err := b.ListMedia(ctx, connect.NewRequest(&mediav1.ListMediaRequest{Page: &commonv1.PageRequest{Cursor: "garbage"}})); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Fatalf("bad cursor: %v", err)
		}
		if _, err := b.ListMedia(ctx, connect.NewRequest(&mediav1.ListMediaRequest{Folder: "nope"})); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Fatalf("bad folder: %v", err)
		}
		if _, err := b.DeleteMedia(ctx, connect.NewRequest(&mediav1.DeleteMediaRequest{Key: key})); connect.CodeOf(err) != connect.CodePermissionDenied {
			t.Fatalf("bob deletes alice's key: %v", err)
		}
	}
	if len(e.objects()) != 1 {
		t.Fatal("object gone after refused delete")
	}
	dr, err := e.client(alice, false).DeleteMedia(ctx, connect.NewRequest(&mediav1.DeleteMediaRequest{Key: key}))
	if err != nil || !dr.Msg.Deleted || len(e.objects()) != 0 {
		t.Fatalf("owner delete: %v %v %v", dr, err, e.objects())
	}
}

func TestListMediaPaging(t *testing.T) {
	e := newEnv(t)
	uid := id.New()
	ctx := context.Background()
	base := time.Now().Add(-time.Hour)
	for i := range 5 {
		o := object{Key: newKey("posts", uid, "jpg"), Owner: uid, Folder: "posts", ContentType: "image/jpeg", Size: 1}
		if err := e.svc.db.insertObject(ctx, o); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.db.db.Exec(ctx, `UPDATE media_objects SET created_at = $2 WHERE key = $1`, o.Key, base.Add(time.Duration(i%2)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	c := e.client(uid, false)
	seen := map[string]bool{}
	cursor := ""
	for range 10 {
		res, err := c.ListMedia(ctx, connect.NewRequest(&mediav1.ListMediaRequest{Page: &commonv1.PageRequest{Limit: 2, Cursor: cursor}}))
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Msg.Objects {
			if seen[o.Key] {
				t.Fatalf("duplicate %s", o.Key)
			}
			seen[o.Key] = true
		}
		if cursor = res.Msg.GetPage().GetNextCursor(); cursor == "" {
			break
		}
	}
	if len(seen) != 5 {
		t.Fatalf("paged %d of 5", len(seen))
	}
}

func TestCreateAndCompleteUpload(t *testing.T) {
	e := newEnv(t)
	uid := id.New()
	ctx := context.Background()
	c := e.client(uid, true)
	img := testJPEG(t, 300, 200, 3)
	res, err := c.CreateUpload(ctx, connect.NewRequest(&mediav1.CreateUploadRequest{Folder: "stories", ContentType: "image/jpg", SizeBytes: int64(len(img))}))
	if err != nil {
		t.Fatal(err)
	}
	key := res.Msg.Key
	if !strings.HasPrefix(key, "stories/"+uid.String()+"/") || !strings.HasSuffix(key, ".jpg") || res.Msg.Fields["Content-Type"] != "image/jpeg" {
		t.Fatalf("create: %v", res.Msg)
	}
	// POST the form the way a client would.
	parts := []formPart{}
	for k, v := range res.Msg.Fields {
		parts = append(parts, formPart{field: k, body: []byte(v)})
	}
	parts = append(parts, formPart{field: "file", filename: "x.jpg", contentType: "image/jpeg", body: img})
	body, ct := multipartBody(t, parts...)
	pres, err := http.Post(res.Msg.Url, ct, body)
	if err != nil {
		t.Fatal(err)
	}
	pres.Body.Close()
	if pres.StatusCode/100 != 2 {
		t.Fatalf("presigned POST: %d", pres.StatusCode)
	}
	// Someone else cannot complete it.
	if _, err := e.client(id.New(), false).CompleteUpload(ctx, connect.NewRequest(&mediav1.CompleteUploadRequest{Key: key})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("other user completes: %v", err)
	}
	cr, err := c.CompleteUpload(ctx, connect.NewRequest(&mediav1.CompleteUploadRequest{Key: key}))
	if err != nil {
		t.Fatal(err)
	}
	if cr.Msg.Object.ContentType != "image/jpeg" || cr.Msg.Object.Url == "" || cr.Msg.Object.DisplayUrl != "" {
		t.Fatalf("complete: %v", cr.Msg.Object)
	}
	rc, _ := e.st.Open(ctx, key)
	stored, _ := io.ReadAll(rc)
	rc.Close()
	if bytes.Contains(stored, []byte("GPS-SECRET")) {
		t.Fatal("EXIF kept on the presigned path")
	}
	// A mismatched object is deleted and refused.
	res, err = c.CreateUpload(ctx, connect.NewRequest(&mediav1.CreateUploadRequest{ContentType: "image/png", SizeBytes: 100}))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.Put(ctx, res.Msg.Key, "image/png", []byte("<html>not a png</html>")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CompleteUpload(ctx, connect.NewRequest(&mediav1.CompleteUploadRequest{Key: res.Msg.Key})); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("mismatch: %v", err)
	}
	if _, _, found, _ := e.st.Head(ctx, res.Msg.Key); found {
		t.Fatal("mismatched object not deleted")
	}
	// Bad input.
	for _, r := range []*mediav1.CreateUploadRequest{
		{ContentType: "text/html", SizeBytes: 10},
		{ContentType: "image/png", SizeBytes: 0},
		{ContentType: "image/png", SizeBytes: 1 << 40},
		{ContentType: "image/png", SizeBytes: 10, Folder: "../x"},
	} {
		_, err := c.CreateUpload(ctx, connect.NewRequest(r))
		var ce *connect.Error
		if !errors.As(err, &ce) || (ce.Code() != connect.CodeInvalidArgument && ce.Code() != connect.CodeResourceExhausted) {
			t.Errorf("bad create %v: %v", r, err)
		}
	}
	if _, err := c.CompleteUpload(ctx, connect.NewRequest(&mediav1.CompleteUploadRequest{Key: "stories/" + uid.String() + "/missing.jpg"})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("missing: %v", err)
	}
}

// serve runs h directly with uid's token.
func serve(t *testing.T, h http.Handler, uid id.ID, body io.Reader, ct string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/api/media/upload", body)
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+tiertest.Token(t, uid))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// FuzzLegacyUploadBody feeds arbitrary multipart bodies to the upload
// handler: every answer is JSON, never a 5xx or a panic.
func FuzzLegacyUploadBody(f *testing.F) {
	e := newEnv(f)
	uid := id.New()
	good, _ := multipartBody(f, formPart{field: "file", filename: "a.png", contentType: "image/png", body: testPNG(f, 2, 2)})
	f.Add(good.Bytes())
	f.Add([]byte("--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\n\xff\xd8\xff\r\n--x--\r\n"))
	f.Add([]byte("--x\r\n\r\n--x--"))
	h := e.svc.uploadHandler(false)
	f.Fuzz(func(t *testing.T, b []byte) {
		// Re-frame with the boundary the good seed used when it matches.
		ct := "multipart/form-data; boundary=x"
		if i := bytes.Index(b, []byte("\r\n")); i > 2 && bytes.HasPrefix(b, []byte("--")) {
			ct = "multipart/form-data; boundary=" + string(b[2:i])
		}
		rec := serve(t, h, uid, bytes.NewReader(b), ct)
		if rec.Code >= 500 || !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	})
}

func TestUploadPolicyPublicAndRPCsNeedToken(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	anon := mediav1connect.NewMediaServiceClient(e.h2c, e.url, connect.WithGRPC())
	res, err := anon.GetUploadPolicy(ctx, connect.NewRequest(&mediav1.GetUploadPolicyRequest{}))
	if err != nil || res.Msg.MaxFileSizeBytes != e.m.MaxFileSize || len(res.Msg.AllowedContentTypes) != len(ContentTypes) {
		t.Fatalf("policy: %v %v", res, err)
	}
	if _, err := anon.CreateUpload(ctx, connect.NewRequest(&mediav1.CreateUploadRequest{ContentType: "image/png", SizeBytes: 1})); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("anonymous CreateUpload: %v", err)
	}
	if _, err := anon.ListMedia(ctx, connect.NewRequest(&mediav1.ListMediaRequest{})); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("anonymous ListMedia: %v", err)
	}
}
