package media

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/infliq/infliq/backend/platform/id"
)

func TestProxyLegacyUploadsContainment(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "uploads")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	img := testPNG(t, 2, 2)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "1700000000000-a.png"), img, 0o644))
	must(os.WriteFile(filepath.Join(dir, "page.html"), []byte("<script>alert(1)</script>"), 0o644))
	must(os.WriteFile(filepath.Join(root, "secret.png"), img, 0o644)) // outside, but media
	must(os.Symlink(filepath.Join(root, "secret.png"), filepath.Join(dir, "link.png")))
	must(os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	e := newEnv(t, func(m *configMedia, _ *configS3) { m.LegacyUploadsDir = dir })

	res, body := e.get(e.url + ProxyPath + "uploads/1700000000000-a.png")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/png" || string(body) != string(img) {
		t.Fatalf("legacy file: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	res, _ = e.get(e.url + ProxyPath + "uploads%2F1700000000000-a.png") // M2's encoding
	if res.StatusCode != 200 {
		t.Fatalf("encoded slash: %d", res.StatusCode)
	}
	for _, p := range []string{
		"uploads%2F..%2Fsecret.png",
		"uploads/..%2Fsecret.png",
		"uploads%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
		"uploads%2F%2Fetc%2Fpasswd",
		"uploads/%2Fetc%2Fpasswd",
		"uploads/link.png", // symlink leading outside
		"uploads/page.html",
		"uploads/sub",
		"uploads/sub%2F..%2F..%2Fsecret.png",
		"uploads/nope.png",
		"uploads/..%5Csecret.png",
		"uploads/%00.png",
	} {
		res, body := e.get(e.url + ProxyPath + p)
		if res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d %s", p, res.StatusCode, body)
		}
		if res.StatusCode == 200 || string(body) == string(img) {
			t.Errorf("%s leaked a file", p)
		}
	}
	// The monoliths' static route serves the same files, equally contained.
	if res, body := e.get(e.url + "/uploads/1700000000000-a.png"); res.StatusCode != 200 || string(body) != string(img) {
		t.Fatalf("/uploads/: %d", res.StatusCode)
	}
	for _, p := range []string{"/uploads/..%2Fsecret.png", "/uploads/link.png", "/uploads/page.html", "/uploads/%2Fetc%2Fpasswd"} {
		if res, body := e.get(e.url + p); res.StatusCode == 200 || string(body) == string(img) {
			t.Errorf("%s: %d", p, res.StatusCode)
		}
	}
	// Unencoded dot segments are cleaned by the mux to a path outside the
	// proxy, never resolved against the directory.
	res, body = e.get(e.url + ProxyPath + "uploads/../../secret.png")
	if res.StatusCode == 200 || string(body) == string(img) {
		t.Fatalf("dot segments: %d", res.StatusCode)
	}
}

func TestProxyS3Keys(t *testing.T) {
	e := newEnv(t)
	uid := id.New()
	for _, c := range []struct {
		path   string
		status int
	}{
		{ProxyPath + "general/" + uid.String() + "/" + id.New().String() + ".jpg", http.StatusFound},
		{ProxyPath + "1700000000000-photo.jpg", http.StatusFound},
		{ProxyPath + "secret/config.json", http.StatusNotFound},
		{ProxyPath + "backups/db.sql", http.StatusNotFound},
		{ProxyPath + "uploads/x.jpg", http.StatusNotFound}, // no LEGACY_UPLOADS_DIR
		{ProxyPath, http.StatusBadRequest},
	} {
		res, body := e.get(e.url + c.path)
		if res.StatusCode != c.status {
			t.Errorf("%s: %d %s", c.path, res.StatusCode, body)
		}
		if c.status == http.StatusFound && res.Header.Get("Location") == "" {
			t.Errorf("%s: no Location", c.path)
		}
	}
	// A recorded object with an unusual key is ours too.
	o := object{Key: "posts/" + uid.String() + "/x.jpg", Owner: uid, Folder: "posts", ContentType: "image/jpeg", Size: 1, DisplayKey: "legacy/odd-display.jpg"}
	if err := e.svc.db.insertObject(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	if res, _ := e.get(e.url + ProxyPath + "legacy/odd-display.jpg"); res.StatusCode != http.StatusFound {
		t.Fatalf("recorded rendition: %d", res.StatusCode)
	}
}
