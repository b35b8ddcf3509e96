package id

import (
	"sort"
	"testing"
	"time"
)

func TestRoundTripAndOrder(t *testing.T) {
	base := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	var ids []ID
	for i := 0; i < 100; i++ {
		ids = append(ids, NewAt(base.Add(time.Duration(i)*time.Second)))
	}
	strs := make([]string, len(ids))
	for i, v := range ids {
		strs[i] = v.String()
		p, err := Parse(strs[i])
		if err != nil || p != v {
			t.Fatalf("round trip %s: %v", strs[i], err)
		}
		if !v.Time().Equal(base.Add(time.Duration(i) * time.Second)) {
			t.Fatalf("time = %v", v.Time())
		}
	}
	if !sort.StringsAreSorted(strs) {
		t.Fatal("ids created in time order do not sort in time order")
	}
	if MinAt(base).String() >= ids[0].String() && MinAt(base) != ids[0] {
		t.Fatal("MinAt must not exceed an id created at the same second")
	}
}

func TestLegacyObjectIDsParse(t *testing.T) {
	// A real-looking Mongo ObjectId keeps its value and its timestamp.
	v, err := Parse("65a1b2c3d4e5f60718293a4b")
	if err != nil {
		t.Fatal(err)
	}
	if v.String() != "65a1b2c3d4e5f60718293a4b" {
		t.Fatalf("got %s", v)
	}
	if v.Time().Year() != 2024 {
		t.Fatalf("timestamp year = %d", v.Time().Year())
	}
	if up, _ := Parse("65A1B2C3D4E5F60718293A4B"); up != v {
		t.Fatal("upper-case hex must parse to the same id")
	}
}

func TestParseRejects(t *testing.T) {
	for _, s := range []string{"", "me", "65a1b2c3d4e5f60718293a4", "65a1b2c3d4e5f60718293a4bz", "zza1b2c3d4e5f60718293a4b", "../../etc/passwd.........."} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) accepted", s)
		}
	}
}

func TestScanValue(t *testing.T) {
	v := New()
	dv, _ := v.Value()
	var back ID
	if err := back.Scan(dv); err != nil || back != v {
		t.Fatalf("scan: %v", err)
	}
	if err := back.Scan(nil); err != nil || !back.IsZero() {
		t.Fatal("NULL must scan to Nil")
	}
	if err := back.Scan(42); err == nil {
		t.Fatal("scanning an int must fail")
	}
}

func FuzzParse(f *testing.F) {
	f.Add("65a1b2c3d4e5f60718293a4b")
	f.Add("")
	f.Add("zzzzzzzzzzzzzzzzzzzzzzzz")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(v.String())
		if err != nil || again != v {
			t.Fatalf("re-parse of %q failed", s)
		}
	})
}

func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = New()
	}
}

func BenchmarkParseString(b *testing.B) {
	b.ReportAllocs()
	s := New().String()
	for b.Loop() {
		v, _ := Parse(s)
		_ = v.String()
	}
}
