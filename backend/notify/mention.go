package notify

import (
	"context"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"

	notifyv1 "github.com/infliq/infliq/backend/gen/infliq/notify/v1"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/id"
)

// mentionRe finds @name: a name without spaces, not glued to a word before
// (an e-mail address is no mention).
var mentionRe = regexp.MustCompile(`(?:^|[^A-Za-z0-9_.@])@([A-Za-z0-9_.]{2,30})`)

// maxMentions bounds the users one text can notify.
const maxMentions = 10

// mentionNames returns the distinct lowercased @names of text, at most
// maxMentions.
func mentionNames(text string) []string {
	var out []string
	for _, m := range mentionRe.FindAllStringSubmatch(text, -1) {
		n := strings.ToLower(strings.TrimRight(m[1], "."))
		if len(n) < 2 || contains(out, n) {
			continue
		}
		if out = append(out, n); len(out) == maxMentions {
			break
		}
	}
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// resolveSQL finds the one user whose name is the token (case-insensitive;
// the trigram index serves the ILIKE); a name two users share is
// ambiguous and mentions nobody.
const resolveSQL = `SELECT t, (array_agg(u.id))[1] FROM unnest($1::text[]) t
	CROSS JOIN LATERAL (SELECT id FROM users WHERE name ILIKE t LIMIT 2) u
	GROUP BY t HAVING count(*) = 1`

// mentions resolves the @names of post and comment records into mention
// joins (grouped per post). A comment's post owner already gets the
// comment, so is not mentioned again.
func mentions(ctx context.Context, tx pgx.Tx, recs []bus.Record) ([]joinRow, error) {
	names := map[string]id.ID{}
	var pats []string
	per := make([][]string, len(recs))
	for i, r := range recs {
		per[i] = mentionNames(r.Text)
		for _, n := range per[i] {
			if _, ok := names[n]; !ok {
				names[n] = id.Nil
				pats = append(pats, strings.NewReplacer(`\`, `\\`, `_`, `\_`, `%`, `\%`).Replace(n))
			}
		}
	}
	if len(pats) == 0 {
		return nil, nil
	}
	rows, err := tx.Query(ctx, resolveSQL, pats)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var pat string
		var uid id.ID
		if err := rows.Scan(&pat, &uid); err != nil {
			rows.Close()
			return nil, err
		}
		names[strings.NewReplacer(`\\`, `\`, `\_`, `_`, `\%`, `%`).Replace(pat)] = uid
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []joinRow
	for i, r := range recs {
		for _, n := range per[i] {
			uid := names[n]
			if uid.IsZero() || uid == r.Actor || (r.Kind == bus.RecComment && len(r.To) > 0 && uid == r.To[0]) {
				continue
			}
			out = append(out, joinRow{event: r.ID, user: uid, kind: notifyv1.Kind_KIND_MENTION, key: r.Subject.String(),
				subject: r.Subject, item: r.Item, actor: r.Actor, at: r.At, preview: preview(r.Text), gid: id.NewAt(r.At)})
		}
	}
	return out, nil
}
