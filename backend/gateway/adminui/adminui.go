// Package adminui serves the moderation console at /admin: static files
// built from web/admin (its build.mjs writes dist/, committed and embedded
// here). The page talks to the tiers over Connect like any client; this
// package only hands out bytes.
package adminui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/infliq/infliq/backend/platform/config"
)

//go:embed dist
var dist embed.FS

// Policy is the Content-Security-Policy of every /admin response: only this
// origin's own script, style and Connect calls; no inline code, no plugins,
// no framing, no forms posting elsewhere; DOM sinks that parse HTML are
// closed by Trusted Types (the page never needs them). Images and video
// also load from mediaOrigins: the media proxy answers with a redirect to
// a signed URL on the bucket's (or CDN's) origin.
func Policy(mediaOrigins ...string) string {
	media := strings.Join(append([]string{"'self'", "blob:"}, mediaOrigins...), " ")
	return "default-src 'self'; script-src 'self'; style-src 'self'; img-src " + media + "; media-src " + media + "; " +
		"connect-src 'self'; font-src 'none'; object-src 'none'; worker-src 'none'; manifest-src 'none'; base-uri 'none'; " +
		"form-action 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'; trusted-types 'none'"
}

// types are fixed here, not read from the machine's mime tables.
var types = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

type file struct {
	body, gz []byte // gz: nil when compressing does not pay
	ctype    string
	etag     string
}

// Handler serves /admin (redirected to /admin/), /admin/ (the page) and its
// assets. Anything else under /admin/ is 404: the page routes by #fragment,
// so no deep link needs the server.
func Handler() http.Handler {
	files := map[string]file{}
	entries, err := fs.ReadDir(dist, "dist")
	if err != nil {
		panic(err) // the embed is part of the binary: a build error, not a runtime one
	}
	for _, e := range entries {
		b, err := dist.ReadFile("dist/" + e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(b)
		ct, ok := types[path.Ext(e.Name())]
		if !ok {
			ct = "application/octet-stream"
		}
		files[e.Name()] = file{body: b, gz: gzipped(b), ctype: ct, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if r.URL.Path == "/admin" {
			http.Redirect(w, r, "/admin/", http.StatusMovedPermanently)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/admin/")
		if name == "" {
			name = "index.html"
		}
		f, ok := files[name]
		if !ok || strings.Contains(name, "/") {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		h := w.Header()
		h.Set("Content-Type", f.ctype)
		// Small files: always revalidate, answered by the ETag.
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", f.etag)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
		body := f.body
		if f.gz != nil {
			h.Set("Vary", "Accept-Encoding")
			if acceptsGzip(r.Header.Get("Accept-Encoding")) {
				body = f.gz
				h.Set("Content-Encoding", "gzip")
			}
		}
		if inm := r.Header.Get("If-None-Match"); inm != "" && inm == f.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Length", strconv.Itoa(len(body)))
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(body)
	})
}

// gzipped compresses b once at start (the bundle shrinks about 3×); nil
// when that saves under a tenth.
func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(b)
	_ = zw.Close()
	if buf.Len() > len(b)*9/10 {
		return nil
	}
	return buf.Bytes()
}

// acceptsGzip reads Accept-Encoding well enough for browsers: gzip listed
// and not refused with q=0.
func acceptsGzip(ae string) bool {
	for part := range strings.SplitSeq(ae, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

// Path reports the paths this package serves.
func Path(p string) bool { return p == "/admin" || strings.HasPrefix(p, "/admin/") }

// MediaOrigins lists the origins the media proxy redirects to for s (the
// signed URLs media.Storage makes) and the CDN, for Policy.
func MediaOrigins(s config.S3) []string {
	var out []string
	origin := func(raw string) {
		if !strings.Contains(raw, "://") {
			raw = "https://" + raw
		}
		if u, err := url.Parse(raw); err == nil && u.Host != "" && (u.Scheme == "https" || u.Scheme == "http") {
			out = append(out, u.Scheme+"://"+u.Host)
		}
	}
	if d := strings.TrimSpace(s.CloudFrontDomain); d != "" {
		origin(d)
	}
	switch {
	case s.Endpoint != "":
		origin(s.Endpoint)
	case s.Bucket != "":
		region := s.Region
		if region == "" {
			region = "us-east-1"
		}
		origin("https://s3." + region + ".amazonaws.com")
		origin("https://" + s.Bucket + ".s3." + region + ".amazonaws.com")
	}
	return out
}
