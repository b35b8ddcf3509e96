package media

import (
	"bufio"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"

	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/httpx"
)

// maxFieldBytes bounds a text field of the upload form (folder).
const maxFieldBytes = 1 << 10

// uploaded is one stored file of a legacy upload.
type uploaded struct {
	o    object
	kind Kind
}

// uploadHandler serves POST /api/media/upload (field `file`) and, when
// multi, /api/media/upload-multiple (field `files`). Bodies stream from the
// multipart reader into S3 multipart parts; nothing holds a whole file.
func (s *Service) uploadHandler(multi bool) http.Handler {
	route, action, field := "/api/media/upload", "upload-single", "file"
	if multi {
		route, action, field = "/api/media/upload-multiple", "upload-multiple", "files"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			apperr.WriteLegacy(w, apperr.NotFound("Route not found"))
			return
		}
		// Authenticate before touching the body.
		raw := authn.BearerToken(r.Header)
		if raw == "" {
			apperr.WriteJSON(w, http.StatusUnauthorized, apperr.LegacyBody{Error: "No token provided", Code: "UNAUTHORIZED"})
			return
		}
		p, err := s.verifier.VerifyAccess(r.Context(), raw)
		if err != nil {
			if errors.Is(err, authn.ErrInvalid) || errors.Is(err, authn.ErrRevoked) || errors.Is(err, authn.ErrMissing) {
				apperr.WriteJSON(w, http.StatusUnauthorized, apperr.LegacyBody{Error: "Invalid token", Code: "INVALID_TOKEN"})
				return
			}
			apperr.WriteLegacy(w, apperr.Unavailable(err, "Authentication unavailable"))
			return
		}
		ctx := authn.WithPrincipal(r.Context(), p)
		a := s.newAudit(httpx.ServiceClientIP(r), p, route, action)
		// The rate limit is checked before the body is read (legacy B21).
		if err := s.checkRate(ctx, p.UserID); err != nil {
			s.writeErr(w, s.reject(ctx, a, err))
			return
		}
		// Slow-loris bound: the body must keep arriving at a minimum rate,
		// so a trickling client cannot hold a part buffer for long.
		httpx.LimitBodyTime(w, r, s.minRateWindow, minRateBytes)
		files, err := s.receive(ctx, r, a, field, multi)
		if err != nil {
			var ae *apperr.Error
			if errors.As(err, &ae) && ae.Code != connect.CodeInternal {
				s.writeErr(w, s.reject(ctx, a, err))
				return
			}
			s.writeErr(w, s.fail(ctx, a, err))
			return
		}
		if !multi {
			f := files[0]
			url := s.urls.KeyURL(f.o.Key)
			if f.o.DisplayKey != "" {
				url = s.urls.KeyURL(f.o.DisplayKey)
			}
			var thumb any
			if f.o.ThumbnailKey != "" {
				thumb = s.urls.KeyURL(f.o.ThumbnailKey)
			}
			a.Key, a.Folder, a.MimeType, a.Size = f.o.Key, f.o.Folder, f.o.ContentType, f.o.Size
			s.audit(ctx, a, "success", "")
			apperr.WriteJSON(w, http.StatusOK, map[string]any{
				"success": true, "url": url, "thumbnailUrl": thumb, "key": f.o.Key, "bucket": s.st.Bucket(),
			})
			return
		}
		out := make([]map[string]any, 0, len(files))
		keys := make([]string, 0, len(files))
		for _, f := range files {
			url := s.urls.KeyURL(f.o.Key)
			if f.o.DisplayKey != "" {
				url = s.urls.KeyURL(f.o.DisplayKey)
			}
			out = append(out, map[string]any{"url": url, "key": f.o.Key})
			keys = append(keys, f.o.Key)
			a.Size += f.o.Size
			a.Folder = f.o.Folder
		}
		a.Metadata = map[string]any{"filesCount": len(files), "keys": keys}
		s.audit(ctx, a, "success", "")
		apperr.WriteJSON(w, http.StatusOK, map[string]any{"success": true, "files": out})
	})
}

// writeErr renders an error in the legacy {error, code} shape, with 413 for
// oversize bodies.
func (s *Service) writeErr(w http.ResponseWriter, err error) {
	var e *apperr.Error
	if errors.As(err, &e) && e.Reason == "PAYLOAD_TOO_LARGE" {
		apperr.WriteJSON(w, http.StatusRequestEntityTooLarge, apperr.LegacyBody{Error: e.Msg, Code: "PAYLOAD_TOO_LARGE"})
		return
	}
	if errors.As(err, &e) && e.Code == connect.CodeInternal {
		apperr.WriteJSON(w, http.StatusInternalServerError, apperr.LegacyBody{Error: "Upload failed", Code: "MEDIA_UPLOAD_FAILED"})
		return
	}
	apperr.WriteLegacy(w, err)
}

// receive streams every file part to S3. On any failure the files already
// stored by this request are deleted again.
func (s *Service) receive(ctx context.Context, r *http.Request, a *auditEntry, field string, multi bool) (files []uploaded, err error) {
	defer func() {
		if err != nil {
			s.discard(ctx, files)
			files = nil
		}
	}()
	mt, params, perr := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if perr != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, apperr.BadRequest("Expected a multipart/form-data body")
	}
	maxFiles := 1
	if multi {
		maxFiles = s.cfg.MaxMultipleFiles
	}
	// A hard ceiling for the whole body; each file is bounded while streaming.
	r.Body = http.MaxBytesReader(nil, r.Body, int64(maxFiles)*(s.cfg.MaxFileSize+64<<10)+64<<10)
	mr := multipart.NewReader(r.Body, params["boundary"])
	folder := DefaultFolder
	for {
		part, perr := mr.NextPart()
		if errors.Is(perr, io.EOF) {
			break
		}
		if perr != nil {
			return files, bodyError(perr)
		}
		name := part.FormName()
		switch {
		case name == "folder" && part.FileName() == "":
			b, rerr := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
			if rerr != nil {
				return files, bodyError(rerr)
			}
			if len(b) > maxFieldBytes {
				return files, folderError(s.cfg.AllowedFolders)
			}
			f, ferr := cleanFolder(string(b), s.cfg.AllowedFolders)
			if ferr != nil {
				return files, ferr
			}
			folder = f
			a.Folder = folder
			// A folder sent after the files moves them (multer read the
			// whole form before the handler, so order never mattered).
			for i := range files {
				if files[i].o.Folder != folder {
					if files[i], err = s.move(ctx, files[i], folder); err != nil {
						return files, err
					}
				}
			}
		case part.FileName() != "" || name == field:
			if name != field {
				return files, apperr.BadRequest(`Unexpected field "` + name + `"`)
			}
			if len(files) == maxFiles {
				if multi {
					return files, apperr.BadRequest("Too many files. Max " + strconv.Itoa(maxFiles) + " per request.")
				}
				return files, apperr.BadRequest("Only one file is accepted")
			}
			f, ferr := s.receiveFile(ctx, part, a, folder)
			if ferr != nil {
				if multi {
					var ae *apperr.Error
					if errors.As(ferr, &ae) && ae.Code == connect.CodeInvalidArgument {
						return files, apperr.BadRequest(`Invalid file "` + safeName(part.FileName()) + `"`)
					}
				}
				return files, ferr
			}
			files = append(files, f)
		default:
			// Unknown text fields are ignored, as multer did.
			if _, derr := io.Copy(io.Discard, io.LimitReader(part, 64<<10)); derr != nil {
				return files, bodyError(derr)
			}
		}
	}
	if len(files) == 0 {
		if multi {
			return nil, apperr.BadRequest("No files provided")
		}
		return nil, apperr.BadRequest("No file provided")
	}
	for i := range files {
		if err := s.db.insertObject(ctx, files[i].o); err != nil {
			return files, err
		}
	}
	return files, nil
}

// receiveFile sniffs, strips and streams one file part, then renders it.
func (s *Service) receiveFile(ctx context.Context, part *multipart.Part, a *auditEntry, folder string) (uploaded, error) {
	declaredRaw := part.Header.Get("Content-Type")
	declared := NormalizeDeclared(declaredRaw)
	// The raw header is client bytes: the audit row keeps a printable copy
	// (a NUL or invalid UTF-8 would make PostgreSQL refuse the whole row).
	a.MimeType = printable(declaredRaw, 255)
	if declared == "" && !genericType(declaredRaw) {
		return uploaded{}, apperr.BadRequest("Unsupported file MIME type")
	}
	counted := &limitReader{r: part, left: s.cfg.MaxFileSize}
	br := bufio.NewReaderSize(counted, 4096)
	head, _ := br.Peek(SniffLen)
	if counted.err != nil && !errors.Is(counted.err, io.EOF) {
		return uploaded{}, bodyError(counted.err)
	}
	k, ok := Sniff(head)
	if !ok || (s.cfg.StrictSignature && !Compatible(declared, k)) {
		return uploaded{}, mismatch()
	}
	key := newKey(folder, caller(ctx).UserID, k.Ext)
	body := stripMetadata(k, br)
	size, err := s.st.Upload(ctx, key, k.ContentType, body, s.cfg.MaxFileSize)
	_ = body.Close()
	if err != nil {
		return uploaded{}, uploadError(err)
	}
	if size, err = s.scrubStored(ctx, k, key, size); err != nil {
		_ = s.st.Delete(ctx, key)
		return uploaded{}, uploadError(err)
	}
	u := uploaded{kind: k, o: object{Key: key, Owner: caller(ctx).UserID, Folder: folder, ContentType: k.ContentType, Size: size, CreatedAt: s.now()}}
	if k.IsImage() {
		if u.o.DisplayKey, err = s.makeDisplay(ctx, k, key, size); err != nil {
			_ = s.st.Delete(ctx, key)
			return uploaded{}, uploadError(err)
		}
	} else if u.o.ThumbnailKey, err = s.makeThumbnail(ctx, key); err != nil {
		s.log.WarnContext(ctx, "video thumbnail failed", "err", err)
		u.o.ThumbnailKey = ""
	}
	return u, nil
}

// move re-keys a stored file into folder (server-side copy, then delete).
func (s *Service) move(ctx context.Context, f uploaded, folder string) (uploaded, error) {
	nk := newKey(folder, f.o.Owner, f.kind.Ext)
	if err := s.st.Copy(ctx, f.o.Key, nk); err != nil {
		return f, err
	}
	var nd string
	if f.o.DisplayKey != "" {
		nd = renditionKey(nk, "_display.jpg")
		if err := s.st.Copy(ctx, f.o.DisplayKey, nd); err != nil {
			return f, err
		}
	}
	var nt string
	if f.o.ThumbnailKey != "" {
		nt = renditionKey(nk, "_thumb.jpg")
		if err := s.st.Copy(ctx, f.o.ThumbnailKey, nt); err != nil {
			return f, err
		}
	}
	_ = s.st.Delete(ctx, f.o.Key, f.o.DisplayKey, f.o.ThumbnailKey)
	f.o.Key, f.o.DisplayKey, f.o.ThumbnailKey, f.o.Folder = nk, nd, nt, folder
	return f, nil
}

// discard deletes the objects of a failed request.
func (s *Service) discard(ctx context.Context, files []uploaded) {
	ctx = context.WithoutCancel(ctx)
	for _, f := range files {
		_ = s.st.Delete(ctx, f.o.Key, f.o.DisplayKey, f.o.ThumbnailKey)
	}
}

// genericType is a declaration that says nothing (web Blobs, curl).
func genericType(ct string) bool {
	ct, _, _ = strings.Cut(strings.ToLower(strings.TrimSpace(ct)), ";")
	return ct == "" || ct == "application/octet-stream"
}

// limitReader fails with ErrTooLarge once more than left bytes were read.
type limitReader struct {
	r    io.Reader
	left int64
	err  error
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		l.err = ErrTooLarge
		return 0, ErrTooLarge
	}
	if err != nil {
		l.err = err
	}
	return n, err
}

// bodyError maps a failure reading the request body to a client error.
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, ErrTooLarge), errors.As(err, &mbe):
		return tooLarge()
	case errors.Is(err, errBadImage):
		return mismatch()
	default:
		return apperr.BadRequest("Malformed multipart body")
	}
}

// uploadError maps a streaming failure: body problems are the client's,
// anything else is ours.
func uploadError(err error) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, ErrTooLarge), errors.As(err, &mbe), errors.Is(err, errBadImage):
		return bodyError(err)
	case errors.Is(err, multipart.ErrMessageTooLarge), errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.BadRequest("Malformed multipart body")
	case errors.Is(err, ErrBusy):
		return apperr.Unavailable(err, "Upload capacity exhausted, please retry")
	case errors.Is(err, os.ErrDeadlineExceeded):
		return apperr.New(connect.CodeDeadlineExceeded, "Upload too slow")
	}
	return apperr.Internal(err)
}

// safeName is a file name fit for an error message.
func safeName(n string) string {
	return strings.ReplaceAll(printable(n, 80), `"`, "_")
}

// printable is s as valid UTF-8 without control characters, cut to at most
// max bytes on a rune boundary.
func printable(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return '_'
		}
		return r
	}, strings.ToValidUTF8(s, "_"))
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}

const (
	// minRateWindow is how long the body may take to deliver minRateBytes.
	minRateWindow = 30 * time.Second
	minRateBytes  = 1 << 20
)
