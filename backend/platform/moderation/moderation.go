// Package moderation matches text against a configurable blocklist
// (MODERATION_BLOCKLIST). Matching is on whole words, case-insensitive and
// Unicode-aware: text is split into words at every rune that is not a
// letter, digit or combining mark, so "skill" never matches "kill" (legacy
// B14 matched substrings). A blocklist entry of several words matches those
// words in sequence ("hate speech").
package moderation

import (
	"strings"
	"unicode"
)

// Matcher is immutable and safe for concurrent use.
type Matcher struct {
	// first word → the remaining words of each entry starting with it.
	entries map[string][][]string
}

// New builds a matcher from blocklist entries; blank entries are ignored.
func New(blocklist []string) *Matcher {
	m := &Matcher{entries: map[string][][]string{}}
	for _, e := range blocklist {
		words := Words(e)
		if len(words) == 0 {
			continue
		}
		m.entries[words[0]] = append(m.entries[words[0]], words[1:])
	}
	return m
}

// Blocked reports whether text contains a blocklisted word or phrase.
func (m *Matcher) Blocked(text string) bool {
	if m == nil || len(m.entries) == 0 {
		return false
	}
	words := Words(text)
	for i, w := range words {
		for _, rest := range m.entries[w] {
			if hasPrefix(words[i+1:], rest) {
				return true
			}
		}
	}
	return false
}

func hasPrefix(words, prefix []string) bool {
	if len(prefix) > len(words) {
		return false
	}
	for i, p := range prefix {
		if words[i] != p {
			return false
		}
	}
	return true
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

// Words splits s into case-folded words.
func Words(s string) []string {
	fields := strings.FieldsFunc(s, func(r rune) bool { return !isWordRune(r) })
	for i, f := range fields {
		fields[i] = fold(f)
	}
	return fields
}

// fold lower-cases a word with Unicode simple case folding, so that every
// case variant of a letter (e.g. "K", "k" and the Kelvin sign) compares equal.
func fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		b.WriteRune(canonical(r))
	}
	return b.String()
}

// canonical returns the smallest rune in r's case-folding orbit.
func canonical(r rune) rune {
	min := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < min {
			min = f
		}
	}
	return min
}
