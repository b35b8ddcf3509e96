package importer

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
)

// Stats counts what happened to one collection (or one kind of row derived
// from it, such as "users.follows" or "chats.messages").
type Stats struct {
	Name     string
	Read     int64 // documents (or derived rows) seen
	Inserted int64
	Updated  int64
	Skipped  int64 // valid but not written: unchanged, duplicate, expired
	Rejected int64 // invalid: malformed, dangling reference
	// Normalised counts the imported items that were changed on the way
	// (a number read as text, a NUL removed, epoch seconds read as a
	// date); Reasons says what each change was.
	Normalised int64
	Reasons    map[string]int // per reason: skips, rejections and normalisations
}

// Rejection names one rejected document (or embedded item) and why.
type Rejection struct {
	Collection, ID, Reason string
}

func (s *Stats) reject(reason string, n int64) {
	if n <= 0 {
		return
	}
	s.Rejected += n
	s.note(reason, n)
}

func (s *Stats) skip(reason string, n int64) {
	if n <= 0 {
		return
	}
	s.Skipped += n
	s.note(reason, n)
}

func (s *Stats) note(reason string, n int64) {
	if s.Reasons == nil {
		s.Reasons = map[string]int{}
	}
	s.Reasons[reason] += int(n)
}

// Summary is the outcome of one run, in import order.
type Summary struct {
	mu    sync.Mutex
	order []string
	by    map[string]*Stats
	// PhoneConflicts lists user ids (kept, lost) whose legacy phones
	// normalise to the same E.164 number; the second keeps its profile but
	// no phone credential.
	PhoneConflicts [][2]string
	EmailConflicts [][2]string
	// Rejections lists every rejected document or embedded item that has
	// an id of its own, with its reason, in a stable order.
	Rejections []Rejection
	// PasswordResets counts accounts whose legacy password was plaintext.
	PasswordResets int64
	DryRun         bool
}

// Get returns the stats row of name, creating it in order.
func (s *Summary) Get(name string) *Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.by == nil {
		s.by = map[string]*Stats{}
	}
	st, ok := s.by[name]
	if !ok {
		st = &Stats{Name: name}
		s.by[name] = st
		s.order = append(s.order, name)
	}
	return st
}

// Rows returns the stats in import order.
func (s *Summary) Rows() []*Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Stats, 0, len(s.order))
	for _, n := range s.order {
		out = append(out, s.by[n])
	}
	return out
}

// WriteTable renders the summary as a table with one line per rejection or
// skip reason.
func (s *Summary) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "collection\tread\tinserted\tupdated\tskipped\trejected\tnormalised\t")
	for _, st := range s.Rows() {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t\n", st.Name, st.Read, st.Inserted, st.Updated, st.Skipped, st.Rejected, st.Normalised)
	}
	tw.Flush()
	for _, st := range s.Rows() {
		for _, r := range slices.Sorted(maps.Keys(st.Reasons)) {
			fmt.Fprintf(w, "  %s: %s × %d\n", st.Name, r, st.Reasons[r])
		}
	}
	s.mu.Lock()
	rejs := slices.Clone(s.Rejections)
	s.mu.Unlock()
	slices.SortFunc(rejs, func(a, b Rejection) int {
		return strings.Compare(a.Collection+" "+a.ID+" "+a.Reason, b.Collection+" "+b.ID+" "+b.Reason)
	})
	fmt.Fprintf(w, "rejected items: %d\n", len(rejs))
	for _, r := range rejs {
		fmt.Fprintf(w, "  %s %s: %s\n", r.Collection, r.ID, r.Reason)
	}
	fmt.Fprintf(w, "accounts marked for password reset (plaintext legacy password, never stored): %d\n", s.PasswordResets)
	fmt.Fprintf(w, "phone conflicts (same E.164 number; the account the legacy login reaches keeps it, else the most recently active; the other keeps its data without the phone, for support to merge): %d\n", len(s.PhoneConflicts))
	for _, c := range s.PhoneConflicts {
		fmt.Fprintf(w, "  phone of user %s already belongs to user %s\n", c[1], c[0])
	}
	fmt.Fprintf(w, "email conflicts (same address case-insensitively; exact lower-case spelling keeps it, else the most recently active; the other is kept without it): %d\n", len(s.EmailConflicts))
	for _, c := range s.EmailConflicts {
		fmt.Fprintf(w, "  email of user %s already belongs to user %s\n", c[1], c[0])
	}
	if s.DryRun {
		fmt.Fprintln(w, "dry run: nothing was written; inserted/updated are not computed")
	}
}

// String is the table as text.
func (s *Summary) String() string {
	var b strings.Builder
	s.WriteTable(&b)
	return b.String()
}
