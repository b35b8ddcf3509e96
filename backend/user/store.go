package user

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/db"
	"github.com/infliq/infliq/backend/platform/id"
)

// Store is the pgx implementation of the user service's tables: users,
// follows, blocks and user_reports (it is their only writer).
type Store struct {
	pool     *pgxpool.Pool
	presence Presence

	// postReports latches once the post service's table exists.
	postReports atomic.Bool
	// recorded skips map-position writes recordSQL would refuse.
	recorded recorded
}

// Presence configures map positions.
type Presence struct {
	// GridMeters is the cell size positions are snapped to.
	GridMeters float64
	// MaxAge hides positions recorded longer ago.
	MaxAge time.Duration
}

// DefaultPresence is NEARBY_GRID_METERS and NEARBY_MAX_LOCATION_AGE's defaults.
var DefaultPresence = Presence{GridMeters: 200, MaxAge: 7 * 24 * time.Hour}

// NewStore returns a store on pool with DefaultPresence.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool, presence: DefaultPresence} }

// WithPresence sets the map settings (zero fields keep the defaults).
func (s *Store) WithPresence(p Presence) *Store {
	if p.GridMeters > 0 {
		s.presence.GridMeters = p.GridMeters
	}
	if p.MaxAge > 0 {
		s.presence.MaxAge = p.MaxAge
	}
	return s
}

// snap is (lat, lng) on the presence grid.
func (s *Store) snap(lat, lng float64) (float64, float64) {
	return snapToGrid(lat, lng, s.presence.GridMeters)
}

// Profile is one row of users, plus the viewer's relation to it.
type Profile struct {
	ID             id.ID
	Name           string
	Bio            string
	Age            int32
	Gender         string
	ProfilePicture string
	CoverPhoto     string
	Latitude       *float64
	Longitude      *float64
	Categories     []string
	IsVerified     bool
	FollowersCount int32
	FollowingCount int32
	PostsCount     int32
	CreatedAt      time.Time
	// The user's own discovery settings (GetMe only).
	ShowOnMap         bool
	PhoneDiscoverable bool
	LocationUpdatedAt *time.Time
	IsFollowing       bool
	FollowsYou        bool
	// DistanceMeters is set by Nearby.
	DistanceMeters float64
}

// Summary is the public face of a user in lists.
type Summary struct {
	ID             id.ID
	Name           string
	ProfilePicture string
	IsVerified     bool
}

// profileCols selects a Profile from users u for viewer $1.
const profileCols = `u.id, u.name, u.bio, coalesce(u.age, 0), u.gender, u.profile_picture, u.cover_photo,
	u.latitude, u.longitude, u.categories, u.is_verified, u.followers_count, u.following_count,
	u.posts_count, u.created_at, u.show_on_map, u.phone_discoverable, u.location_updated_at,
	EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = $1 AND f.followee_id = u.id),
	EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = u.id AND f.followee_id = $1)`

// notBlockedList is notBlocked for scans over many users: the viewer's
// blocks (both ways) are read once into a hashed set.
const notBlockedList = `u.id NOT IN (SELECT blocked_id FROM blocks WHERE blocker_id = $1
	UNION ALL SELECT blocker_id FROM blocks WHERE blocked_id = $1)`

// notBlocked hides users that blocked, or were blocked by, viewer $1.
const notBlocked = `NOT EXISTS (SELECT 1 FROM blocks b
	WHERE (b.blocker_id = $1 AND b.blocked_id = u.id) OR (b.blocker_id = u.id AND b.blocked_id = $1))`

// scanDest are the scan targets of profileCols.
func (p *Profile) scanDest() []any {
	return []any{&p.ID, &p.Name, &p.Bio, &p.Age, &p.Gender, &p.ProfilePicture, &p.CoverPhoto,
		&p.Latitude, &p.Longitude, &p.Categories, &p.IsVerified, &p.FollowersCount, &p.FollowingCount,
		&p.PostsCount, &p.CreatedAt, &p.ShowOnMap, &p.PhoneDiscoverable, &p.LocationUpdatedAt,
		&p.IsFollowing, &p.FollowsYou}
}

func scanProfile(row pgx.Row) (*Profile, error) {
	p := &Profile{}
	if err := row.Scan(p.scanDest()...); err != nil {
		return nil, err
	}
	return p, nil
}

func collectProfiles(rows pgx.Rows) ([]*Profile, error) {
	defer rows.Close()
	var out []*Profile
	for rows.Next() {
		p, err := scanProfile(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

const profileSQL = `SELECT ` + profileCols + ` FROM users u WHERE u.id = $2 AND ` + notBlocked

// Profile returns uid's profile as viewer sees it, or nil when it does not
// exist or a block stands between them.
func (s *Store) Profile(ctx context.Context, viewer, uid id.ID) (*Profile, error) {
	p, err := scanProfile(s.pool.QueryRow(ctx, profileSQL, viewer, uid))
	if db.IsNoRows(err) {
		return nil, nil
	}
	return p, err
}

// Update is a whitelisted profile change; nil fields stay as they are.
type Update struct {
	Name, Bio, Gender, ProfilePicture, CoverPhoto *string
	// Age 0 clears it.
	Age *int32
	// SetLocation with nil Lat/Lng clears the location.
	SetLocation bool
	Lat, Lng    *float64
	Categories  *[]string
	// ShowOnMap false hides the user from the map and clears the location.
	ShowOnMap         *bool
	PhoneDiscoverable *bool
}

// UpdateProfile applies u to uid's own row and returns the new profile
// (nil when uid has no profile).
func (s *Store) UpdateProfile(ctx context.Context, uid id.ID, u Update) (*Profile, error) {
	if u.SetLocation || u.ShowOnMap != nil {
		s.recorded.forget(uid)
	}
	sets := []string{"updated_at = now()"}
	args := []any{uid}
	add := func(col string, v any) {
		args = append(args, v)
		sets = append(sets, fmt.Sprintf("%s = $%d", col, len(args)))
	}
	if u.Name != nil {
		add("name", *u.Name)
	}
	if u.Bio != nil {
		add("bio", *u.Bio)
	}
	if u.Gender != nil {
		add("gender", *u.Gender)
	}
	if u.ProfilePicture != nil {
		add("profile_picture", *u.ProfilePicture)
	}
	if u.CoverPhoto != nil {
		add("cover_photo", *u.CoverPhoto)
	}
	if u.Age != nil {
		var age *int32
		if *u.Age > 0 {
			age = u.Age
		}
		add("age", age)
	}
	hide := u.ShowOnMap != nil && !*u.ShowOnMap
	if u.ShowOnMap != nil {
		add("show_on_map", *u.ShowOnMap)
	}
	if u.PhoneDiscoverable != nil {
		add("phone_discoverable", *u.PhoneDiscoverable)
	}
	switch {
	case hide || (u.SetLocation && u.Lat == nil):
		sets = append(sets, "latitude = NULL", "longitude = NULL", "location_updated_at = NULL")
	case u.SetLocation:
		// Stored coarsened, and only while the user shows on the map (the
		// new setting when this update sets it).
		shown := "show_on_map"
		if u.ShowOnMap != nil {
			shown = "true"
		}
		lat, lng := s.snap(*u.Lat, *u.Lng)
		args = append(args, lat, lng)
		n := len(args)
		sets = append(sets,
			fmt.Sprintf("latitude = CASE WHEN %s THEN $%d::float8 END", shown, n-1),
			fmt.Sprintf("longitude = CASE WHEN %s THEN $%d::float8 END", shown, n),
			fmt.Sprintf("location_updated_at = CASE WHEN %s THEN now() END", shown))
	}
	if u.Categories != nil {
		add("categories", *u.Categories)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE users SET `+strings.Join(sets, ", ")+` WHERE id = $1`, args...)
	if err != nil {
		return nil, err
	}
	if tag.RowsAffected() == 0 {
		return nil, nil
	}
	return s.Profile(ctx, uid, uid)
}

// lockPair locks the rows of a and b in id order (so that concurrent graph
// changes on the same users never deadlock) and returns which exist and
// a's name and picture.
func lockPair(ctx context.Context, tx pgx.Tx, a, b id.ID) (aOK, bOK bool, aName, aPic string, err error) {
	rows, err := tx.Query(ctx, `SELECT id, name, profile_picture FROM users WHERE id = ANY($1)
		ORDER BY id FOR NO KEY UPDATE`, []string{a.String(), b.String()})
	if err != nil {
		return
	}
	defer rows.Close()
	for rows.Next() {
		var uid id.ID
		var name, pic string
		if err = rows.Scan(&uid, &name, &pic); err != nil {
			return
		}
		switch uid {
		case a:
			aOK, aName, aPic = true, name, pic
		case b:
			bOK = true
		}
	}
	err = rows.Err()
	return
}

// blockedEither reports a block between a and b in either direction.
func blockedEither(ctx context.Context, q db.Querier, a, b id.ID) (aBlockedB, bBlockedA bool, err error) {
	err = q.QueryRow(ctx, `SELECT
		EXISTS (SELECT 1 FROM blocks WHERE blocker_id = $1 AND blocked_id = $2),
		EXISTS (SELECT 1 FROM blocks WHERE blocker_id = $2 AND blocked_id = $1)`, a, b).Scan(&aBlockedB, &bBlockedA)
	return
}

// removeFollow deletes follower→followee and keeps both counts.
func removeFollow(ctx context.Context, tx pgx.Tx, follower, followee id.ID) (bool, error) {
	tag, err := tx.Exec(ctx, `DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2`, follower, followee)
	if err != nil || tag.RowsAffected() == 0 {
		return false, err
	}
	_, err = tx.Exec(ctx, `UPDATE users SET
		followers_count = followers_count - (id = $2)::int,
		following_count = following_count - (id = $1)::int
		WHERE id IN ($1, $2)`, follower, followee)
	return true, err
}

// FollowResult is the outcome of Follow.
type FollowResult struct {
	Created        bool
	FollowersCount int32
	ActorName      string
	ActorPicture   string
}

// Follow makes follower follow followee (idempotent).
func (s *Store) Follow(ctx context.Context, follower, followee id.ID) (FollowResult, error) {
	var res FollowResult
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		aOK, bOK, name, pic, err := lockPair(ctx, tx, follower, followee)
		if err != nil {
			return err
		}
		if !aOK {
			return apperr.NotFound("Your profile does not exist")
		}
		res.ActorName, res.ActorPicture = name, pic
		if !bOK {
			return apperr.NotFound("User not found")
		}
		iBlocked, theyBlocked, err := blockedEither(ctx, tx, follower, followee)
		if err != nil {
			return err
		}
		if theyBlocked {
			return apperr.NotFound("User not found")
		}
		if iBlocked {
			return apperr.Conflict("Unblock this user before following them").WithReason("BLOCKED")
		}
		tag, err := tx.Exec(ctx, `INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)
			ON CONFLICT DO NOTHING`, follower, followee)
		if err != nil {
			return err
		}
		if res.Created = tag.RowsAffected() == 1; res.Created {
			if _, err := tx.Exec(ctx, `UPDATE users SET
				followers_count = followers_count + (id = $2)::int,
				following_count = following_count + (id = $1)::int
				WHERE id IN ($1, $2)`, follower, followee); err != nil {
				return err
			}
		}
		return tx.QueryRow(ctx, `SELECT followers_count FROM users WHERE id = $1`, followee).Scan(&res.FollowersCount)
	})
	return res, err
}

// Unfollow removes follower→followee (idempotent) and returns whether a row
// went and followee's follower count.
func (s *Store) Unfollow(ctx context.Context, follower, followee id.ID) (removed bool, followers int32, err error) {
	err = db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, _, _, _, err := lockPair(ctx, tx, follower, followee); err != nil {
			return err
		}
		if removed, err = removeFollow(ctx, tx, follower, followee); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `SELECT followers_count FROM users WHERE id = $1`, followee).Scan(&followers)
		if db.IsNoRows(err) {
			return nil
		}
		return err
	})
	return
}

// Block records blocker→blocked, drops follows both ways and, when reason
// is set, files a report. Idempotent on the block itself.
func (s *Store) Block(ctx context.Context, blocker, blocked id.ID, reason, details string) (bool, error) {
	var created bool
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		aOK, bOK, _, _, err := lockPair(ctx, tx, blocker, blocked)
		if err != nil {
			return err
		}
		if !aOK || !bOK {
			return apperr.NotFound("User not found")
		}
		tag, err := tx.Exec(ctx, `INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2)
			ON CONFLICT DO NOTHING`, blocker, blocked)
		if err != nil {
			return err
		}
		created = tag.RowsAffected() == 1
		if _, err := removeFollow(ctx, tx, blocker, blocked); err != nil {
			return err
		}
		if _, err := removeFollow(ctx, tx, blocked, blocker); err != nil {
			return err
		}
		if reason != "" && created {
			_, err = insertReport(ctx, tx, blocker, blocked, reason, details)
		}
		return err
	})
	return created, err
}

// Unblock removes blocker→blocked (idempotent).
func (s *Store) Unblock(ctx context.Context, blocker, blocked id.ID) (bool, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2`, blocker, blocked)
	return tag.RowsAffected() == 1, err
}

func insertReport(ctx context.Context, q db.Querier, reporter, target id.ID, reason, details string) (id.ID, error) {
	rid := id.New()
	_, err := q.Exec(ctx, `INSERT INTO user_reports (id, reporter_id, target_id, reason, details, created_at)
		VALUES ($1, $2, $3, $4, $5, now())`, rid, reporter, target, reason, details)
	return rid, err
}

// Report files a report by reporter on target. A missing target (or one
// hidden by a block from the reporter) is NotFound; reporting someone who
// blocked you is still allowed, so it goes through the raw existence check.
func (s *Store) Report(ctx context.Context, reporter, target id.ID, reason, details string) (id.ID, error) {
	rid, err := insertReport(ctx, s.pool, reporter, target, reason, details)
	if db.IsForeignKeyViolation(err) {
		return id.Nil, apperr.NotFound("User not found")
	}
	return rid, err
}

// Cursor is a keyset position: the (time, id) of the last row served.
type Cursor struct {
	T  time.Time
	ID id.ID
}

// pageSQL appends the keyset condition and ordering for columns tcol, icol
// (descending). args[0] must be the viewer; it returns the new args.
func pageSQL(base, tcol, icol string, args []any, after *Cursor, limit int) (string, []any) {
	if after != nil {
		args = append(args, after.T, after.ID)
		base += fmt.Sprintf(" AND (%s, %s) < ($%d, $%d)", tcol, icol, len(args)-1, len(args))
	}
	args = append(args, limit+1)
	return base + fmt.Sprintf(" ORDER BY %s DESC, %s DESC LIMIT $%d", tcol, icol, len(args)), args
}

// SummaryPage is one page of user summaries.
type SummaryPage struct {
	Users []Summary
	Next  *Cursor
}

func (s *Store) summaryPage(ctx context.Context, q string, args []any, limit int) (SummaryPage, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return SummaryPage{}, err
	}
	return readSummaryPage(rows, limit)
}

// readSummaryPage reads up to limit summaries; a further row means a next page.
func readSummaryPage(rows pgx.Rows, limit int) (SummaryPage, error) {
	defer rows.Close()
	var page SummaryPage
	var last Cursor
	for rows.Next() {
		var u Summary
		var t time.Time
		if err := rows.Scan(&u.ID, &u.Name, &u.ProfilePicture, &u.IsVerified, &t); err != nil {
			return SummaryPage{}, err
		}
		if len(page.Users) == limit {
			page.Next = &Cursor{T: last.T, ID: last.ID}
			break
		}
		page.Users = append(page.Users, u)
		last = Cursor{T: t, ID: u.ID}
	}
	return page, rows.Err()
}

// Followers pages through who follows uid, newest first, hiding users
// blocked either way with viewer.
func (s *Store) Followers(ctx context.Context, viewer, uid id.ID, after *Cursor, limit int) (SummaryPage, error) {
	q, args := followersSQL(viewer, uid, after, limit)
	return s.summaryPage(ctx, q, args, limit)
}

func followersSQL(viewer, uid id.ID, after *Cursor, limit int) (string, []any) {
	return pageSQL(`SELECT u.id, u.name, u.profile_picture, u.is_verified, f.created_at
		FROM follows f JOIN users u ON u.id = f.follower_id
		WHERE f.followee_id = $2 AND `+notBlockedList, "f.created_at", "f.follower_id", []any{viewer, uid}, after, limit)
}

// Following pages through whom uid follows, newest first.
func (s *Store) Following(ctx context.Context, viewer, uid id.ID, after *Cursor, limit int) (SummaryPage, error) {
	q, args := followingSQL(viewer, uid, after, limit)
	return s.summaryPage(ctx, q, args, limit)
}

func followingSQL(viewer, uid id.ID, after *Cursor, limit int) (string, []any) {
	return pageSQL(`SELECT u.id, u.name, u.profile_picture, u.is_verified, f.created_at
		FROM follows f JOIN users u ON u.id = f.followee_id
		WHERE f.follower_id = $2 AND `+notBlockedList, "f.created_at", "f.followee_id", []any{viewer, uid}, after, limit)
}

// Connections are a profile's followers and followees: the first page of
// each as summaries, and up to idLimit ids of each (newest first).
type Connections struct {
	Followers, Following      SummaryPage
	FollowerIDs, FollowingIDs []string
}

// connectionIDsSQL lists the ids of uid $2's followers and followees as
// viewer $1 may see them (follows_*_created_idx, index-only), $3 each.
const connectionIDsSQL = `SELECT
	ARRAY(SELECT f.follower_id::text FROM follows f WHERE f.followee_id = $2
		AND f.follower_id NOT IN (SELECT blocked_id FROM blocks WHERE blocker_id = $1
			UNION ALL SELECT blocker_id FROM blocks WHERE blocked_id = $1)
		ORDER BY f.created_at DESC, f.follower_id DESC LIMIT $3),
	ARRAY(SELECT f.followee_id::text FROM follows f WHERE f.follower_id = $2
		AND f.followee_id NOT IN (SELECT blocked_id FROM blocks WHERE blocker_id = $1
			UNION ALL SELECT blocker_id FROM blocks WHERE blocked_id = $1)
		ORDER BY f.created_at DESC, f.followee_id DESC LIMIT $3)`

// ProfileWithConnections is Profile plus its Connections, in one round
// trip. The profile is nil when hidden or missing.
func (s *Store) ProfileWithConnections(ctx context.Context, viewer, uid id.ID, limit, idLimit int) (*Profile, Connections, error) {
	var c Connections
	b := &pgx.Batch{}
	b.Queue(profileSQL, viewer, uid)
	q, args := followersSQL(viewer, uid, nil, limit)
	b.Queue(q, args...)
	q, args = followingSQL(viewer, uid, nil, limit)
	b.Queue(q, args...)
	b.Queue(connectionIDsSQL, viewer, uid, idLimit)
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	p, err := scanProfile(br.QueryRow())
	if db.IsNoRows(err) {
		return nil, c, nil
	}
	if err != nil {
		return nil, c, err
	}
	rows, err := br.Query()
	if err != nil {
		return nil, c, err
	}
	if c.Followers, err = readSummaryPage(rows, limit); err != nil {
		return nil, c, err
	}
	if rows, err = br.Query(); err != nil {
		return nil, c, err
	}
	if c.Following, err = readSummaryPage(rows, limit); err != nil {
		return nil, c, err
	}
	err = br.QueryRow().Scan(&c.FollowerIDs, &c.FollowingIDs)
	return p, c, err
}

// Blocked pages through the users uid blocked.
func (s *Store) Blocked(ctx context.Context, uid id.ID, after *Cursor, limit int) (SummaryPage, error) {
	q, args := pageSQL(`SELECT u.id, u.name, u.profile_picture, u.is_verified, b.created_at
		FROM blocks b JOIN users u ON u.id = b.blocked_id
		WHERE b.blocker_id = $1`, "b.created_at", "b.blocked_id", []any{uid}, after, limit)
	return s.summaryPage(ctx, q, args, limit)
}

// escapeLike makes s a literal for LIKE/ILIKE (backslash is the default
// escape character).
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// searchSQL takes the first $5 name matches (the trigram index serves rare
// terms; for common ones the planner stops a scan early), ranks exact and
// prefix matches first, then loads the profiles of the top $4 only.
const searchSQL = `WITH m AS (
		SELECT u.id, u.name, u.followers_count FROM users u
		WHERE u.name ILIKE $2 AND u.id <> $1 AND ` + notBlockedList + `
		LIMIT $5),
	c AS (
		SELECT id, row_number() OVER (ORDER BY lower(name) = lower($3) DESC,
			starts_with(lower(name), lower($3)) DESC, followers_count DESC, id) AS rk
		FROM m ORDER BY rk LIMIT $4)
	SELECT ` + profileCols + ` FROM c JOIN users u ON u.id = c.id ORDER BY c.rk`

// searchCandidates is how many matches Search ranks per result slot.
const searchCandidates = 5

// Search returns up to limit users whose name contains q (case-insensitive,
// literally), hiding viewer and users blocked either way.
func (s *Store) Search(ctx context.Context, viewer id.ID, q string, limit int) ([]*Profile, error) {
	rows, err := s.pool.Query(ctx, searchSQL, searchArgs(viewer, q, limit)...)
	if err != nil {
		return nil, err
	}
	return collectProfiles(rows)
}

func searchArgs(viewer id.ID, q string, limit int) []any {
	return []any{viewer, "%" + escapeLike(q) + "%", q, limit, limit * searchCandidates}
}

// PhoneHit is a user found by phone number.
type PhoneHit struct {
	E164    string
	Profile *Profile
}

// byPhonesSQL finds the discoverable users holding the numbers $2.
//
// Read model: auth_credentials (owned by the auth service; phone is unique
// and E.164) is read with
//
//	SELECT user_id, phone FROM auth_credentials WHERE phone = ANY($2)
//
// and never written here.
const byPhonesSQL = `WITH c AS (
		SELECT a.user_id AS id, a.phone FROM auth_credentials a
		WHERE a.phone = ANY($2::text[]))
	SELECT c.phone, ` + profileCols + ` FROM c JOIN users u ON u.id = c.id
	WHERE u.phone_discoverable AND u.id <> $1 AND ` + notBlockedList

// ByPhones returns the discoverable users holding any of the E.164 numbers
// e164s, hiding viewer and users blocked either way.
func (s *Store) ByPhones(ctx context.Context, viewer id.ID, e164s []string) ([]PhoneHit, error) {
	if len(e164s) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, byPhonesSQL, viewer, e164s)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []PhoneHit
	for rows.Next() {
		var h PhoneHit
		p := &Profile{}
		if err := rows.Scan(append([]any{&h.E164}, p.scanDest()...)...); err != nil {
			return nil, err
		}
		h.Profile = p
		out = append(out, h)
	}
	return out, rows.Err()
}

// verifiedFilter is the "verified" category: the flag or the category. It
// must stay the predicate of the partial index users_geo_verified_idx.
const verifiedFilter = " AND (u.is_verified OR u.categories @> '{verified}')"

// categoryFilter is the SQL condition for a nearby/category filter on $n.
func categoryFilter(category string, n int) (string, bool) {
	switch category {
	case "", "global":
		return "", false
	case "verified":
		return verifiedFilter, false
	default:
		return fmt.Sprintf(" AND u.categories @> ARRAY[$%d]::text[]", n), true
	}
}

// nearbySQL walks users_geo_idx nearest first (a KNN index-only scan)
// inside the cube around the centre $2 that holds the sphere cap of chord
// $3, skips positions older than $5, and stops after $4 rows pass the
// filters; profiles load only for those. The rows come back unordered:
// Nearby computes their distances. With record, the statement first stores
// ($6, $7) as the viewer's position (see recordSQL) in the same round trip.
func nearbySQL(catFilter string, record bool) string {
	head := `WITH `
	if record {
		head = `WITH me AS (` + recordSQL + `), `
	}
	return head + `c AS (
		SELECT u.id FROM users u
		WHERE u.latitude IS NOT NULL AND ` + geoSQL + ` <@ cube_enlarge(cube($2::float8[]), $3, 3)
		  AND u.location_updated_at >= $5 AND u.id <> $1` + catFilter + ` AND ` + notBlockedList + `
		ORDER BY ` + geoSQL + ` <-> cube($2::float8[]) LIMIT $4)
	SELECT ` + profileCols + ` FROM c JOIN users u ON u.id = c.id`
}

// recordSQL stores the snapped position ($6, $7) of user $1 unless they
// hide from the map. An unchanged cell is rewritten only when its timestamp
// is older than recordRefresh, so a user panning the map costs no write
// (a position is an index entry: every write is a GiST insert). The
// statement commits without waiting for the WAL flush (synchronous_commit
// off for this transaction only): a last-known position lost in a crash is
// replaced by the next map load, and the map query must not wait on disk.
const recordSQL = `UPDATE users SET latitude = $6::float8, longitude = $7::float8, location_updated_at = now()
	WHERE id = $1 AND show_on_map AND (location_updated_at IS NULL OR location_updated_at < now() - interval '` + recordRefresh + `'
		OR ((latitude IS DISTINCT FROM $6::float8 OR longitude IS DISTINCT FROM $7::float8)
			AND location_updated_at < now() - interval '` + recordMinGap + `'))
		AND set_config('synchronous_commit', 'off', true) IS NOT NULL
	RETURNING location_updated_at`

// recordRefresh bounds how stale an unchanged position's timestamp may get
// (far below NEARBY_MAX_LOCATION_AGE); recordMinGap is the least time
// between two recorded moves of one user, so a client firing map queries
// costs at most one write a minute (UpdateMyLocation is not throttled).
const (
	recordRefresh = "10 minutes"
	recordMinGap  = "1 minute"
)

// NearbyQuery is one nearby search.
type NearbyQuery struct {
	Lat, Lng, Radius float64
	Category         string
	Limit            int
	// Record stores (Lat, Lng) as the viewer's own position.
	Record bool
}

// nearbyArgs are the arguments of nearbySQL.
func (s *Store) nearbyArgs(viewer id.ID, q NearbyQuery) []any {
	v := unitVector(q.Lat, q.Lng)
	args := []any{viewer, v[:], chordFor(q.Radius), q.Limit, time.Now().Add(-s.presence.MaxAge)}
	if q.Record {
		lat, lng := s.snap(q.Lat, q.Lng)
		args = append(args, lat, lng)
	}
	return args
}

// recordDue reports whether q should store the viewer's position: the
// statement runs only when recordSQL could write (see recorded).
func (s *Store) recordDue(viewer id.ID, q NearbyQuery) bool {
	if !q.Record {
		return false
	}
	lat, lng := s.snap(q.Lat, q.Lng)
	return s.recorded.due(viewer, lat, lng, time.Now())
}

// Nearby returns up to q.Limit users with a fresh position within q.Radius
// metres of (q.Lat, q.Lng), nearest first, hiding viewer and users blocked
// either way. Positions come back snapped to the grid (rows written before
// the grid existed are snapped here) and distances are to those.
//
// The scan's order is the great-circle order, so its first limit rows cut
// to those within radius are exactly the limit nearest within radius.
// Distances (haversine) and the final sort are done here, on at most limit
// rows, rather than in PostgreSQL.
func (s *Store) Nearby(ctx context.Context, viewer id.ID, q NearbyQuery) ([]*Profile, error) {
	q.Record = s.recordDue(viewer, q)
	args := s.nearbyArgs(viewer, q)
	cat, usesArg := categoryFilter(q.Category, len(args)+1)
	if usesArg {
		args = append(args, q.Category)
	}
	rows, err := s.pool.Query(ctx, nearbySQL(cat, q.Record), args...)
	if err != nil {
		return nil, err
	}
	ps, err := collectProfiles(rows)
	if err != nil {
		return nil, err
	}
	out := ps[:0]
	for _, p := range ps {
		*p.Latitude, *p.Longitude = s.snap(*p.Latitude, *p.Longitude)
		p.DistanceMeters = haversine(q.Lat, q.Lng, *p.Latitude, *p.Longitude)
		if p.DistanceMeters <= q.Radius {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *Profile) int {
		if c := cmp.Compare(a.DistanceMeters, b.DistanceMeters); c != 0 {
			return c
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
	return out, nil
}

// Position is a stored map position.
type Position struct {
	Lat, Lng  float64
	UpdatedAt time.Time
}

// UpdateLocation records uid's position, snapped to the grid. It returns
// nil (nothing stored) when uid hides from the map or does not exist.
func (s *Store) UpdateLocation(ctx context.Context, uid id.ID, lat, lng float64) (*Position, error) {
	s.recorded.forget(uid)
	lat, lng = s.snap(lat, lng)
	var at time.Time
	err := s.pool.QueryRow(ctx, `UPDATE users SET latitude = $2, longitude = $3, location_updated_at = now()
		WHERE id = $1 AND show_on_map RETURNING location_updated_at`, uid, lat, lng).Scan(&at)
	if db.IsNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &Position{Lat: lat, Lng: lng, UpdatedAt: at}, nil
}

// ByCategory lists up to limit users of a category, most followed first.
func (s *Store) ByCategory(ctx context.Context, viewer id.ID, category string, limit int) ([]*Profile, error) {
	args := []any{viewer, limit}
	cat, usesArg := categoryFilter(category, 3)
	if usesArg {
		args = append(args, category)
	}
	rows, err := s.pool.Query(ctx, `WITH c AS (
			SELECT u.id, u.followers_count FROM users u
			WHERE u.id <> $1 AND `+notBlockedList+cat+`
			ORDER BY u.followers_count DESC, u.id LIMIT $2)
		SELECT `+profileCols+` FROM c JOIN users u ON u.id = c.id ORDER BY c.followers_count DESC, c.id`, args...)
	if err != nil {
		return nil, err
	}
	return collectProfiles(rows)
}

// Relationship is how viewer and other relate.
type Relationship struct {
	Blocked, ViewerFollows, OtherFollows, OtherExists bool
}

// Relationship looks up the relation of two users in one round trip.
func (s *Store) Relationship(ctx context.Context, viewer, other id.ID) (Relationship, error) {
	var r Relationship
	err := s.pool.QueryRow(ctx, `SELECT
		EXISTS (SELECT 1 FROM blocks WHERE (blocker_id = $1 AND blocked_id = $2) OR (blocker_id = $2 AND blocked_id = $1)),
		EXISTS (SELECT 1 FROM follows WHERE follower_id = $1 AND followee_id = $2),
		EXISTS (SELECT 1 FROM follows WHERE follower_id = $2 AND followee_id = $1),
		EXISTS (SELECT 1 FROM users WHERE id = $2)`, viewer, other).
		Scan(&r.Blocked, &r.ViewerFollows, &r.OtherFollows, &r.OtherExists)
	return r, err
}

// Summaries returns the summaries of the existing users among ids, in the
// order of ids.
func (s *Store) Summaries(ctx context.Context, ids []id.ID) ([]Summary, error) {
	rows, err := s.pool.Query(ctx, `SELECT u.id, u.name, u.profile_picture, u.is_verified
		FROM unnest($1::text[]) WITH ORDINALITY AS x(id, n) JOIN users u ON u.id = x.id
		ORDER BY x.n`, idStrings(ids))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Summary, error) {
		var u Summary
		err := r.Scan(&u.ID, &u.Name, &u.ProfilePicture, &u.IsVerified)
		return u, err
	})
}

// ReportRow is one report in ListReports.
type ReportRow struct {
	ID, TargetID, ReporterID    id.ID
	TargetType, Reason, Details string
	Status                      string
	CreatedAt                   time.Time
}

// hasPostReports reports whether the post service's post_reports table
// exists (migration 03001; the check keeps ListReports working on a schema
// without it). Once seen it is not checked again;
// until then the check is one catalog lookup per (admin-only) listing.
func (s *Store) hasPostReports(ctx context.Context) (bool, error) {
	if s.postReports.Load() {
		return true, nil
	}
	var ok bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass('post_reports') IS NOT NULL`).Scan(&ok); err != nil {
		return false, err
	}
	if ok {
		s.postReports.Store(true)
	}
	return ok, nil
}

// Reports pages through user reports and, when the post service's table
// exists, post reports, newest first.
//
// Read model: post_reports (owned by the post service) is read with
//
//	SELECT id, 'post', post_id, reporter_id, reason, details, status, created_at FROM post_reports
//
// and never written here.
func (s *Store) Reports(ctx context.Context, status string, after *Cursor, limit int) ([]ReportRow, *Cursor, error) {
	src := `SELECT id, 'user' AS target_type, target_id, reporter_id, reason, details, status, created_at FROM user_reports`
	withPosts, err := s.hasPostReports(ctx)
	if err != nil {
		return nil, nil, err
	}
	if withPosts {
		src += ` UNION ALL SELECT id, 'post', post_id, reporter_id, reason, details, status, created_at FROM post_reports`
	}
	q := `SELECT id, target_type, target_id, reporter_id, reason, details, status, created_at FROM (` + src + `) r WHERE ($1 = '' OR status = $1)`
	q, args := pageSQL(q, "created_at", "id", []any{status}, after, limit)
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var out []ReportRow
	var next *Cursor
	for rows.Next() {
		var r ReportRow
		if err := rows.Scan(&r.ID, &r.TargetType, &r.TargetID, &r.ReporterID, &r.Reason, &r.Details, &r.Status, &r.CreatedAt); err != nil {
			return nil, nil, err
		}
		if len(out) == limit {
			last := out[len(out)-1]
			next = &Cursor{T: last.CreatedAt, ID: last.ID}
			break
		}
		out = append(out, r)
	}
	return out, next, rows.Err()
}

// ErrOtherData means rows of another service still reference the user.
var ErrOtherData = errors.New("user: other services still hold rows of this user")

// DeleteUser removes uid's profile, follows (keeping the other side's
// counts), blocks and reports in one transaction. It returns false when
// there was no profile.
func (s *Store) DeleteUser(ctx context.Context, uid id.ID) (bool, error) {
	var deleted bool
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		// Lock every user whose counts change, in id order like lockPair.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM users WHERE id IN (
				SELECT $1::text UNION SELECT followee_id FROM follows WHERE follower_id = $1
				UNION SELECT follower_id FROM follows WHERE followee_id = $1)
			ORDER BY id FOR NO KEY UPDATE`, uid); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE users u SET followers_count = followers_count - 1
			FROM follows f WHERE f.follower_id = $1 AND u.id = f.followee_id`, uid); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE users u SET following_count = following_count - 1
			FROM follows f WHERE f.followee_id = $1 AND u.id = f.follower_id`, uid); err != nil {
			return err
		}
		// follows, blocks and user_reports cascade.
		tag, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, uid)
		if db.IsForeignKeyViolation(err) {
			return ErrOtherData
		}
		deleted = tag.RowsAffected() == 1
		return err
	})
	return deleted, err
}

func idStrings(ids []id.ID) []string {
	out := make([]string, len(ids))
	for i, v := range ids {
		out[i] = v.String()
	}
	return out
}
