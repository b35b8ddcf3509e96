package importer

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/infliq/infliq/backend/platform/id"
)

// doc reads one legacy document field by field. Mongoose schemas drifted
// across five backends, so every accessor treats a missing or null field as
// absent. A cosmetic type error (a number where a string belongs, a string
// where an array belongs) is normalised and recorded in fixes, which the
// summary counts; only what cannot be imported safely (a reference that is
// not an id) sets err, and the caller rejects the document with it.
type doc struct {
	raw   bson.Raw
	err   string
	fixes []string
}

func (d *doc) bad(key string, v bson.RawValue, want string) {
	if d.err == "" {
		d.err = fmt.Sprintf("%s: want %s, got %s", key, want, v.Type)
	}
}

// fail rejects the document with reason unless an earlier reason stands.
func (d *doc) fail(reason string) {
	if d.err == "" {
		d.err = reason
	}
}

// fix records a normalisation of key (counted in the summary).
func (d *doc) fix(key, what string) {
	d.fixes = append(d.fixes, key+": "+what)
}

func (d *doc) val(key string) (bson.RawValue, bool) {
	v := d.raw.Lookup(key)
	return v, v.Type != 0 && v.Type != bson.TypeNull && v.Type != bson.TypeUndefined
}

// str returns a string field ("" when absent). Numbers and booleans become
// their text, an array of strings is joined; anything else is dropped.
// NULs (PostgreSQL text cannot hold them) are removed and invalid UTF-8 is
// repaired, each counted.
func (d *doc) str(key string) string {
	v, ok := d.val(key)
	if !ok {
		return ""
	}
	s, ok := v.StringValueOK()
	if !ok {
		switch v.Type {
		case bson.TypeInt32, bson.TypeInt64, bson.TypeDouble:
			f, _ := v.AsFloat64OK()
			s = strconv.FormatFloat(f, 'f', -1, 64)
			d.fix(key, v.Type.String()+" read as text")
		case bson.TypeBoolean:
			s = strconv.FormatBool(v.Boolean())
			d.fix(key, "boolean read as text")
		case bson.TypeArray:
			var parts []string
			vs, _ := v.Array().Values()
			for _, e := range vs {
				if p, ok := e.StringValueOK(); ok && strings.TrimSpace(p) != "" {
					parts = append(parts, p)
				}
			}
			s = strings.Join(parts, " ")
			d.fix(key, "array joined into text")
		default:
			d.fix(key, v.Type.String()+" dropped (not text)")
			return ""
		}
	}
	return d.clean(key, s)
}

// clean removes NULs and repairs invalid UTF-8, counting each.
func (d *doc) clean(key, s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
		d.fix(key, "NUL characters removed")
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
		d.fix(key, "invalid UTF-8 replaced")
	}
	return s
}

// text is str for free text that is the item itself (a message, a
// comment): a NUL or invalid UTF-8 there rejects the item instead of
// altering what someone wrote.
func (d *doc) text(key string) string {
	v, ok := d.val(key)
	if !ok {
		return ""
	}
	if s, ok := v.StringValueOK(); ok {
		if strings.IndexByte(s, 0) >= 0 {
			d.fail(key + " contains a NUL character")
		} else if !utf8.ValidString(s) {
			d.fail(key + " is not valid UTF-8")
		}
		return s
	}
	return d.str(key)
}

// oid returns an ObjectId field, also accepting its 24-hex string form (the
// media audit log and some hand-written documents store ids as strings).
func (d *doc) oid(key string) (id.ID, bool) {
	v, ok := d.val(key)
	if !ok {
		return id.Nil, false
	}
	x, ok := valueID(v)
	if !ok {
		d.bad(key, v, "ObjectId")
	}
	return x, ok
}

func valueID(v bson.RawValue) (id.ID, bool) {
	if o, ok := v.ObjectIDOK(); ok {
		return id.ID(o), true
	}
	if s, ok := v.StringValueOK(); ok {
		if x, err := id.Parse(strings.ToLower(strings.TrimSpace(s))); err == nil {
			return x, true
		}
	}
	return id.Nil, false
}

// epochSecondsBelow splits epoch numbers by magnitude: below it they are
// seconds (up to the year 5138), at or above it milliseconds (from 1973).
const epochSecondsBelow = 1e11

// time returns a date field (zero when absent). BSON dates, RFC 3339
// strings and epoch numbers (seconds or milliseconds, by magnitude) are
// read, the last two counted; anything else is dropped and counted.
func (d *doc) time(key string) time.Time {
	v, ok := d.val(key)
	if !ok {
		return time.Time{}
	}
	if ms, ok := v.DateTimeOK(); ok {
		return time.UnixMilli(ms).UTC()
	}
	if s, ok := v.StringValueOK(); ok {
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05", time.DateOnly} {
			if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
				d.fix(key, "date read from a string")
				return t.UTC()
			}
		}
	}
	if f, ok := v.AsFloat64OK(); ok && !math.IsNaN(f) && !math.IsInf(f, 0) && math.Abs(f) < 1e15 {
		if math.Abs(f) < epochSecondsBelow {
			d.fix(key, "date read from epoch seconds")
			return time.Unix(int64(f), 0).UTC()
		}
		d.fix(key, "date read from epoch milliseconds")
		return time.UnixMilli(int64(f)).UTC()
	}
	d.fix(key, v.Type.String()+" dropped (not a date)")
	return time.Time{}
}

// num returns a numeric field; ok is false when absent. Numeric strings
// are read and counted; anything else is dropped and counted.
func (d *doc) num(key string) (float64, bool) {
	v, present := d.val(key)
	if !present {
		return 0, false
	}
	f, ok := v.AsFloat64OK()
	if !ok {
		if s, sok := v.StringValueOK(); sok {
			if g, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
				f, ok = g, true
				d.fix(key, "number read from a string")
			}
		}
	}
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
		d.fix(key, v.Type.String()+" dropped (not a number)")
		return 0, false
	}
	return f, true
}

// count returns a counter field that must fit limit: negative counts
// become 0 (counted); a count beyond limit is corrupt data that no column
// can hold, and rejects the document.
func (d *doc) count(key string, limit float64) int64 {
	f, ok := d.num(key)
	switch {
	case !ok:
		return 0
	case f < 0:
		d.fix(key, "negative count set to 0")
		return 0
	case f > limit:
		d.fail(fmt.Sprintf("%s out of range (%g > %g)", key, f, limit))
		return 0
	}
	return int64(f)
}

func (d *doc) boolean(key string) bool {
	v, ok := d.val(key)
	if !ok {
		return false
	}
	if b, ok := v.BooleanOK(); ok {
		return b
	}
	if f, ok := v.AsFloat64OK(); ok {
		d.fix(key, "number read as boolean")
		return f != 0
	}
	if s, ok := v.StringValueOK(); ok {
		if b, err := strconv.ParseBool(strings.TrimSpace(s)); err == nil {
			d.fix(key, "string read as boolean")
			return b
		}
	}
	d.fix(key, v.Type.String()+" dropped (not a boolean)")
	return false
}

// values returns an array field's elements (nil when absent). A lone value
// where an array belongs is read as a one-element array, and the strings
// legacy code wrote for "nothing" ("", "none", "null", "[]") as an empty
// one; both are counted.
func (d *doc) values(key string) []bson.RawValue {
	v, ok := d.val(key)
	if !ok {
		return nil
	}
	a, ok := v.ArrayOK()
	if !ok {
		if s, ok := v.StringValueOK(); ok {
			switch strings.ToLower(strings.TrimSpace(s)) {
			case "", "none", "null", "undefined", "[]":
				d.fix(key, fmt.Sprintf("string %q read as an empty list", s))
				return nil
			}
		}
		if v.Type == bson.TypeEmbeddedDocument {
			d.fix(key, "document where a list belongs dropped")
			return nil
		}
		d.fix(key, "single "+v.Type.String()+" read as a one-element list")
		return []bson.RawValue{v}
	}
	vs, err := a.Values()
	if err != nil {
		d.fix(key, "malformed array dropped")
		return nil
	}
	return vs
}

// ids returns the ObjectIds of an array field; elements that are not ids
// are counted in bad (they are dropped, not fatal).
func (d *doc) ids(key string) (out []id.ID, bad int) {
	for _, v := range d.values(key) {
		if x, ok := valueID(v); ok {
			out = append(out, x)
		} else {
			bad++
		}
	}
	return out, bad
}

// docID returns the document's _id; ok is false when it is not an ObjectId.
func (d *doc) docID() (id.ID, bool) {
	v := d.raw.Lookup("_id")
	o, ok := v.ObjectIDOK()
	return id.ID(o), ok
}

// created returns createdAt, else the ObjectId's timestamp.
func (d *doc) created(x id.ID) time.Time {
	if t := d.time("createdAt"); !t.IsZero() {
		return t
	}
	return x.Time()
}

// nz turns "" into NULL for COPY.
func nz(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nzt turns a zero time into NULL for COPY.
func nzt(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func nzid(x id.ID) any {
	if x.IsZero() {
		return nil
	}
	return x.String()
}

// uniqueRefs counts an id array's elements into st (malformed ones and
// references to users this run does not import rejected, repeats skipped)
// and returns the distinct ids in order. users nil: no user check.
func uniqueRefs(st *Stats, ids []id.ID, bad int, what string, users map[id.ID]struct{}) []id.ID {
	st.Read += int64(bad + len(ids))
	st.reject("element is not an ObjectId", int64(bad))
	out := make([]id.ID, 0, len(ids))
	seen := make(map[id.ID]bool, len(ids))
	for _, x := range ids {
		if seen[x] {
			st.skip("duplicate "+what, 1)
			continue
		}
		seen[x] = true
		if users != nil {
			if _, ok := users[x]; !ok {
				st.reject("dangling reference to a missing user", 1)
				continue
			}
		}
		out = append(out, x)
	}
	return out
}
