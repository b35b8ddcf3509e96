// Package id implements the ObjectId-compatible identifiers used for every
// entity: 12 bytes (4-byte big-endian seconds timestamp, 5 random bytes fixed
// per process, 3-byte counter), written as 24 lowercase hex characters.
// IDs imported from the legacy MongoDB keep their value and IDs sort by time.
package id

import (
	"crypto/rand"
	"database/sql/driver"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// ID is an ObjectId-compatible identifier. The zero value is "no id".
type ID [12]byte

// Nil is the zero ID.
var Nil ID

// ErrInvalid is returned when a string is not 24 lowercase-or-uppercase hex characters.
var ErrInvalid = errors.New("id: must be 24 hex characters")

var (
	processUnique [5]byte
	counter       atomic.Uint32
)

func init() {
	if _, err := rand.Read(processUnique[:]); err != nil {
		panic(fmt.Sprintf("id: reading random bytes: %v", err))
	}
	var c [4]byte
	if _, err := rand.Read(c[:]); err != nil {
		panic(fmt.Sprintf("id: reading random bytes: %v", err))
	}
	counter.Store(binary.BigEndian.Uint32(c[:]))
}

// New returns a fresh ID for the current time.
func New() ID { return NewAt(time.Now()) }

// NewAt returns a fresh ID whose timestamp is t (second precision).
func NewAt(t time.Time) ID {
	var b ID
	binary.BigEndian.PutUint32(b[0:4], uint32(t.Unix()))
	copy(b[4:9], processUnique[:])
	c := counter.Add(1)
	b[9], b[10], b[11] = byte(c>>16), byte(c>>8), byte(c)
	return b
}

// MinAt is the smallest ID with timestamp t; useful as a range bound.
func MinAt(t time.Time) ID {
	var b ID
	binary.BigEndian.PutUint32(b[0:4], uint32(t.Unix()))
	return b
}

// Parse decodes a 24-character hex string (either case).
func Parse(s string) (ID, error) {
	var b ID
	if len(s) != 24 {
		return Nil, ErrInvalid
	}
	if _, err := hex.Decode(b[:], []byte(s)); err != nil {
		return Nil, ErrInvalid
	}
	return b, nil
}

// Valid reports whether s is a well-formed ID.
func Valid(s string) bool {
	_, err := Parse(s)
	return err == nil
}

// String returns the 24-character lowercase hex form.
func (i ID) String() string { return hex.EncodeToString(i[:]) }

// IsZero reports whether i is Nil.
func (i ID) IsZero() bool { return i == Nil }

// Time returns the creation time encoded in the ID.
func (i ID) Time() time.Time {
	return time.Unix(int64(binary.BigEndian.Uint32(i[0:4])), 0).UTC()
}

// MarshalText implements encoding.TextMarshaler (JSON strings).
func (i ID) MarshalText() ([]byte, error) {
	out := make([]byte, 24)
	hex.Encode(out, i[:])
	return out, nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (i *ID) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*i = v
	return nil
}

// Value stores the ID as its hex text (the object_id SQL domain).
func (i ID) Value() (driver.Value, error) {
	if i.IsZero() {
		return nil, nil
	}
	return i.String(), nil
}

// Scan reads an ID from its hex text; NULL becomes Nil.
func (i *ID) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*i = Nil
		return nil
	case string:
		return i.UnmarshalText([]byte(v))
	case []byte:
		return i.UnmarshalText(v)
	default:
		return fmt.Errorf("id: cannot scan %T", src)
	}
}
