package media

import (
	"bytes"
	"testing"
)

func TestSniffMatrix(t *testing.T) {
	jpg := []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 'J', 'F', 'I', 'F', 0, 1, 1}
	pngb := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	cases := []struct {
		name string
		b    []byte
		want string // "" = rejected
	}{
		{"jpeg", jpg, "image/jpeg"},
		{"png", pngb, "image/png"},
		{"gif87", []byte("GIF87a\x01\x00\x01\x00"), "image/gif"},
		{"gif89", []byte("GIF89a\x01\x00\x01\x00"), "image/gif"},
		{"webp", []byte("RIFF\x24\x00\x00\x00WEBPVP8 "), "image/webp"},
		{"avi", []byte("RIFF\x24\x00\x00\x00AVI LIST"), "video/x-msvideo"},
		{"heic", mp4Header("heic"), "image/heic"},
		{"heif mif1", mp4Header("mif1"), "image/heif"},
		{"mp4 isom", mp4Header("isom"), "video/mp4"},
		{"mp4 mp42", mp4Header("mp42"), "video/mp4"},
		{"quicktime", mp4Header("qt  "), "video/quicktime"},
		{"avif is not accepted", mp4Header("avif"), ""},
		{"riff wave", []byte("RIFF\x24\x00\x00\x00WAVEfmt "), ""},
		{"html", []byte("<!DOCTYPE html><script>alert(1)</script>"), ""},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), ""},
		{"pdf", []byte("%PDF-1.7\n"), ""},
		{"empty", nil, ""},
		{"truncated jpeg", []byte{0xFF, 0xD8}, ""},
		{"truncated png", []byte("\x89PNG\r\n"), ""},
		{"truncated riff", []byte("RIFF\x24\x00"), ""},
		{"truncated ftyp", []byte{0, 0, 0, 0x20, 'f', 't', 'y', 'p', 'i'}, ""},
		{"ftyp box too small", append([]byte{0, 0, 0, 4}, mp4Header("isom")[4:]...), ""},
		{"ftyp box absurd", append([]byte{0x7f, 0, 0, 0}, mp4Header("isom")[4:]...), ""},
		// Polyglots are judged by their first bytes; what follows the
		// image is cut by the metadata filter (see strip tests).
		{"html then jpeg", append([]byte("<html>"), jpg...), ""},
		{"jpeg then html", append(append([]byte{}, jpg...), "<html><script>"...), "image/jpeg"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, ok := Sniff(c.b)
			if got := k.ContentType; ok != (c.want != "") || got != c.want {
				t.Fatalf("Sniff = %q, %v; want %q", got, ok, c.want)
			}
		})
	}
}

func TestDeclaredAndCompatible(t *testing.T) {
	if NormalizeDeclared("image/jpg") != "image/jpeg" { // B17
		t.Fatal("image/jpg not read as image/jpeg")
	}
	if NormalizeDeclared(" Image/PNG; charset=x") != "image/png" {
		t.Fatal("parameters/case not normalised")
	}
	if NormalizeDeclared("text/html") != "" || NormalizeDeclared("image/svg+xml") != "" {
		t.Fatal("unsafe types accepted")
	}
	heic, _ := KindOf("image/heic")
	mov, _ := KindOf("video/quicktime")
	if !Compatible("image/jpeg", heic) || !Compatible("video/mp4", mov) {
		t.Fatal("same-family mislabels (app picker) must be accepted")
	}
	if Compatible("image/jpeg", mov) || Compatible("video/mp4", heic) {
		t.Fatal("image/video swap accepted")
	}
}

func FuzzSniff(f *testing.F) {
	f.Add([]byte{0xFF, 0xD8, 0xFF})
	f.Add(mp4Header("qt  "))
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBP"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, ok := Sniff(b)
		if ok {
			if _, known := KindOf(k.ContentType); !known || k.Ext == "" {
				t.Fatalf("unknown kind %+v", k)
			}
			if k2, ok2 := Sniff(append(bytes.Clone(b), 0, 1, 2)); !ok2 || k2 != k {
				t.Fatal("trailing bytes changed the verdict")
			}
		}
	})
}
