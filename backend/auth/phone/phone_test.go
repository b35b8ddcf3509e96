package phone

import (
	"testing"

	"github.com/nyaruka/phonenumbers"
)

func TestNormalize(t *testing.T) {
	ok := map[string]string{
		"9876543210":        "+919876543210", // the live app sends 10 digits
		" 98765 43210 ":     "+919876543210",
		"+919876543210":     "+919876543210",
		"+91 98765-43210":   "+919876543210",
		"09876543210":       "+919876543210", // national trunk prefix
		"00919876543210":    "+919876543210",
		"+1 (415) 555-2671": "+14155552671",
		"+447911123456":     "+447911123456",
	}
	for in, want := range ok {
		got, err := Normalize(in, "+91")
		if err != nil || got != want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	// Another default country applies to bare national numbers only.
	if got, err := Normalize("4155552671", "+1"); err != nil || got != "+14155552671" {
		t.Errorf("default +1: %q %v", got, err)
	}
	bad := []string{
		"", "   ", "+", "abc", "12345", "+10000000000", "98765432101234567",
		"+91 98765 4321x", "9876543210; DROP TABLE", "++919876543210",
		"+0919876543210", "٩٨٧٦٥٤٣٢١٠", "+91\x009876543210",
		"+919876543210000000000000000000000000000000",
	}
	for _, in := range bad {
		if got, err := Normalize(in, "+91"); err == nil {
			t.Errorf("Normalize(%q) = %q, want error", in, got)
		}
	}
}

func TestIsE164AndMask(t *testing.T) {
	if !IsE164("+919876543210") || IsE164("919876543210") || IsE164("+0123456789") || IsE164("+12") {
		t.Fatal("IsE164")
	}
	if Mask("+919876543210") != "*********3210" || Mask("12") != "****" {
		t.Fatal(Mask("+919876543210"))
	}
}

// The fast path for Indian mobiles agrees with libphonenumber.
func TestIndianMobileFastPathAgrees(t *testing.T) {
	for _, d := range []string{"6000000000", "6999999999", "7012345678", "8000000000", "9999999999", "9876543210"} {
		n, err := phonenumbers.Parse("+91"+d, "")
		if err != nil || !phonenumbers.IsValidNumber(n) || phonenumbers.Format(n, phonenumbers.E164) != "+91"+d {
			t.Fatalf("libphonenumber disagrees on +91%s", d)
		}
		if got, err := Normalize(d, "+91"); err != nil || got != "+91"+d {
			t.Fatalf("%s: %q %v", d, got, err)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"9876543210", "+919876543210", "00447911123456", "(415) 555-2671", "+", "0", "+1 415 555 2671", "09876543210"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := Normalize(in, "+91")
		if err != nil {
			return
		}
		// Whatever path produced it, libphonenumber calls the result valid.
		if n, perr := phonenumbers.Parse(out, ""); perr != nil || !phonenumbers.IsValidNumber(n) {
			t.Fatalf("Normalize(%q) = %q, which libphonenumber rejects", in, out)
		}
		if !IsE164(out) {
			t.Fatalf("Normalize(%q) = %q: not E.164", in, out)
		}
		again, err := Normalize(out, "+91")
		if err != nil || again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", in, out, again, err)
		}
	})
}

func BenchmarkNormalize(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Normalize("9876543210", "+91"); err != nil {
			b.Fatal(err)
		}
	}
}
