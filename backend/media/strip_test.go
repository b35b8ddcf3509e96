package media

import (
	"bytes"
	"errors"
	"image"
	"io"
	"testing"
)

func stripAll(t testing.TB, k Kind, b []byte) ([]byte, error) {
	t.Helper()
	rc := stripMetadata(k, bytes.NewReader(b))
	defer rc.Close()
	return io.ReadAll(rc)
}

func TestStripJPEGRemovesEXIFKeepsOrientation(t *testing.T) {
	in := testJPEG(t, 64, 48, 6)
	if !bytes.Contains(in, []byte("GPS-SECRET")) {
		t.Fatal("fixture lacks the GPS marker")
	}
	jk, _ := KindOf("image/jpeg")
	out, err := stripAll(t, jk, append(append([]byte{}, in...), "<html>polyglot tail</html>"...))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte("GPS-SECRET")) {
		t.Fatal("EXIF GPS data survived")
	}
	if bytes.Contains(out, []byte("polyglot")) {
		t.Fatal("bytes after EOI survived")
	}
	i := bytes.Index(out, []byte("Exif\x00\x00"))
	if i < 0 || exifOrientation(out[i+6:]) != 6 {
		t.Fatal("orientation not preserved")
	}
	if _, _, err := image.Decode(bytes.NewReader(out)); err != nil {
		t.Fatalf("stripped JPEG does not decode: %v", err)
	}
	// Orientation 1 (upright) needs no EXIF at all.
	out, _ = stripAll(t, jk, testJPEG(t, 8, 8, 1))
	if bytes.Contains(out, []byte("Exif")) {
		t.Fatal("useless EXIF kept")
	}
}

func TestStripPNGDropsTextAndEXIF(t *testing.T) {
	in := testPNG(t, 4, 4)
	// Insert a tEXt chunk after IHDR (8 sig + 25 IHDR).
	chunk := []byte{0, 0, 0, 12, 't', 'E', 'X', 't'}
	chunk = append(chunk, "GPS\x0048.8584N"...)
	chunk = append(chunk, 0, 0, 0, 0) // CRC is not checked for dropped chunks
	withText := append(append(append([]byte{}, in[:33]...), chunk...), in[33:]...)
	pk, _ := KindOf("image/png")
	out, err := stripAll(t, pk, append(withText, "trailing"...))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte("48.8584")) || bytes.Contains(out, []byte("trailing")) {
		t.Fatal("text chunk or trailing data survived")
	}
	if !bytes.Equal(out, in) {
		t.Fatal("PNG image data changed")
	}
}

func TestStripRejectsTruncatedAndCorrupt(t *testing.T) {
	jk, _ := KindOf("image/jpeg")
	pk, _ := KindOf("image/png")
	j := testJPEG(t, 32, 32, 0)
	p := testPNG(t, 4, 4)
	for name, c := range map[string]struct {
		k Kind
		b []byte
	}{
		"jpeg truncated":   {jk, j[:len(j)/2]},
		"jpeg header only": {jk, j[:4]},
		"png truncated":    {pk, p[:len(p)-6]},
		"png bad crc":      {pk, append(append([]byte{}, p[:30]...), append([]byte{p[30] ^ 0xFF}, p[31:]...)...)},
	} {
		if _, err := stripAll(t, c.k, c.b); !errors.Is(err, errBadImage) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func FuzzStripJPEG(f *testing.F) {
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xD9})
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x08, 'E', 'x', 'i', 'f', 0, 0, 0xFF, 0xDA, 0, 2, 1, 0xFF, 0xD9})
	jk, _ := KindOf("image/jpeg")
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := stripAll(t, jk, b)
		if err == nil && len(out) > len(b)+64 {
			t.Fatalf("output grew: %d > %d", len(out), len(b))
		}
	})
}

func FuzzExifOrientation(f *testing.F) {
	f.Add([]byte("MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06"))
	f.Fuzz(func(t *testing.T, b []byte) { _ = exifOrientation(b) })
}

func webpChunk(id string, data []byte) []byte {
	c := append([]byte(id), byte(len(data)), byte(len(data)>>8), byte(len(data)>>16), byte(len(data)>>24))
	c = append(c, data...)
	if len(data)%2 == 1 {
		c = append(c, 0)
	}
	return c
}

func TestStripWebP(t *testing.T) {
	var body []byte
	body = append(body, webpChunk("VP8X", []byte{0x0C | 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0})...)
	body = append(body, webpChunk("VP8L", []byte{0x2f, 0, 0, 0, 0})...)
	body = append(body, webpChunk("EXIF", []byte("GPS-SECRET-48.85"))...)
	body = append(body, webpChunk("XMP ", []byte("<x:xmpmeta>lat</x:xmpmeta>"))...)
	file := append([]byte("RIFF"), 0, 0, 0, 0)
	file = append(file, "WEBP"...)
	file = append(file, body...)
	n := len(file) - 8
	file[4], file[5], file[6], file[7] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
	out, err := stripWebP(append(file, "<html>tail"...))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte("GPS-SECRET")) || bytes.Contains(out, []byte("xmpmeta")) || bytes.Contains(out, []byte("tail")) {
		t.Fatal("metadata or trailing data survived")
	}
	if got := int(out[4]) | int(out[5])<<8; got != len(out)-8 {
		t.Fatalf("RIFF size %d, want %d", got, len(out)-8)
	}
	if out[20]&0x0C != 0 || out[20]&0x10 == 0 {
		t.Fatalf("VP8X flags %#x", out[20])
	}
	if _, err := stripWebP(file[:len(file)-10]); !errors.Is(err, errBadImage) {
		t.Fatal("truncated WebP accepted")
	}
}

func FuzzStripWebP(f *testing.F) {
	f.Add([]byte("RIFF\x0c\x00\x00\x00WEBPVP8X\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = stripWebP(b) })
}
