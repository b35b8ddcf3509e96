package media

import (
	"bytes"
	"encoding/binary"
	"strings"
)

// SniffLen is how many leading bytes Sniff needs to decide.
const SniffLen = 64

// Kind is an accepted content type and its canonical extension.
type Kind struct {
	ContentType string
	Ext         string
}

// IsImage reports an image kind.
func (k Kind) IsImage() bool { return strings.HasPrefix(k.ContentType, "image/") }

// IsVideo reports a video kind.
func (k Kind) IsVideo() bool { return strings.HasPrefix(k.ContentType, "video/") }

var kinds = map[string]Kind{
	"image/jpeg":      {"image/jpeg", "jpg"},
	"image/png":       {"image/png", "png"},
	"image/gif":       {"image/gif", "gif"},
	"image/webp":      {"image/webp", "webp"},
	"image/heic":      {"image/heic", "heic"},
	"image/heif":      {"image/heif", "heif"},
	"video/mp4":       {"video/mp4", "mp4"},
	"video/quicktime": {"video/quicktime", "mov"},
	"video/x-msvideo": {"video/x-msvideo", "avi"},
}

// declaredAliases maps spellings clients send to the canonical type (B17).
var declaredAliases = map[string]string{
	"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "video/avi": "video/x-msvideo",
	"video/msvideo": "video/x-msvideo", "video/mov": "video/quicktime",
}

// NormalizeDeclared canonicalises a declared content type: lower case, no
// parameters, aliases resolved. It returns "" for types we never accept.
func NormalizeDeclared(ct string) string {
	ct, _, _ = strings.Cut(ct, ";")
	ct = strings.ToLower(strings.TrimSpace(ct))
	if a, ok := declaredAliases[ct]; ok {
		ct = a
	}
	if _, ok := kinds[ct]; !ok {
		return ""
	}
	return ct
}

// KindOf returns the Kind of a canonical content type.
func KindOf(ct string) (Kind, bool) {
	k, ok := kinds[ct]
	return k, ok
}

// ISO BMFF major brands. HEIF/HEIC stills and AVIF are not videos even though
// they share the ftyp box with MP4.
var (
	heicBrands  = map[string]bool{"heic": true, "heix": true, "hevc": true, "hevx": true, "heim": true, "heis": true}
	heifBrands  = map[string]bool{"mif1": true, "msf1": true}
	otherStills = map[string]bool{"avif": true, "avis": true, "crx ": true, "jxl ": true}
)

// Sniff identifies the content from its leading bytes (the magic numbers),
// never from what the client declared. ok is false for anything not in the
// accepted set, including truncated headers.
func Sniff(b []byte) (Kind, bool) {
	switch {
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return kinds["image/jpeg"], true
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return kinds["image/png"], true
	case bytes.HasPrefix(b, []byte("GIF87a")) || bytes.HasPrefix(b, []byte("GIF89a")):
		return kinds["image/gif"], true
	case len(b) >= 12 && string(b[:4]) == "RIFF":
		switch string(b[8:12]) {
		case "WEBP":
			return kinds["image/webp"], true
		case "AVI ":
			return kinds["video/x-msvideo"], true
		}
	case len(b) >= 12 && string(b[4:8]) == "ftyp":
		size := binary.BigEndian.Uint32(b[:4])
		// A real ftyp box holds at least size, type, major brand and minor version.
		if size < 16 || size > 4096 {
			return Kind{}, false
		}
		brand := strings.ToLower(string(b[8:12]))
		switch {
		case heicBrands[brand]:
			return kinds["image/heic"], true
		case heifBrands[brand]:
			return kinds["image/heif"], true
		case otherStills[brand]:
			return Kind{}, false
		case brand == "qt  ":
			return kinds["video/quicktime"], true
		default:
			return kinds["video/mp4"], true
		}
	}
	return Kind{}, false
}

// Compatible reports whether bytes sniffed as got may be stored for a
// declaration of declared. Images and videos are never interchangeable; within
// a family the app mislabels freely (a HEIC from the picker declared
// image/jpeg, an iPhone .mov declared video/mp4), so the sniffed type wins
// and is what we store (B18).
func Compatible(declared string, got Kind) bool {
	if declared == "" {
		return true
	}
	d, ok := kinds[declared]
	if !ok {
		return false
	}
	return d.IsImage() == got.IsImage()
}
