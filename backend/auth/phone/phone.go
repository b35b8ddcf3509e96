// Package phone normalises phone numbers to E.164. The auth service keys
// accounts by the result, and the Mongo importer runs the same function over
// legacy users, so a person typing "98765 43210" today and a legacy document
// holding "+919876543210" meet on one account (legacy B36).
package phone

import (
	"errors"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// ErrInvalid is returned for anything that is not a valid phone number.
var ErrInvalid = errors.New("invalid phone number")

// maxInput bounds the work spent on one input; E.164 needs at most 16
// characters, formatted input a few more.
const maxInput = 40

// Normalize returns raw as E.164 ("+919876543210"). Spaces, dashes, dots and
// parentheses are ignored; a leading 00 means +. A number without a country
// code is taken as national in defaultCC ("+91"): a bare 10-digit number, as
// the legacy monolith did for the live app's users, or 11 digits with a
// trunk 0. The result must be a valid number for its country.
func Normalize(raw, defaultCC string) (string, error) {
	if len(raw) > maxInput {
		return "", ErrInvalid
	}
	var b strings.Builder
	b.Grow(len(raw) + len(defaultCC))
	plus := false
	for i, r := range strings.TrimSpace(raw) {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			plus = true
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' || r == '\t':
		default:
			return "", ErrInvalid
		}
	}
	digits := b.String()
	switch {
	case plus:
	case strings.HasPrefix(digits, "00"):
		digits = digits[2:]
	case len(digits) == 10:
		digits = strings.TrimPrefix(defaultCC, "+") + digits
	case len(digits) == 11 && digits[0] == '0':
		digits = strings.TrimPrefix(defaultCC, "+") + digits[1:]
	}
	if len(digits) < 7 || len(digits) > 15 || digits[0] == '0' {
		return "", ErrInvalid
	}
	// Indian mobile numbers (+91 and 10 digits from 6 to 9), the live app's
	// users, skip the metadata's regular expressions: libphonenumber
	// accepts every one of them (checked in the tests).
	if len(digits) == 12 && digits[:2] == "91" && digits[2] >= '6' {
		return "+" + digits, nil
	}
	n, err := phonenumbers.Parse("+"+digits, "")
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return "", ErrInvalid
	}
	out := phonenumbers.Format(n, phonenumbers.E164)
	if !IsE164(out) {
		return "", ErrInvalid
	}
	return out, nil
}

// IsE164 reports whether s has the E.164 shape: + and 7 to 15 digits, the
// first not 0. It does not check that the number exists.
func IsE164(s string) bool {
	if len(s) < 8 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Mask hides all but the last 4 digits, for logs.
func Mask(e164 string) string {
	if len(e164) <= 4 {
		return "****"
	}
	return strings.Repeat("*", len(e164)-4) + e164[len(e164)-4:]
}
