package gateway

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/infliq/infliq/backend/gateway/adminui"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/logx"
	"github.com/infliq/infliq/backend/platform/metrics"
)

// TestAdminConsoleServedWithStrictCSP: /admin serves the embedded page and
// its assets under the console's own CSP (no inline code, same origin,
// media origins added, no framing); the API keeps its own policy.
func TestAdminConsoleServedWithStrictCSP(t *testing.T) {
	base, _ := newGateway(t, Options{MediaOrigins: []string{"https://cdn.example"}})
	get := func(path string, hdr map[string]string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	want := adminui.Policy("https://cdn.example")
	for _, d := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'",
		"object-src 'none'", "base-uri 'none'", "img-src 'self' blob: https://cdn.example"} {
		if !strings.Contains(want, d) {
			t.Fatalf("policy lacks %q: %s", d, want)
		}
	}
	if strings.Contains(want, "unsafe") {
		t.Fatalf("policy allows unsafe sources: %s", want)
	}

	res, page := get("/admin/", nil)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("/admin/: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if got := res.Header.Get("Content-Security-Policy"); got != want {
		t.Fatalf("CSP %q, want %q", got, want)
	}
	if res.Header.Get("X-Frame-Options") != "DENY" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("framing/nosniff headers: %v", res.Header)
	}
	// No inline script or style: every script and stylesheet is a file
	// with its integrity hash.
	if regexp.MustCompile(`<script(\s[^>]*)?>\s*[^<\s]`).MatchString(page) || strings.Contains(page, "<style") || strings.Contains(page, "style=") {
		t.Fatalf("inline code in the page:\n%s", page)
	}
	for _, asset := range []string{"app.js", "app.css"} {
		if !regexp.MustCompile(`(src|href)="` + asset + `" integrity="sha384-[A-Za-z0-9+/=]+"`).MatchString(page) {
			t.Fatalf("%s is not referenced with SRI:\n%s", asset, page)
		}
		res, body := get("/admin/"+asset, nil)
		if res.StatusCode != 200 || len(body) < 100 || res.Header.Get("Content-Security-Policy") != want {
			t.Fatalf("%s: %d, %d bytes, CSP %q", asset, res.StatusCode, len(body), res.Header.Get("Content-Security-Policy"))
		}
		etag := res.Header.Get("ETag")
		if res, _ := get("/admin/"+asset, map[string]string{"If-None-Match": etag}); etag == "" || res.StatusCode != http.StatusNotModified {
			t.Fatalf("%s revalidation: etag %q, %d", asset, etag, res.StatusCode)
		}
	}
	if ct := func() string { r, _ := get("/admin/app.js", nil); return r.Header.Get("Content-Type") }(); !strings.HasPrefix(ct, "text/javascript") {
		t.Fatalf("app.js content type %q", ct)
	}
	if res, _ := get("/admin", nil); res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "/admin/" {
		t.Fatalf("/admin: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	for _, p := range []string{"/admin/nope.js", "/admin/dist/app.js", "/admin/x/app.js", "/admin/adminui.go"} {
		if res, _ := get(p, nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d", p, res.StatusCode)
		}
	}
	// A dot-dot path is cleaned by the mux into a redirect out of /admin.
	if res, _ := get("/admin/../go.mod", nil); res.StatusCode == http.StatusOK {
		t.Errorf("/admin/../go.mod served")
	}
	if res, _ := do(t, "POST", base+"/admin/", "{}", map[string]string{"Content-Type": "application/json"}); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /admin/: %d", res.StatusCode)
	}
	// The API keeps its policy.
	if res, _ := get("/api/nope", nil); res.Header.Get("Content-Security-Policy") != "default-src 'none'; frame-ancestors 'none'" {
		t.Errorf("/api CSP changed: %q", res.Header.Get("Content-Security-Policy"))
	}
}

func TestAdminMediaOrigins(t *testing.T) {
	for _, tc := range []struct {
		s    config.S3
		want string
	}{
		{config.S3{}, ""},
		{config.S3{Bucket: "b", Region: "eu-west-1"}, "https://s3.eu-west-1.amazonaws.com https://b.s3.eu-west-1.amazonaws.com"},
		{config.S3{Bucket: "b"}, "https://s3.us-east-1.amazonaws.com https://b.s3.us-east-1.amazonaws.com"},
		{config.S3{Bucket: "b", Endpoint: "http://127.0.0.1:9000/"}, "http://127.0.0.1:9000"},
		{config.S3{Bucket: "b", Endpoint: "https://minio.example", CloudFrontDomain: "d1.cloudfront.net"}, "https://d1.cloudfront.net https://minio.example"},
	} {
		if got := strings.Join(adminui.MediaOrigins(tc.s), " "); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.s, got, tc.want)
		}
	}
}

// TestAdminAssetsGzip: browsers get the bundle gzipped (same bytes once
// inflated), other clients the plain file; caches keep both apart.
func TestAdminAssetsGzip(t *testing.T) {
	h := adminui.Handler()
	fetch := func(ae string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/admin/app.js", nil)
		if ae != "" {
			req.Header.Set("Accept-Encoding", ae)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	plain := fetch("")
	if plain.Code != 200 || plain.Header().Get("Content-Encoding") != "" || plain.Header().Get("Vary") != "Accept-Encoding" {
		t.Fatalf("plain: %d %v", plain.Code, plain.Header())
	}
	for _, ae := range []string{"gzip, deflate, br, zstd", "br;q=1.0, gzip;q=0.8"} {
		gz := fetch(ae)
		if gz.Header().Get("Content-Encoding") != "gzip" || gz.Body.Len()*2 > plain.Body.Len() {
			t.Fatalf("%q: %v, %d vs %d bytes", ae, gz.Header(), gz.Body.Len(), plain.Body.Len())
		}
		zr, err := gzip.NewReader(gz.Body)
		if err != nil {
			t.Fatal(err)
		}
		inflated, _ := io.ReadAll(zr)
		if !bytes.Equal(inflated, plain.Body.Bytes()) {
			t.Fatal("gzipped bundle differs from the file")
		}
	}
	if r := fetch("gzip;q=0, identity"); r.Header().Get("Content-Encoding") != "" {
		t.Fatalf("gzip refused but sent: %v", r.Header())
	}
}

// BenchmarkAdminPage: the console's files through the whole edge chain
// (security headers, CORS, rate limiter off, access log).
func BenchmarkAdminPage(b *testing.B) {
	g := New(Options{Upstreams: Upstreams{}, Edge: edge(), Log: logx.Discard(), Metrics: metrics.New()})
	for _, p := range []string{"/admin/", "/admin/app.js"} {
		b.Run(map[string]string{"/admin/": "index.html", "/admin/app.js": "app.js"}[p], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("GET", p, nil)
				req.Header.Set("Accept-Encoding", "gzip")
				rec := httptest.NewRecorder()
				g.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatal(rec.Code)
				}
			}
		})
	}
}
