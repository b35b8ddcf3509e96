package importer

import (
	"fmt"
	"math"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/infliq/infliq/backend/platform/id"
)

// doc reads one legacy document field by field. Mongoose schemas drifted
// across five backends, so every accessor treats a missing or null field as
// absent and records the first field of the wrong type in err; the caller
// rejects the document with that reason instead of guessing.
type doc struct {
	raw bson.Raw
	err string
}

func (d *doc) bad(key string, v bson.RawValue, want string) {
	if d.err == "" {
		d.err = fmt.Sprintf("%s: want %s, got %s", key, want, v.Type)
	}
}

func (d *doc) val(key string) (bson.RawValue, bool) {
	v := d.raw.Lookup(key)
	return v, v.Type != 0 && v.Type != bson.TypeNull && v.Type != bson.TypeUndefined
}

// str returns a string field ("" when absent).
func (d *doc) str(key string) string {
	v, ok := d.val(key)
	if !ok {
		return ""
	}
	s, ok := v.StringValueOK()
	if !ok {
		d.bad(key, v, "string")
	}
	return s
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
		if x, err := id.Parse(strings.ToLower(s)); err == nil {
			return x, true
		}
	}
	return id.Nil, false
}

// time returns a date field (zero when absent). Numbers are taken as epoch
// milliseconds and strings as RFC 3339, both seen in hand-edited data.
func (d *doc) time(key string) time.Time {
	v, ok := d.val(key)
	if !ok {
		return time.Time{}
	}
	if ms, ok := v.DateTimeOK(); ok {
		return time.UnixMilli(ms).UTC()
	}
	if s, ok := v.StringValueOK(); ok {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UTC()
		}
	}
	if f, ok := v.AsFloat64OK(); ok && !math.IsNaN(f) && !math.IsInf(f, 0) {
		return time.UnixMilli(int64(f)).UTC()
	}
	d.bad(key, v, "date")
	return time.Time{}
}

// num returns a numeric field; ok is false when absent.
func (d *doc) num(key string) (float64, bool) {
	v, present := d.val(key)
	if !present {
		return 0, false
	}
	f, ok := v.AsFloat64OK()
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
		d.bad(key, v, "number")
		return 0, false
	}
	return f, true
}

func (d *doc) boolean(key string) bool {
	v, ok := d.val(key)
	if !ok {
		return false
	}
	b, ok := v.BooleanOK()
	if !ok {
		d.bad(key, v, "boolean")
	}
	return b
}

// values returns an array field's elements (nil when absent).
func (d *doc) values(key string) []bson.RawValue {
	v, ok := d.val(key)
	if !ok {
		return nil
	}
	a, ok := v.ArrayOK()
	if !ok {
		d.bad(key, v, "array")
		return nil
	}
	vs, err := a.Values()
	if err != nil {
		d.bad(key, v, "valid array")
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

// uniqueRefs counts an id array's elements into st (malformed ones
// rejected, repeats skipped) and returns the distinct ids in order.
func uniqueRefs(st *Stats, ids []id.ID, bad int, what string) []id.ID {
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
		out = append(out, x)
	}
	return out
}
