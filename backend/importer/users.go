package importer

import (
	"context"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/infliq/infliq/backend/platform/id"
)

// tempDDL creates the staging tables once per import session; rows vanish
// at each batch's commit.
const tempDDL = `
CREATE TEMP TABLE imp_users (id text, name text, bio text, age int, profile_picture text, cover_photo text,
  latitude float8, longitude float8, categories text[], is_verified bool, followers int, following int,
  created_at timestamptz) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE imp_creds (user_id text, phone text, email text, password_hash text, needs_reset bool,
  created_at timestamptz) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE imp_posts (id text, user_id text, type text, content text, media_url text, media_type text,
  thumbnail_url text, views bigint, shares int, created_at timestamptz) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE imp_likes (post_id text, user_id text, created_at timestamptz) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE imp_comments (id text, post_id text, user_id text, text text, created_at timestamptz) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE imp_stories (id text, user_id text, media_url text, media_type text, caption text,
  created_at timestamptz, expires_at timestamptz) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE imp_story_views (story_id text, viewer_id text, created_at timestamptz) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE imp_chats (id text, type text, pair_key text, created_by text, last_message_id text,
  last_message_at timestamptz, created_at timestamptz) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE imp_members (chat_id text, user_id text, joined_at timestamptz) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE imp_messages (chat_id text, id text, sender_id text, text text, type text, call_id text,
  created_at timestamptz) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE imp_calls (id text, caller_id text, receiver_id text, type text, status text, room_name text,
  created_at timestamptz, started_at timestamptz, ended_at timestamptz, duration int) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE imp_audits (id text, user_id text, ip text, route text, action text, status text, mime_type text,
  size_bytes bigint, folder text, key text, error text, metadata jsonb, created_at timestamptz,
  expires_at timestamptz) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE imp_reports (id text, reporter_id text, target_type text, target_id text, reason text,
  details text, status text, created_at timestamptz) ON COMMIT DELETE ROWS;
`

// users imports profiles and credentials: the five legacy user schemas
// share one collection, so every field is optional and the aliases
// (profilePhoto/profilePicture, category/categories) are merged.
func usersJob() job {
	return job{name: "users", coll: "users", build: buildUser, write: writeUsers}
}

// edgesJob writes the follow and block edges staged by the users pass, in
// parallel with the other collections.
func edgesJob() job {
	return job{name: "follows", finish: writeEdges}
}

func (r *run) mediaKey(v string) string {
	if k, ok := r.Media.Key(v); ok {
		return k
	}
	return strings.TrimSpace(v) // an external URL stays as it is
}

func buildUser(r *run, b *batch, d *doc, x id.ID) {
	name, bio := d.str("name"), d.str("bio")
	pic := d.str("profilePhoto")
	if pic == "" {
		pic = d.str("profilePicture")
	}
	cover := d.str("coverPhoto")
	var age any
	if a, ok := d.num("age"); ok && a >= 0 && a <= 150 {
		age = int(a)
	} else if ok {
		d.fix("age", "outside 0–150 dropped")
	}
	var lat, lng any
	if loc, ok := d.val("location"); ok {
		if ld, ok := loc.DocumentOK(); ok {
			ldoc := &doc{raw: ld}
			if c := ldoc.values("coordinates"); len(c) == 2 {
				lo, ok1 := c[0].AsFloat64OK()
				la, ok2 := c[1].AsFloat64OK()
				// [0,0] is the schema default, not a place.
				if ok1 && ok2 && (lo != 0 || la != 0) && la >= -90 && la <= 90 && lo >= -180 && lo <= 180 {
					lat, lng = la, lo
				}
			}
		}
	}
	cats := []string{}
	for _, v := range d.values("categories") {
		if s, ok := v.StringValueOK(); ok && s != "" && !slices.Contains(cats, s) {
			cats = append(cats, s)
		}
	}
	if c := d.str("category"); c != "" && !slices.Contains(cats, c) {
		cats = append(cats, c)
	}
	verified := d.boolean("isVerified")
	rawPhone, pw := d.str("phone"), d.str("password")
	created := d.created(x)
	if d.err != "" {
		b.reject("users", x.String(), d.err)
		return
	}
	followers, following := buildEdges(r, b, d, x)
	b.add("imp_users", x.String(), name, bio, age, r.mediaKey(pic), r.mediaKey(cover), lat, lng, cats, verified, followers, following, created)

	// Credentials: phone in E.164 with the auth normaliser, bcrypt hashes
	// kept, plaintext passwords dropped and the account marked for reset.
	cs := b.st("users.credentials")
	// A phone or email several accounts share goes to the one the plan
	// chose (see planUsers).
	e164, _, ok := r.userPhone(d)
	if owner, shared := r.plan.phones[e164]; ok && shared && owner != x {
		cs.note("phone conflict: kept without phone (listed for support)", 1)
		e164 = ""
	} else if !ok && strings.TrimSpace(rawPhone) != "" {
		cs.note("phone not a valid number: account kept without phone", 1)
	}
	email, ok := userEmail(d)
	if owner, shared := r.plan.emails[strings.ToLower(email)]; ok && shared && owner != x {
		cs.note("email conflict: kept without email (listed for support)", 1)
		email = ""
	} else if !ok {
		if email != "" {
			cs.note("email invalid: account kept without email", 1)
		}
		email = ""
	}
	var hash any
	reset := false
	switch {
	case pw == "":
	case isBcrypt(pw):
		hash = pw
	default:
		reset = true
		b.reset++
		cs.note("plaintext password dropped: marked for reset", 1)
	}
	if e164 == "" && email == "" && hash == nil && !reset {
		return // nothing to log in with
	}
	cs.Read++
	b.add("imp_creds", x.String(), nz(e164), nz(email), hash, reset, created)
}

// isBcrypt recognises the bcryptjs/bcrypt hash shape ($2a$, $2b$, $2y$ and
// 60 characters).
func isBcrypt(s string) bool {
	return len(s) == 60 && (strings.HasPrefix(s, "$2a$") || strings.HasPrefix(s, "$2b$") || strings.HasPrefix(s, "$2y$"))
}

func writeUsers(ctx context.Context, r *run, tx pgx.Tx, b *batch) error {
	if err := copyRows(ctx, tx, b, "imp_users", "id", "name", "bio", "age", "profile_picture", "cover_photo",
		"latitude", "longitude", "categories", "is_verified", "followers", "following", "created_at"); err != nil {
		return err
	}
	if err := upsert(ctx, tx, b.st("users"), len(b.data["imp_users"]), `
		INSERT INTO users AS u (id, name, bio, age, profile_picture, cover_photo, latitude, longitude, categories, is_verified,
		  followers_count, following_count, created_at, location_updated_at)
		SELECT id, name, bio, age, profile_picture, cover_photo, latitude, longitude, categories, is_verified,
		  followers, following, created_at, CASE WHEN latitude IS NOT NULL THEN now() END FROM imp_users
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, bio = excluded.bio, age = excluded.age,
		  profile_picture = excluded.profile_picture, cover_photo = excluded.cover_photo,
		  latitude = CASE WHEN u.show_on_map THEN excluded.latitude END,
		  longitude = CASE WHEN u.show_on_map THEN excluded.longitude END,
		  -- Legacy positions carry no time: "last known" is when they were
		  -- imported (or changed since), so they age off the map after
		  -- NEARBY_MAX_LOCATION_AGE unless the user opens it again.
		  location_updated_at = CASE WHEN NOT u.show_on_map OR excluded.latitude IS NULL THEN NULL
		    WHEN (u.latitude, u.longitude) IS NOT DISTINCT FROM (excluded.latitude, excluded.longitude) THEN u.location_updated_at
		    ELSE now() END,
		  categories = excluded.categories, is_verified = excluded.is_verified,
		  created_at = excluded.created_at, updated_at = now()
		WHERE (u.name, u.bio, u.age, u.profile_picture, u.cover_photo, u.latitude, u.longitude, u.categories, u.is_verified, u.created_at)
		  IS DISTINCT FROM (excluded.name, excluded.bio, excluded.age, excluded.profile_picture, excluded.cover_photo,
		  excluded.latitude, excluded.longitude, excluded.categories, excluded.is_verified, excluded.created_at)
		RETURNING xmax = 0`); err != nil {
		return err
	}
	if err := copyRows(ctx, tx, b, "import_edges", "kind", "a", "b"); err != nil {
		return err
	}
	if len(b.data["imp_creds"]) == 0 {
		return nil
	}
	if err := copyRows(ctx, tx, b, "imp_creds", "user_id", "phone", "email", "password_hash", "needs_reset", "created_at"); err != nil {
		return err
	}
	// A phone or email already held by another account (an earlier batch
	// or run) stays with it; this account is kept without it.
	for _, k := range []struct{ kind, q string }{
		{"phone", `SELECT a.user_id AS kept, c.user_id AS lost FROM imp_creds c JOIN auth_credentials a ON a.phone = c.phone AND a.user_id <> c.user_id`},
		{"email", `SELECT a.user_id AS kept, c.user_id AS lost FROM imp_creds c JOIN auth_credentials a ON lower(a.email) = lower(c.email) AND a.user_id <> c.user_id`},
	} {
		rows, err := tx.Query(ctx, k.q)
		if err != nil {
			return err
		}
		for rows.Next() {
			var kept, lost string
			if err := rows.Scan(&kept, &lost); err != nil {
				rows.Close()
				return err
			}
			b.conf = append(b.conf, [3]string{k.kind, kept, lost})
			b.st("users.credentials").note(k.kind+" conflict: kept without "+k.kind, 1)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE imp_creds u SET `+k.kind+` = NULL WHERE u.user_id IN (SELECT lost FROM (`+k.q+`) x)`); err != nil {
			return err
		}
	}
	// Legacy phone users proved their number by OTP and have a profile,
	// so they log in directly.
	return upsert(ctx, tx, b.st("users.credentials"), len(b.data["imp_creds"]), `
		INSERT INTO auth_credentials AS a (user_id, phone, email, password_hash, needs_password_reset, phone_verified_at, profile_ready, created_at)
		SELECT user_id, phone, email, password_hash, needs_reset, CASE WHEN phone IS NOT NULL THEN created_at END, true, created_at FROM imp_creds
		ON CONFLICT (user_id) DO UPDATE SET phone = excluded.phone, email = excluded.email, password_hash = excluded.password_hash,
		  needs_password_reset = excluded.needs_password_reset, phone_verified_at = coalesce(a.phone_verified_at, excluded.phone_verified_at),
		  updated_at = now()
		WHERE (a.phone, a.email, a.password_hash, a.needs_password_reset) IS DISTINCT FROM
		  (excluded.phone, excluded.email, excluded.password_hash, excluded.needs_password_reset)
		RETURNING xmax = 0`)
}

// buildEdges stages follows and blocks from both sides of each relation
// (following/followers, blockedUsers/blockedBy); they are written once
// every user exists, deduplicated, and edges to missing users are dropped
// and counted.
// The counts of distinct followers and followees are the counters' first
// values; recount corrects them once every edge is stored.
func buildEdges(r *run, b *batch, d *doc, x id.ID) (followers, following int) {
	mine := map[[2]id.ID]bool{} // this document's follow edges
	add := func(kind string, a, c id.ID) {
		// Each edge is counted once, from whichever side names it first
		// (the key is binary: 25 bytes per edge held for the users pass).
		k := kind[:1] + string(a[:]) + string(c[:])
		_, seen := b.ids[k]
		if !seen {
			b.ids[k] = ""
			b.st(kind).Read++
		}
		switch {
		case a == c:
			if !seen {
				b.st(kind).reject("self reference", 1)
			}
			return
		case !r.known(a) || !r.known(c):
			if !seen {
				b.st(kind).reject("dangling reference to a missing user", 1)
			}
			return
		}
		if kind == "follows" {
			if !mine[[2]id.ID{a, c}] {
				mine[[2]id.ID{a, c}] = true
				if a == x {
					following++
				} else {
					followers++
				}
			}
		}
		if !seen {
			b.add("import_edges", kind, a.String(), c.String())
		}
	}
	for _, f := range []struct {
		field, kind string
		out         bool
	}{{"following", "follows", true}, {"followers", "follows", false}, {"blockedUsers", "blocks", true}, {"blockedBy", "blocks", false}} {
		ids, bad := d.ids(f.field)
		b.st(f.kind).Read += int64(bad)
		b.st(f.kind).reject("element is not an ObjectId", int64(bad))
		for _, o := range ids {
			if f.out {
				add(f.kind, x, o)
			} else {
				add(f.kind, o, x)
			}
		}
	}
	return followers, following
}

func writeEdges(ctx context.Context, r *run, conn *pgxpool.Conn) error {
	for _, t := range []struct{ kind, a, b string }{{"follows", "follower_id", "followee_id"}, {"blocks", "blocker_id", "blocked_id"}} {
		var staged, dangling, inserted int64
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			var err error
			if staged, err = count(ctx, tx, `SELECT count(*) FROM (SELECT DISTINCT a, b FROM import_edges WHERE kind = '`+t.kind+`') e`); err != nil {
				return err
			}
			if dangling, err = count(ctx, tx, `SELECT count(*) FROM (SELECT DISTINCT a, b FROM import_edges WHERE kind = '`+t.kind+`') e
				WHERE NOT EXISTS (SELECT 1 FROM users WHERE id = e.a) OR NOT EXISTS (SELECT 1 FROM users WHERE id = e.b)`); err != nil {
				return err
			}
			tag, err := tx.Exec(ctx, `INSERT INTO `+t.kind+` (`+t.a+`, `+t.b+`, created_at)
				SELECT DISTINCT e.a, e.b, greatest(ua.created_at, ub.created_at) FROM import_edges e
				JOIN users ua ON ua.id = e.a JOIN users ub ON ub.id = e.b
				WHERE e.kind = '`+t.kind+`' ON CONFLICT DO NOTHING`)
			inserted = tag.RowsAffected()
			return err
		})
		if err != nil {
			return err
		}
		r.mu.Lock()
		st := r.sum.Get(t.kind)
		st.reject("dangling reference to a missing user (absent from PostgreSQL)", dangling)
		st.Inserted += inserted
		st.skip("already present", staged-dangling-inserted)
		r.mu.Unlock()
	}
	return nil
}
