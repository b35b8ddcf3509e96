package importer

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/infliq/infliq/backend/auth/phone"
	"github.com/infliq/infliq/backend/platform/id"
)

// userPlan is what the users pre-pass learns before anything is written,
// so that a dry run and a real run decide alike and conflicts are found
// across the whole collection, not per batch.
type userPlan struct {
	users map[id.ID]struct{} // every user this run imports
	// phones and emails map each value several accounts share to the
	// account that keeps it.
	phones, emails map[string]id.ID
}

// activityFields are the legacy users' "last active" fields, whichever
// backend wrote them.
var activityFields = []string{"updatedAt", "lastActive", "lastActiveAt", "lastSeen", "lastSeenAt", "lastLogin", "lastLoginAt"}

type claim struct {
	user   id.ID
	exact  bool // stored exactly in the form the legacy login looks up
	active time.Time
}

// planUsers reads the users once: which ones the run imports, and who
// keeps a shared phone or email. The live legacy backend normalises the
// typed number and looks the account up by exact equality
// (User.findOne({phone})), so the account whose stored phone is exactly
// the E.164 form is the one its owner uses today: it keeps the number.
// Without such an account the most recently active one keeps it. The
// others keep their profile and data without it and are listed as
// conflicts for support to merge.
func (r *run) planUsers(ctx context.Context) error {
	p := &userPlan{users: map[id.ID]struct{}{}, phones: map[string]id.ID{}, emails: map[string]id.ID{}}
	r.plan = p
	cur, err := r.Mongo.Collection("users").Find(ctx, bson.D{}, options.Find().SetBatchSize(int32(r.Batch)))
	if err != nil {
		return err
	}
	defer cur.Close(ctx)
	phones, emails := map[string][]claim{}, map[string][]claim{}
	for cur.Next(ctx) {
		if cur.Current.Validate() != nil {
			continue
		}
		d := &doc{raw: cur.Current}
		x, ok := d.docID()
		if !ok {
			continue
		}
		p.users[x] = struct{}{}
		act := d.created(x)
		for _, f := range activityFields {
			if t := d.time(f); t.After(act) {
				act = t
			}
		}
		if e164, stored, ok := r.userPhone(d); ok {
			phones[e164] = append(phones[e164], claim{x, stored == e164, act})
		}
		if email, ok := userEmail(d); ok {
			k := strings.ToLower(email)
			emails[k] = append(emails[k], claim{x, email == k, act})
		}
	}
	if err := cur.Err(); err != nil {
		return err
	}
	r.sum.PhoneConflicts = decide(phones, p.phones)
	r.sum.EmailConflicts = decide(emails, p.emails)
	return nil
}

// decide picks the keeper of each shared value into owner and returns the
// (kept, lost) pairs, sorted.
func decide(claims map[string][]claim, owner map[string]id.ID) [][2]string {
	var out [][2]string
	for k, cs := range claims {
		if len(cs) < 2 {
			continue
		}
		w := slices.MaxFunc(cs, func(a, b claim) int {
			switch {
			case a.exact != b.exact:
				if a.exact {
					return 1
				}
				return -1
			case !a.active.Equal(b.active):
				return a.active.Compare(b.active)
			}
			return bytes.Compare(a.user[:], b.user[:]) // newer id
		})
		owner[k] = w.user
		for _, c := range cs {
			if c.user != w.user {
				out = append(out, [2]string{w.user.String(), c.user.String()})
			}
		}
	}
	slices.SortFunc(out, func(a, b [2]string) int { return strings.Compare(a[0]+a[1], b[0]+b[1]) })
	return out
}

// userPhone returns the user's phone in E.164 and as stored; ok is false
// when there is none or it is not a valid number.
func (r *run) userPhone(d *doc) (e164, stored string, ok bool) {
	stored = d.str("phone")
	if strings.TrimSpace(stored) == "" {
		return "", stored, false
	}
	p, err := phone.Normalize(stored, r.DefaultCC)
	return p, stored, err == nil
}

// userEmail returns the user's email when it is plausible.
func userEmail(d *doc) (string, bool) {
	e := strings.TrimSpace(d.str("email"))
	return e, len(e) >= 3 && len(e) <= 254 && strings.Contains(e, "@")
}

// known reports whether user x is imported by this run.
func (r *run) known(x id.ID) bool {
	_, ok := r.plan.users[x]
	return ok
}
