package importer_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/infliq/infliq/backend/importer"
	"github.com/infliq/infliq/backend/importer/importtest"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/db"
	"github.com/infliq/infliq/backend/platform/logx"
	"github.com/infliq/infliq/backend/platform/mediaurl"
	"github.com/infliq/infliq/backend/platform/pgtest"
)

func resolver() *mediaurl.Resolver {
	return mediaurl.New(config.S3{Bucket: "infliq-media", Region: "ap-south-1"})
}

func one[T any](t *testing.T, pool *pgxpool.Pool, sql string, args ...any) T {
	t.Helper()
	var v T
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

// ordinaryDB is a migrated database owned by an ordinary role made with
// the runbook's SQL: the whole suite imports as that role, as on managed
// PostgreSQL.
func ordinaryDB(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := db.Open(context.Background(), importtest.OrdinaryDSN(t), importer.PoolSize(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := db.Migrate(context.Background(), pool, logx.Discard()); err != nil {
		t.Fatal(err)
	}
	return pool
}

func row(t *testing.T, s *importer.Summary, name string) *importer.Stats {
	t.Helper()
	for _, r := range s.Rows() {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no summary row %q:\n%s", name, s)
	return nil
}

func TestImportLegacyData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Now().UTC()
	mdb := importtest.Start(t, "infliq")
	f := importtest.Seed(t, mdb, now)
	pool := ordinaryDB(t)
	o := importer.Options{Mongo: mdb, DB: pool, Media: resolver(), Batch: 2, Now: func() time.Time { return now }}

	sum, err := importer.Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + sum.String())

	// Users: all five shapes and the phone duplicate; a string _id is
	// rejected, a number for a name is read as text and counted.
	u := row(t, sum, "users")
	if u.Read != 8 || u.Inserted != importtest.SeedUsersValid || u.Rejected != importtest.SeedUsersMalformed {
		t.Fatalf("users %+v", u)
	}
	if u.Reasons["_id is not an ObjectId"] != 1 || u.Reasons["normalised name: 32-bit integer read as text"] != 1 || u.Normalised < 1 {
		t.Fatalf("user reasons %v", u.Reasons)
	}
	if got := one[string](t, pool, `SELECT profile_picture FROM users WHERE id = $1`, f.B.Hex()); got != "profiles/b.jpg" {
		t.Fatalf("B picture %q", got)
	}
	if got := one[string](t, pool, `SELECT profile_picture FROM users WHERE id = $1`, f.D.Hex()); got != "profiles/d.jpg" {
		t.Fatalf("D picture %q", got)
	}
	if got := one[string](t, pool, `SELECT array_to_string(categories, ',') FROM users WHERE id = $1`, f.E.Hex()); got != "music" {
		t.Fatalf("E categories %q", got)
	}
	if got := one[bool](t, pool, `SELECT latitude IS NULL FROM users WHERE id = $1`, f.C.Hex()); !got {
		t.Fatal("[0,0] location imported as a place")
	}
	if got := one[float64](t, pool, `SELECT latitude FROM users WHERE id = $1`, f.B.Hex()); got != 12.97 {
		t.Fatalf("B latitude %v", got)
	}
	// An imported position is fresh on the map from the import (issue 18);
	// no position, no timestamp.
	if got := one[bool](t, pool, `SELECT location_updated_at IS NOT NULL FROM users WHERE id = $1`, f.B.Hex()); !got {
		t.Fatal("B imported without location_updated_at")
	}
	if got := one[bool](t, pool, `SELECT location_updated_at IS NULL FROM users WHERE id = $1`, f.C.Hex()); !got {
		t.Fatal("C has a location timestamp without a location")
	}
	if got := one[time.Time](t, pool, `SELECT created_at FROM users WHERE id = $1`, f.A.Hex()); !got.Truncate(time.Second).Equal(f.A.Timestamp()) {
		t.Fatalf("A created_at %v, want %v", got, f.A.Timestamp())
	}

	// Credentials: E.164 phones, bcrypt kept, plaintext dropped and marked.
	if got := one[string](t, pool, `SELECT phone FROM auth_credentials WHERE user_id = $1`, f.B.Hex()); got != "+919876543211" {
		t.Fatalf("B phone %q", got)
	}
	if got := one[string](t, pool, `SELECT password_hash FROM auth_credentials WHERE user_id = $1`, f.A.Hex()); !strings.HasPrefix(got, "$2a$") {
		t.Fatalf("A hash %q", got)
	}
	if got := one[int](t, pool, `SELECT count(*) FROM auth_credentials WHERE needs_password_reset AND password_hash IS NULL AND user_id IN ($1, $2)`, f.D.Hex(), f.E.Hex()); got != 2 {
		t.Fatalf("plaintext accounts marked %d", got)
	}
	if n := one[int](t, pool, `SELECT count(*) FROM auth_credentials WHERE password_hash NOT LIKE '$2%'`); n != 0 {
		t.Fatal("a non-bcrypt password was stored")
	}
	if sum.PasswordResets != 2 {
		t.Fatalf("password resets %d", sum.PasswordResets)
	}
	// DupPhone stores A's number exactly in E.164, so the live legacy
	// login reaches DupPhone: it keeps the number; A keeps its account,
	// email and password without it.
	if len(sum.PhoneConflicts) != 1 || sum.PhoneConflicts[0] != [2]string{f.DupPhone.Hex(), f.A.Hex()} {
		t.Fatalf("phone conflicts %v", sum.PhoneConflicts)
	}
	if got := one[string](t, pool, `SELECT phone FROM auth_credentials WHERE user_id = $1`, f.DupPhone.Hex()); got != "+919876543210" {
		t.Fatalf("winner phone %q", got)
	}
	if got := one[bool](t, pool, `SELECT phone IS NULL AND email IS NOT NULL FROM auth_credentials WHERE user_id = $1`, f.A.Hex()); !got {
		t.Fatal("the losing account kept the phone or lost its email")
	}

	// Graph: both arrays, deduplicated; dangling dropped and counted.
	if n := one[int](t, pool, `SELECT count(*) FROM follows`); n != 4 { // A→B, B→C, D→A, E→B
		t.Fatalf("follows %d", n)
	}
	fo := row(t, sum, "follows")
	if fo.Inserted != 4 || fo.Reasons["dangling reference to a missing user"] != 1 {
		t.Fatalf("follows %+v", fo)
	}
	if n := one[int](t, pool, `SELECT count(*) FROM blocks WHERE blocker_id = $1 AND blocked_id = $2`, f.E.Hex(), f.C.Hex()); n != 1 {
		t.Fatal("block missing")
	}
	if got := one[int](t, pool, `SELECT followers_count FROM users WHERE id = $1`, f.B.Hex()); got != 2 {
		t.Fatalf("B followers_count %d", got)
	}

	// Posts: caption/content, keys, likes and comments; dangling rejected.
	if got := one[string](t, pool, `SELECT content || '|' || media_url || '|' || thumbnail_url FROM posts WHERE id = $1`, f.PostMS.Hex()); got != "hello from MS|posts/p1.jpg|posts/p1-thumb.jpg" {
		t.Fatalf("MS post %q", got)
	}
	if got := one[string](t, pool, `SELECT content || '|' || media_url || '|' || media_type || '|' || type FROM posts WHERE id = $1`, f.PostM1.Hex()); got != "monolith reel|posts/p2.mp4|video|reel" {
		t.Fatalf("M1 post %q", got)
	}
	p := row(t, sum, "posts")
	if p.Inserted != 2 || p.Rejected != 3 {
		t.Fatalf("posts %+v", p)
	}
	if got := one[string](t, pool, `SELECT likes_count || '/' || comments_count || '/' || views_count || '/' || shares_count FROM posts WHERE id = $1`, f.PostMS.Hex()); got != "2/1/10/2" {
		t.Fatalf("MS post counters %q", got)
	}
	if got := one[string](t, pool, `SELECT id FROM post_comments WHERE post_id = $1`, f.PostMS.Hex()); got != f.CommentA.Hex() {
		t.Fatalf("comment id %q", got)
	}

	// Stories: live ones only.
	if n := one[int](t, pool, `SELECT count(*) FROM stories`); n != 2 {
		t.Fatalf("stories %d", n)
	}
	if s := row(t, sum, "stories"); s.Reasons["expired"] != 1 {
		t.Fatalf("stories %+v", s)
	}
	if n := one[int](t, pool, `SELECT count(*) FROM story_views WHERE story_id = $1`, f.LiveStory.Hex()); n != 1 {
		t.Fatalf("story views %d", n)
	}

	// Chats: 1,000 embedded messages keep their ids; the duplicate pair
	// survives under its own key.
	if n := one[int](t, pool, `SELECT count(*) FROM messages WHERE chat_id = $1`, f.BigChat.Hex()); n != importtest.BigChatSize {
		t.Fatalf("big chat messages %d", n)
	}
	if got := one[string](t, pool, `SELECT last_message_id FROM chats WHERE id = $1`, f.BigChat.Hex()); got != f.BigChatMessages[len(f.BigChatMessages)-1].Hex() {
		t.Fatalf("last message %q", got)
	}
	if n := one[int](t, pool, `SELECT count(*) FROM messages m WHERE chat_id = $1 AND id = ANY($2)`, f.BigChat.Hex(), hexes(f.BigChatMessages)); n != importtest.BigChatSize {
		t.Fatalf("message ids preserved %d", n)
	}
	if got := one[string](t, pool, `SELECT direct_key FROM chats WHERE id = $1`, f.DupChat.Hex()); got != "legacy:"+f.DupChat.Hex() {
		t.Fatalf("dup chat key %q", got)
	}
	if n := one[int](t, pool, `SELECT count(*) FROM chat_members WHERE chat_id = $1`, f.GhostChat.Hex()); n != 2 {
		t.Fatalf("ghost chat members %d", n)
	}
	if c := row(t, sum, "chats"); c.Rejected != 0 || c.Normalised != 1 { // participants: "not-an-array" is one bad element
		t.Fatalf("chats %+v", c)
	}
	if m := row(t, sum, "chats.messages"); m.Rejected != 1 || m.Inserted != importtest.BigChatSize+1 {
		t.Fatalf("messages %+v", m)
	}

	// Calls (when the call migration is applied), audits, reports.
	if one[bool](t, pool, `SELECT to_regclass('calls') IS NOT NULL`) {
		if n := one[int](t, pool, `SELECT count(*) FROM calls WHERE id = $1`, f.Call.Hex()); n != 1 {
			t.Fatal("call missing")
		}
	}
	if got := one[string](t, pool, `SELECT metadata->>'filesCount' FROM media_audit_logs`); got != "1" {
		t.Fatalf("audit metadata %q", got)
	}
	if n := one[int](t, pool, `SELECT count(*) FROM post_reports WHERE id = $1`, f.PostReport.Hex()); n != 1 {
		t.Fatal("post report missing")
	}

	if one[bool](t, pool, `SELECT to_regclass('user_reports') IS NOT NULL`) {
		if n := one[int](t, pool, `SELECT count(*) FROM user_reports WHERE id = $1 AND target_id = $2`, f.UserReport.Hex(), f.E.Hex()); n != 1 {
			t.Fatal("user report missing")
		}
	}

	// Idempotent: a second run inserts and updates nothing.
	again, err := importer.Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range again.Rows() {
		if r.Inserted != 0 || r.Updated != 0 {
			t.Fatalf("re-run changed %s: %+v\n%s", r.Name, r, again)
		}
	}

	// --since: only what changed after the mark is read (users always).
	mark := time.Now().UTC()
	time.Sleep(1100 * time.Millisecond) // ObjectIds have second resolution
	newPost := bson.NewObjectID()
	if _, err := mdb.Collection("posts").InsertOne(ctx, bson.D{{Key: "_id", Value: newPost}, {Key: "userId", Value: f.A},
		{Key: "caption", Value: "after the freeze"}, {Key: "createdAt", Value: time.Now().UTC()}}); err != nil {
		t.Fatal(err)
	}
	o.Since = mark
	inc, err := importer.Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if p := row(t, inc, "posts"); p.Read != 1 || p.Inserted != 1 {
		t.Fatalf("since posts %+v\n%s", p, inc)
	}
	if c := row(t, inc, "chats"); c.Read != 0 {
		t.Fatalf("since chats %+v", c)
	}
	if n := one[int](t, pool, `SELECT count(*) FROM posts WHERE id = $1`, newPost.Hex()); n != 1 {
		t.Fatal("since pass missed the new post")
	}
}

func hexes(ids []bson.ObjectID) []string {
	out := make([]string, len(ids))
	for i, x := range ids {
		out[i] = x.Hex()
	}
	return out
}

func TestImportDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Now().UTC()
	mdb := importtest.Start(t, "legacy")
	importtest.Seed(t, mdb, now)
	pool := ordinaryDB(t)
	sum, err := importer.Run(ctx, importer.Options{Mongo: mdb, DB: pool, Media: resolver(), DryRun: true, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if u := row(t, sum, "users"); u.Read != 8 || u.Rejected != importtest.SeedUsersMalformed || u.Inserted != 0 {
		t.Fatalf("dry users %+v", u)
	}
	if m := row(t, sum, "chats.messages"); m.Read != importtest.BigChatSize+2 || m.Rejected != 1 {
		t.Fatalf("dry messages %+v", m)
	}
	if !strings.Contains(sum.String(), "dry run") || sum.PasswordResets != 2 {
		t.Fatalf("dry summary:\n%s", sum)
	}
	for _, tbl := range []string{"users", "auth_credentials", "follows", "posts", "stories", "chats", "messages", "media_audit_logs", "post_reports"} {
		if n := one[int](t, pool, `SELECT count(*) FROM `+tbl); n != 0 {
			t.Fatalf("dry run wrote %d rows into %s", n, tbl)
		}
	}
}

// A pool too small for the work is refused at once: the shipped CLI's pool
// of 2 deadlocked (the advisory lock holds one connection, the posts job
// wanted two next to the follows job).
func TestImportRefusesSmallPool(t *testing.T) {
	t.Parallel()
	small, err := db.Open(context.Background(), pgtest.NewDSN(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	_, err = importer.Run(context.Background(), importer.Options{DB: small, Media: resolver()})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("needs %d", importer.PoolSize(0))) {
		t.Fatalf("Run with a pool of 2: %v", err)
	}
}
