package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/infliq/infliq/backend/platform/id"
)

func box(typ string, payload ...[]byte) []byte {
	body := bytes.Join(payload, nil)
	b := make([]byte, 8, 8+len(body))
	binary.BigEndian.PutUint32(b, uint32(8+len(body)))
	copy(b[4:], typ)
	return append(b, body...)
}

func u16(v int) []byte { return []byte{byte(v >> 8), byte(v)} }
func u32(v int) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }

// testHEIC builds a minimal HEIC: ftyp, meta (iinf with an hvc1 image item
// 1 and an Exif item 2, iloc v1 with 4-byte offsets/lengths), mdat.
func testHEIC(t testing.TB) ([]byte, int, int) {
	t.Helper()
	exif := []byte("Exif\x00\x00GPS-SECRET-48.8584")
	pixels := []byte("HEVC-PIXEL-DATA")
	build := func(exifOff, pixOff int) []byte {
		infe := func(id int, typ string) []byte {
			return box("infe", []byte{2, 0, 0, 0}, u16(id), u16(0), []byte(typ), []byte{0})
		}
		iinf := box("iinf", []byte{0, 0, 0, 0}, u16(2), infe(1, "hvc1"), infe(2, "Exif"))
		iloc := box("iloc", []byte{1, 0, 0, 0}, []byte{0x44, 0x00}, u16(2),
			u16(1), u16(0), u16(0), u16(1), u32(pixOff), u32(len(pixels)),
			u16(2), u16(0), u16(0), u16(1), u32(exifOff), u32(len(exif)))
		meta := box("meta", []byte{0, 0, 0, 0}, box("hdlr", make([]byte, 24)), iinf, iloc)
		ftyp := box("ftyp", []byte("heic"), u32(0), []byte("mif1heic"))
		return append(append(ftyp, meta...), box("mdat", pixels, exif)...)
	}
	probe := build(0, 0)
	mdat := len(probe) - (8 + len(pixels) + len(exif))
	pixOff, exifOff := mdat+8, mdat+8+len(pixels)
	return build(exifOff, pixOff), exifOff, len(exif)
}

func TestScrubHEIF(t *testing.T) {
	f, off, n := testHEIC(t)
	if k, ok := Sniff(f); !ok || k.ContentType != "image/heic" {
		t.Fatalf("fixture sniffs as %v", k)
	}
	changed, err := scrubHEIF(f)
	if err != nil || !changed {
		t.Fatalf("scrub: %v %v", changed, err)
	}
	if bytes.Contains(f, []byte("GPS-SECRET")) {
		t.Fatal("EXIF survived")
	}
	if !bytes.Contains(f, []byte("HEVC-PIXEL-DATA")) || !bytes.Equal(f[off:off+n], make([]byte, n)) {
		t.Fatal("wrong bytes cleared")
	}
	g, _, _ := testHEIC(t)
	if _, err := scrubHEIF(g[:len(g)-10]); !errors.Is(err, errBadImage) {
		t.Fatalf("extent past the end accepted: %v", err)
	}
	if _, err := scrubHEIF(mp4Header("heic")); !errors.Is(err, errBadImage) {
		t.Fatal("HEIC without meta accepted")
	}
}

func FuzzScrubHEIF(f *testing.F) {
	h, _, _ := testHEIC(f)
	f.Add(h)
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = scrubHEIF(b) })
}

func TestLegacyHEICUploadLosesEXIF(t *testing.T) {
	e := newEnv(t)
	f, _, _ := testHEIC(t)
	body, ct := multipartBody(t, formPart{field: "file", filename: "IMG_0001.HEIC", contentType: "image/jpeg", body: f})
	rec := serve(t, e.svc.uploadHandler(false), id.New(), body, ct)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `.heic"`) {
		t.Fatalf("upload: %d %s", rec.Code, rec.Body)
	}
	for _, k := range e.objects() {
		rc, err := e.st.Open(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if bytes.Contains(got, []byte("GPS-SECRET")) || !bytes.Contains(got, []byte("HEVC-PIXEL-DATA")) {
			t.Fatalf("%s: EXIF kept or image damaged", k)
		}
		if _, ctype, _, _ := e.st.Head(context.Background(), k); ctype != "image/heic" {
			t.Fatalf("stored as %q", ctype)
		}
	}
}
