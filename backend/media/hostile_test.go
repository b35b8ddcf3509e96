package media

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/infliq/infliq/backend/platform/id"
)

// The multipart part headers are client bytes that reach the audit log:
// NULs, invalid UTF-8 and huge values get a 4xx, and each refusal is still
// audited with a printable copy of what was declared. (An empty type is
// not hostile: the content is sniffed, as multer's clients expect.)
func TestUploadHostilePartHeadersAreRefusedAndAudited(t *testing.T) {
	e := newEnv(t)
	uid := id.New()
	img := testPNG(t, 4, 4)
	cases := []struct{ name, filename, contentType string }{
		{"NUL in type", "a.png", "image/png\x00x"},
		{"invalid UTF-8 type", "a.png", "image/\xff\xfe"},
		{"huge type", "a.png", "image/" + strings.Repeat("é", 4000)},
		{"NUL and invalid UTF-8 in name", "a\x00\xff.exe", "application/x-msdownload"},
	}
	for _, c := range cases {
		body, ct := multipartBody(t, formPart{field: "file", filename: c.filename, contentType: c.contentType, body: img})
		status, m := e.legacyUpload("/api/media/upload", uid, body, ct)
		if status < 400 || status >= 500 || m["error"] == "" || m["code"] == "" {
			t.Errorf("%s: %d %v", c.name, status, m)
		}
	}
	if got := e.auditStatuses(uid); len(got) != len(cases) {
		t.Fatalf("audit rows: %v, want %d", got, len(cases))
	}
	rows, err := e.svc.db.db.Query(context.Background(), `SELECT coalesce(mime_type, '') FROM media_audit_logs WHERE user_id = $1`, uid.String())
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var mt string
		if err := rows.Scan(&mt); err != nil {
			t.Fatal(err)
		}
		if !utf8.ValidString(mt) || strings.ContainsRune(mt, 0) || len(mt) > 255 {
			t.Errorf("audited mime type %q", mt)
		}
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"ok": "ok", "a\x00b": "a_b", "\xff": "_", "ab\u00e9": "ab", "a\u2028": "a\u2028",
	} {
		max := 80
		if in == "ab\u00e9" {
			max = 3 // é is two bytes: the cut falls inside it
		}
		if got := printable(in, max); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}
