package moderation

import (
	"strings"
	"testing"
	"unicode/utf8"
)

var defaultList = strings.Split("hate,harass,harassment,abuse,abusive,spam,scam,nsfw,nudity,porn,kill,threat,violent", ",")

func TestWholeWords(t *testing.T) {
	m := New(append(defaultList, "hate speech", "  ", "Straße"))
	cases := map[string]bool{
		"I hate mondays":         true,
		"KILL it":                true,
		"kill.":                  true,
		"(spam)":                 true,
		"skill":                  false,
		"skills and killer apps": false,
		"whatever":               false,
		"spammer":                false,
		"scammed":                false,
		"":                       false,
		"hate-speech":            true,
		"no speech here":         false,
		"STRASSE":                false, // simple folding, not full folding
		"straße":                 true,
		"STRAßE":                 true,
		"\u212Aill":              true,  // Kelvin sign folds to k
		"kill\u0301":             false, // k-i-l-l with a combining accent is another word
		"日本語 kill 日本語":           true,
		"日本語kill":                false,
		"nsfw_content":           true, // '_' separates words
		"violent123":             false,
	}
	for text, want := range cases {
		if got := m.Blocked(text); got != want {
			t.Errorf("Blocked(%q) = %v, want %v", text, got, want)
		}
	}
	if New(nil).Blocked("kill") || (*Matcher)(nil).Blocked("kill") {
		t.Fatal("empty matcher blocked")
	}
}

func FuzzBlocked(f *testing.F) {
	for _, s := range []string{"kill", "skill", "Hate speech", "\u212Aill", "\xff\xfe", "a kill b", strings.Repeat("kill ", 50)} {
		f.Add(s)
	}
	m := New(append(defaultList, "hate speech"))
	f.Fuzz(func(t *testing.T, s string) {
		got := m.Blocked(s)
		// Appending or prepending a separator never changes the verdict.
		if m.Blocked(" "+s+" ") != got {
			t.Fatalf("separators changed verdict for %q", s)
		}
		// A blocked text is still blocked inside a longer sentence.
		if got && !m.Blocked("well, "+s+" indeed") {
			t.Fatalf("context unblocked %q", s)
		}
		// Every word is non-empty and made of word runes.
		for _, w := range Words(s) {
			if w == "" {
				t.Fatal("empty word")
			}
			for _, r := range w {
				if !isWordRune(r) && r != utf8.RuneError {
					t.Fatalf("separator %q inside word %q", r, w)
				}
			}
		}
	})
}

func BenchmarkBlocked(b *testing.B) {
	m := New(defaultList)
	text := "A fairly ordinary caption about skills, sunsets and the killer app we shipped today #launch"
	b.ReportAllocs()
	for b.Loop() {
		_ = m.Blocked(text)
	}
}
