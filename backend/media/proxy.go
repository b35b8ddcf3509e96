package media

import (
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/infliq/infliq/backend/platform/apperr"
)

// proxyTTL is the lifetime of the signed URL the proxy redirects to.
const proxyTTL = 15 * time.Minute

// serveProxy serves GET /api/media/proxy/<key>, the stable URL handed to
// clients: it checks the key is one of ours and redirects to a fresh,
// short-lived signed URL. Legacy `uploads/<file>` values are served from
// LEGACY_UPLOADS_DIR only, confined to it (legacy S1 read any file).
func (s *Service) serveProxy(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		apperr.WriteLegacy(w, apperr.NotFound("Route not found"))
		return
	}
	// Decode from the escaped path so `%2F` and `/` mean the same thing and
	// are checked the same way.
	raw := strings.TrimPrefix(r.URL.EscapedPath(), ProxyPath)
	key, err := url.PathUnescape(raw)
	if err != nil {
		apperr.WriteLegacy(w, apperr.BadRequest("Invalid media key"))
		return
	}
	key = cleanKey(key)
	if key == "" {
		apperr.WriteLegacy(w, apperr.BadRequest("Missing media key"))
		return
	}
	if rest, ok := strings.CutPrefix(key, "uploads/"); ok {
		s.serveLegacyFile(w, r, rest)
		return
	}
	if !ourKeyShape(key, s.cfg.AllowedFolders) {
		known, err := s.db.knownKey(r.Context(), key)
		if err != nil {
			apperr.WriteLegacy(w, apperr.Internal(err))
			return
		}
		if !known || !safeKey(key) {
			apperr.WriteLegacy(w, apperr.NotFound("File not found"))
			return
		}
	}
	ttl := min(max(proxyTTL, time.Duration(s.cfg.SignedURLMinSeconds)*time.Second), time.Duration(s.cfg.SignedURLMaxSeconds)*time.Second)
	u, err := s.st.PresignGet(r.Context(), key, ttl)
	if err != nil {
		apperr.WriteLegacy(w, apperr.Internal(err))
		return
	}
	// Let clients reuse the redirect for a while, well inside the signature's life.
	w.Header().Set("Cache-Control", "private, max-age="+itoaDur(ttl/3))
	http.Redirect(w, r, u, http.StatusFound)
}

func itoaDur(d time.Duration) string { return strconv.Itoa(int(d / time.Second)) }

// serveUploads serves GET /uploads/<file>, the monoliths' static route,
// with the same containment as the proxy.
func (s *Service) serveUploads(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		apperr.WriteLegacy(w, apperr.NotFound("Route not found"))
		return
	}
	name, err := url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), "/uploads/"))
	if err != nil {
		apperr.WriteLegacy(w, apperr.BadRequest("Invalid file name"))
		return
	}
	s.serveLegacyFile(w, r, name)
}

// serveLegacyFile serves name from LEGACY_UPLOADS_DIR through os.Root, which
// refuses `..`, absolute paths and symlinks leading outside the directory.
// Only accepted media types are served, never HTML or scripts.
func (s *Service) serveLegacyFile(w http.ResponseWriter, r *http.Request, name string) {
	notFound := func() { apperr.WriteLegacy(w, apperr.NotFound("Local file not found")) }
	if s.cfg.LegacyUploadsDir == "" || !safeKey(name) || strings.Contains(name, "/") {
		notFound()
		return
	}
	root, err := os.OpenRoot(s.cfg.LegacyUploadsDir)
	if err != nil {
		notFound()
		return
	}
	defer root.Close()
	f, err := root.Open(name)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.log.InfoContext(r.Context(), "legacy upload refused", "err", err)
		}
		notFound()
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		notFound()
		return
	}
	head := make([]byte, SniffLen)
	n, _ := f.ReadAt(head, 0)
	k, ok := Sniff(head[:n])
	if !ok {
		notFound()
		return
	}
	w.Header().Set("Content-Type", k.ContentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	http.ServeContent(w, r, "", st.ModTime(), f)
}
