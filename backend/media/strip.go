package media

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
)

// errBadImage marks bytes that start like an image but are not a valid one.
var errBadImage = errors.New("media: malformed image")

// stripMetadata returns r with privacy-relevant metadata removed, streaming:
// JPEG loses EXIF (GPS, device; only the orientation is kept so photos stay
// upright), XMP, IPTC and comments; PNG loses eXIf and text chunks. Bytes
// after the image's end marker (polyglot payloads) are dropped. Other kinds
// pass through unchanged (GIF has no EXIF; WebP/HEIC stripping is not done).
//
// The caller must Close the result: that stops the filter goroutine when the
// consumer gives up early.
func stripMetadata(k Kind, r io.Reader) io.ReadCloser {
	var f func(io.Writer, *bufio.Reader) error
	switch k.ContentType {
	case "image/jpeg":
		f = stripJPEG
	case "image/png":
		f = stripPNG
	default:
		return io.NopCloser(r)
	}
	pr, pw := io.Pipe()
	go func() {
		src := &sourceErr{r: r}
		err := f(pw, bufio.NewReaderSize(src, 32<<10))
		if src.err != nil {
			// A failed source (ErrTooLarge, a truncated body) is the
			// error, whatever the stripper made of the bytes it got.
			err = src.err
		}
		pw.CloseWithError(err)
	}()
	return pr
}

// sourceErr remembers the first read error other than EOF.
type sourceErr struct {
	r   io.Reader
	err error
}

func (s *sourceErr) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

func stripJPEG(w io.Writer, r *bufio.Reader) error {
	var soi [2]byte
	if _, err := io.ReadFull(r, soi[:]); err != nil || soi != [2]byte{0xFF, 0xD8} {
		return errBadImage
	}
	if _, err := w.Write(soi[:]); err != nil {
		return err
	}
	for {
		b, err := r.ReadByte()
		if err != nil {
			return errBadImage
		}
		if b != 0xFF {
			return errBadImage
		}
		m, err := r.ReadByte()
		for err == nil && m == 0xFF { // fill bytes
			m, err = r.ReadByte()
		}
		if err != nil {
			return errBadImage
		}
		switch {
		case m == 0xD9: // EOI before any scan
			_, err := w.Write([]byte{0xFF, 0xD9})
			return err
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7):
			if _, err := w.Write([]byte{0xFF, m}); err != nil {
				return err
			}
			continue
		}
		var lb [2]byte
		if _, err := io.ReadFull(r, lb[:]); err != nil {
			return errBadImage
		}
		n := int(binary.BigEndian.Uint16(lb[:]))
		if n < 2 {
			return errBadImage
		}
		if m == 0xDA { // start of scan: entropy data to EOI follows
			if _, err := w.Write([]byte{0xFF, m, lb[0], lb[1]}); err != nil {
				return err
			}
			return copyToEOI(w, r)
		}
		drop := m == 0xFE || m == 0xE1 || (m >= 0xE3 && m <= 0xED) || m == 0xEF
		if !drop {
			if _, err := w.Write([]byte{0xFF, m, lb[0], lb[1]}); err != nil {
				return err
			}
			if _, err := io.CopyN(w, r, int64(n-2)); err != nil {
				return errBadImage
			}
			continue
		}
		seg := make([]byte, n-2)
		if _, err := io.ReadFull(r, seg); err != nil {
			return errBadImage
		}
		if m == 0xE1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
			if o := exifOrientation(seg[6:]); o > 1 && o <= 8 {
				if _, err := w.Write(minimalExif(o)); err != nil {
					return err
				}
			}
		}
	}
}

// copyToEOI copies entropy-coded data up to and including the EOI marker.
// 0xFF 0xD9 cannot occur inside scan data (0xFF is stuffed), so the first
// one is the end of the image.
func copyToEOI(w io.Writer, r *bufio.Reader) error {
	prevFF := false
	for {
		chunk, err := r.Peek(r.Buffered())
		if len(chunk) == 0 {
			if _, err = r.Peek(1); err != nil {
				return errBadImage // truncated
			}
			continue
		}
		end := -1
		if prevFF && chunk[0] == 0xD9 {
			end = 1
		} else if i := bytes.Index(chunk, []byte{0xFF, 0xD9}); i >= 0 {
			end = i + 2
		}
		if end >= 0 {
			_, err := w.Write(chunk[:end])
			return err
		}
		if _, err := w.Write(chunk); err != nil {
			return err
		}
		prevFF = chunk[len(chunk)-1] == 0xFF
		_, _ = r.Discard(len(chunk))
	}
}

// exifOrientation reads tag 0x0112 of IFD0 from a TIFF block; 0 if absent.
func exifOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	off := int(bo.Uint32(t[4:8]))
	if off < 8 || off+2 > len(t) {
		return 0
	}
	count := int(bo.Uint16(t[off:]))
	for i := 0; i < count; i++ {
		e := off + 2 + i*12
		if e+12 > len(t) {
			return 0
		}
		if bo.Uint16(t[e:]) == 0x0112 {
			return int(bo.Uint16(t[e+8:]))
		}
	}
	return 0
}

// minimalExif is an APP1 segment holding only the orientation tag.
func minimalExif(o int) []byte {
	tiff := []byte{'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, byte(o), 0, 0, 0, 0, 0, 0}
	body := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(body)+2))
	return append(seg, body...)
}

// droppedPNGChunks hold EXIF or free text (XMP, comments, locations).
var droppedPNGChunks = map[string]bool{"eXIf": true, "tEXt": true, "zTXt": true, "iTXt": true}

func stripPNG(w io.Writer, r *bufio.Reader) error {
	var sig [8]byte
	if _, err := io.ReadFull(r, sig[:]); err != nil || string(sig[:]) != "\x89PNG\r\n\x1a\n" {
		return errBadImage
	}
	if _, err := w.Write(sig[:]); err != nil {
		return err
	}
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return errBadImage
		}
		n := int64(binary.BigEndian.Uint32(hdr[:4]))
		typ := string(hdr[4:])
		if n > 1<<31-1 {
			return errBadImage
		}
		if droppedPNGChunks[typ] {
			if _, err := r.Discard(int(n) + 4); err != nil {
				return errBadImage
			}
			continue
		}
		if _, err := w.Write(hdr[:]); err != nil {
			return err
		}
		crc := crc32.NewIEEE()
		crc.Write(hdr[4:])
		if _, err := io.CopyN(io.MultiWriter(w, crc), r, n); err != nil {
			return errBadImage
		}
		var sum [4]byte
		if _, err := io.ReadFull(r, sum[:]); err != nil || binary.BigEndian.Uint32(sum[:]) != crc.Sum32() {
			return errBadImage
		}
		if _, err := w.Write(sum[:]); err != nil {
			return err
		}
		if typ == "IEND" {
			return nil
		}
	}
}

// stripWebP drops the EXIF and XMP chunks of a WebP file, clears their
// VP8X flags and anything after the RIFF payload. RIFF sizes sit in the
// header, so this works on the whole (size-bounded) file, not a stream.
func stripWebP(b []byte) ([]byte, error) {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return nil, errBadImage
	}
	riff := int64(binary.LittleEndian.Uint32(b[4:8])) + 8
	if riff > int64(len(b)) || riff < 12 {
		return nil, errBadImage
	}
	b = b[:riff]
	out := make([]byte, 12, len(b))
	copy(out, b[:12])
	for p := 12; p < len(b); {
		if p+8 > len(b) {
			return nil, errBadImage
		}
		id := string(b[p : p+4])
		n := int64(binary.LittleEndian.Uint32(b[p+4 : p+8]))
		end := int64(p) + 8 + n + n&1
		if end > int64(len(b)) {
			if int64(p)+8+n != int64(len(b)) { // only a missing final pad byte is tolerated
				return nil, errBadImage
			}
			end = int64(len(b))
		}
		if id != "EXIF" && id != "XMP " {
			start := len(out)
			out = append(out, b[p:end]...)
			if id == "VP8X" && n >= 1 {
				out[start+8] &^= 0x0C // EXIF (0x08) and XMP (0x04) present flags
			}
		}
		p = int(end)
	}
	binary.LittleEndian.PutUint32(out[4:8], uint32(len(out)-8))
	return out, nil
}
