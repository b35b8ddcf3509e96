package media

import (
	"encoding/binary"
	"strings"
)

// scrubHEIF blanks the Exif and XMP items of a HEIC/HEIF file in place.
// The metadata lives in items located by the `iloc` box, so zeroing their
// bytes keeps every offset valid (orientation is an `irot` property, not
// EXIF, so photos stay upright). Files whose layout we cannot follow are
// refused rather than stored with their GPS position.
func scrubHEIF(b []byte) (changed bool, err error) {
	meta, ok := findBox(b, "meta")
	if !ok || len(meta) < 4 {
		return false, errBadImage
	}
	meta = meta[4:] // full box: version and flags
	targets, err := heifMetadataItems(meta)
	if err != nil || len(targets) == 0 {
		return false, err
	}
	iloc, ok := findBox(meta, "iloc")
	if !ok {
		return false, errBadImage
	}
	idat, _ := findBox(meta, "idat")
	return true, zeroItems(b, iloc, idat, targets)
}

// findBox returns the payload of the first box of type typ in b (one level).
func findBox(b []byte, typ string) ([]byte, bool) {
	for p := 0; p+8 <= len(b); {
		size := uint64(binary.BigEndian.Uint32(b[p:]))
		hdr := uint64(8)
		switch size {
		case 1:
			if p+16 > len(b) {
				return nil, false
			}
			size, hdr = binary.BigEndian.Uint64(b[p+8:]), 16
		case 0:
			size = uint64(len(b) - p)
		}
		if size < hdr || uint64(p)+size > uint64(len(b)) {
			return nil, false
		}
		if string(b[p+4:p+8]) == typ {
			return b[uint64(p)+hdr : uint64(p)+size], true
		}
		p += int(size)
	}
	return nil, false
}

// heifMetadataItems lists the item ids of Exif items and XMP mime items.
func heifMetadataItems(meta []byte) (map[uint32]bool, error) {
	iinf, ok := findBox(meta, "iinf")
	if !ok {
		return nil, nil
	}
	if len(iinf) < 6 {
		return nil, errBadImage
	}
	skip := 6 // version/flags + u16 count
	if iinf[0] != 0 {
		skip = 8
	}
	out := map[uint32]bool{}
	for rest := iinf[skip:]; len(rest) >= 8; {
		size := int(binary.BigEndian.Uint32(rest))
		if size < 8 || size > len(rest) {
			return nil, errBadImage
		}
		if string(rest[4:8]) == "infe" {
			e := rest[8:size]
			if len(e) >= 4 && e[0] >= 2 {
				var id uint32
				var p int
				if e[0] == 2 && len(e) >= 12 {
					id, p = uint32(binary.BigEndian.Uint16(e[4:])), 8
				} else if e[0] >= 3 && len(e) >= 14 {
					id, p = binary.BigEndian.Uint32(e[4:]), 10
				} else {
					return nil, errBadImage
				}
				typ := string(e[p : p+4])
				if typ == "Exif" || (typ == "mime" && strings.Contains(string(e[p+4:]), "rdf+xml")) {
					out[id] = true
				}
			}
		}
		rest = rest[size:]
	}
	return out, nil
}

// zeroItems blanks the extents of the target items listed in iloc.
func zeroItems(file, iloc, idat []byte, targets map[uint32]bool) error {
	if len(iloc) < 8 {
		return errBadImage
	}
	v := iloc[0]
	offSize, lenSize := int(iloc[4]>>4), int(iloc[4]&15)
	baseSize, idxSize := int(iloc[5]>>4), int(iloc[5]&15)
	if v == 0 {
		idxSize = 0
	}
	r := &beReader{b: iloc[6:], ok: true}
	var count uint64
	if v < 2 {
		count = r.n(2)
	} else {
		count = r.n(4)
	}
	for i := uint64(0); i < count && r.ok; i++ {
		var id uint64
		if v < 2 {
			id = r.n(2)
		} else {
			id = r.n(4)
		}
		method := uint64(0)
		if v == 1 || v == 2 {
			method = r.n(2) & 15
		}
		r.n(2) // data_reference_index
		base := r.n(baseSize)
		extents := r.n(2)
		for j := uint64(0); j < extents && r.ok; j++ {
			r.n(idxSize)
			off, n := base+r.n(offSize), r.n(lenSize)
			if !targets[uint32(id)] {
				continue
			}
			dst := file
			if method == 1 {
				dst = idat
			} else if method != 0 {
				return errBadImage
			}
			if n == 0 { // "to the end"
				if off > uint64(len(dst)) {
					return errBadImage
				}
				n = uint64(len(dst)) - off
			}
			if off > uint64(len(dst)) || n > uint64(len(dst))-off {
				return errBadImage
			}
			clear(dst[off : off+n])
		}
	}
	if !r.ok {
		return errBadImage
	}
	return nil
}

// beReader reads big-endian integers of 0, 2, 4 or 8 bytes.
type beReader struct {
	b  []byte
	ok bool
}

func (r *beReader) n(size int) uint64 {
	if !r.ok {
		return 0
	}
	if size == 0 {
		return 0
	}
	if len(r.b) < size || (size != 2 && size != 4 && size != 8) {
		r.ok = false
		return 0
	}
	var v uint64
	for _, c := range r.b[:size] {
		v = v<<8 | uint64(c)
	}
	r.b = r.b[size:]
	return v
}
