package importer_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/infliq/infliq/backend/importer"
	"github.com/infliq/infliq/backend/importer/importtest"
)

// rejections indexes a summary's rejected items as "collection id".
func rejections(s *importer.Summary) map[string]string {
	out := map[string]string{}
	for _, r := range s.Rejections {
		out[r.Collection+" "+r.ID] = r.Reason
	}
	return out
}

// One poison document per way real data broke the import, in an otherwise
// good dataset: each is rejected by id with its reason, the run goes on,
// and the dry run rejects exactly what the real run rejects, with the
// same numbers.
func TestImportPoisonDocuments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Now().UTC()
	mdb := importtest.Start(t, "infliq")
	f := importtest.Seed(t, mdb, now)
	p := importtest.SeedPoison(t, mdb, f, now)
	pool := ordinaryDB(t)
	o := importer.Options{Mongo: mdb, Media: resolver(), Batch: 3, Now: func() time.Time { return now }}

	dry := o
	dry.DryRun = true
	dsum, err := importer.Run(ctx, dry)
	if err != nil {
		t.Fatal(err)
	}
	o.DB = pool
	sum, err := importer.Run(ctx, o)
	if err != nil {
		t.Fatalf("a poison document aborted the import: %v\n%s", err, sum)
	}
	t.Log("\n" + sum.String())

	for name, s := range map[string]*importer.Summary{"dry run": dsum, "real run": sum} {
		got := rejections(s)
		for k, want := range p.Rejected {
			if !strings.Contains(got[k], want) {
				t.Errorf("%s: %s rejected with %q, want a reason with %q", name, k, got[k], want)
			}
		}
	}
	// Same validation, same numbers: only inserted/updated/unchanged
	// (what PostgreSQL already held) differ.
	list := func(s *importer.Summary) []string {
		var out []string
		for _, r := range s.Rejections {
			out = append(out, r.Collection+" "+r.ID+": "+r.Reason)
		}
		slices.Sort(out)
		return out
	}
	if d, r := list(dsum), list(sum); !slices.Equal(d, r) {
		t.Errorf("dry run rejected\n%s\nreal run rejected\n%s", strings.Join(d, "\n"), strings.Join(r, "\n"))
	}
	for _, r := range sum.Rows() {
		d := row(t, dsum, r.Name)
		if d.Read != r.Read || d.Rejected != r.Rejected || d.Normalised != r.Normalised {
			t.Errorf("%s: dry read/rejected/normalised %d/%d/%d, real %d/%d/%d", r.Name, d.Read, d.Rejected, d.Normalised, r.Read, r.Rejected, r.Normalised)
		}
	}
	if len(dsum.PhoneConflicts) != len(sum.PhoneConflicts) || len(dsum.EmailConflicts) != len(sum.EmailConflicts) {
		t.Errorf("conflicts: dry %d/%d, real %d/%d", len(dsum.PhoneConflicts), len(dsum.EmailConflicts), len(sum.PhoneConflicts), len(sum.EmailConflicts))
	}

	// The good data around the poison is in.
	if got := one[string](t, pool, `SELECT string_agg(id, ',' ORDER BY id) FROM post_comments WHERE post_id = $1`, p.GoodPost.Hex()); strings.Count(got, ",") != 1 {
		t.Fatalf("good post comments %q", got)
	}
	if n := one[int](t, pool, `SELECT count(*) FROM post_comments WHERE post_id = $1`, p.ClonePost.Hex()); n != 0 {
		t.Fatalf("the clone took %d comments of the original", n)
	}
	if n := one[int](t, pool, `SELECT count(*) FROM messages WHERE chat_id = $1`, p.GoodChat.Hex()); n != 1 {
		t.Fatalf("good chat messages %d", n)
	}

	// Normalised, counted, kept.
	if got := one[string](t, pool, `SELECT bio FROM users WHERE id = $1`, p.NulBio.Hex()); got != "linebreak" {
		t.Fatalf("NUL bio %q", got)
	}
	if got := one[string](t, pool, `SELECT array_to_string(categories, ',') FROM users WHERE id = $1`, p.StringCategories.Hex()); got != "sports" {
		t.Fatalf("string categories %q", got)
	}
	if got := one[string](t, pool, `SELECT bio FROM users WHERE id = $1`, p.ArrayBio.Hex()); got != "runs reads" {
		t.Fatalf("array bio %q", got)
	}
	if got := one[time.Time](t, pool, `SELECT created_at FROM users WHERE id = $1`, p.EpochSecondsUser.Hex()); !got.Equal(p.EpochSecondsUser.Timestamp()) {
		t.Fatalf("epoch seconds read as %v, want %v", got, p.EpochSecondsUser.Timestamp())
	}
	if got := one[time.Time](t, pool, `SELECT created_at FROM users WHERE id = $1`, p.StringFollowers.Hex()); !got.Equal(p.StringFollowers.Timestamp()) {
		t.Fatalf("ISO date read as %v", got)
	}
	u := row(t, sum, "users")
	for _, reason := range []string{`normalised followers: string "none" read as an empty list`, "normalised categories: single string read as a one-element list",
		"normalised bio: array joined into text", "normalised bio: NUL characters removed", "normalised createdAt: date read from epoch seconds",
		"normalised createdAt: date read from a string"} {
		if want := 1 + strings.Count(reason, "from a string"); u.Reasons[reason] != want { // ISO strings: two users
			t.Errorf("users: %q counted %d times\n%s", reason, u.Reasons[reason], sum)
		}
	}

	// Shared numbers: the exact E.164 account, else the most active.
	for _, c := range []struct {
		user  string
		phone any
	}{{p.WinnerPhone.Hex(), "+919800000055"}, {p.LoserPhone.Hex(), nil}, {p.ActiveNoExact.Hex(), p.SharedNoExact}, {p.StaleNoExact.Hex(), nil}} {
		var got any
		_ = pool.QueryRow(ctx, `SELECT phone FROM auth_credentials WHERE user_id = $1`, c.user).Scan(&got)
		if got != c.phone {
			t.Errorf("user %s phone %v, want %v", c.user, got, c.phone)
		}
	}
	if !strings.Contains(sum.String(), p.WinnerPhone.Hex()) || !strings.Contains(sum.String(), p.LoserPhone.Hex()) {
		t.Error("the phone conflict is not listed for support")
	}

	// Stale calls are resolved with their own times and no chat message.
	if got := one[string](t, pool, `SELECT status || '|' || (created_at = $2) FROM calls WHERE id = $1`, p.StaleRinging.Hex(), p.StaleRinging.Timestamp()); got != "missed|true" {
		t.Fatalf("stale ringing call %q", got)
	}
	if got := one[string](t, pool, `SELECT status FROM calls WHERE id = $1`, p.StaleActive.Hex()); got != "ended" {
		t.Fatalf("stale active call %q", got)
	}
	if n := one[int](t, pool, `SELECT count(*) FROM calls WHERE status = 'ringing'`); n != 0 {
		t.Fatalf("%d imported calls left for the ring sweep", n)
	}
	if n := one[int](t, pool, `SELECT count(*) FROM messages WHERE type = 'call-missed'`); n != 0 {
		t.Fatalf("%d missed-call messages written", n)
	}

	// A long report reason is kept whole, not cut.
	if got := one[string](t, pool, `SELECT details FROM user_reports WHERE id = $1`, p.LongRept.Hex()); !strings.Contains(got, p.LongReason) {
		t.Fatalf("long reason lost: %q", got)
	}

	// And the import is still a no-op the second time.
	again, err := importer.Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range again.Rows() {
		if r.Inserted != 0 || r.Updated != 0 {
			t.Fatalf("re-run changed %s: %+v\n%s", r.Name, r, again)
		}
	}
}
