package media

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/infliq/infliq/backend/platform/id"
)

// TestVideoThumbnail runs the thumbnail step with a stand-in ffmpeg (a
// script printing a JPEG and checking it was handed a signed URL), and
// checks the step is skipped cleanly without one.
func TestVideoThumbnail(t *testing.T) {
	dir := t.TempDir()
	thumb := filepath.Join(dir, "thumb.jpg")
	if err := os.WriteFile(thumb, testJPEG(t, 64, 36, 0), 0o644); err != nil {
		t.Fatal(err)
	}
	ff := filepath.Join(dir, "ffmpeg")
	script := "#!/bin/sh\ncase \"$*\" in *X-Amz-Signature=*) cat " + thumb + ";; *) exit 1;; esac\n"
	if err := os.WriteFile(ff, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	e.svc.ffmpeg = ff
	uid := id.New()
	body, ct := multipartBody(t, formPart{field: "file", filename: "clip.mp4", contentType: "video/mp4", body: mp4Header("isom")})
	req := e.svc.uploadHandler(false)
	rec := serve(t, req, uid, body, ct)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `_thumb.jpg"`) {
		t.Fatalf("with ffmpeg: %d %s", rec.Code, rec.Body)
	}
	var found bool
	for _, k := range e.objects() {
		found = found || strings.HasSuffix(k, "_thumb.jpg")
	}
	if !found {
		t.Fatal("thumbnail not stored")
	}
	// Without ffmpeg: same upload succeeds, thumbnailUrl is null.
	e.svc.ffmpeg = ""
	body, ct = multipartBody(t, formPart{field: "file", filename: "clip.mp4", contentType: "video/mp4", body: mp4Header("isom")})
	rec = serve(t, req, uid, body, ct)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"thumbnailUrl":null`) {
		t.Fatalf("without ffmpeg: %d %s", rec.Code, rec.Body)
	}
}
