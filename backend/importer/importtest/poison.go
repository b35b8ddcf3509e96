package importtest

import (
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// Poison names the documents SeedPoison adds to an otherwise good
// dataset: one per way real legacy data broke the import.
type Poison struct {
	// Rejected maps each item that must be rejected ("collection id",
	// embedded items as "chat/message") to a part of its reason.
	Rejected map[string]string

	NulBio, StringFollowers, StringCategories, ArrayBio, EpochSecondsUser bson.ObjectID
	WinnerPhone, LoserPhone, ActiveNoExact, StaleNoExact                  bson.ObjectID
	// Two accounts share a number; neither stores its exact E.164 form.
	SharedNoExact                       string
	GoodPost, ClonePost, GoodChat       bson.ObjectID
	StaleRinging, StaleActive, LongRept bson.ObjectID
	LongReason                          string
}

// SeedPoison adds users, posts, stories, chats, calls, audits and reports
// shaped like production's worst: NULs, blank media, repeated and cloned
// ids, counters past int4/int8, strings where arrays belong, dates as
// epoch seconds, ISO strings and BSON dates, shared phone numbers and
// calls legacy never resolved. Users B and A of f are referenced.
func SeedPoison(t testing.TB, db *mongo.Database, f Fixture, now time.Time) Poison {
	t.Helper()
	base := now.Add(-200 * 24 * time.Hour).Truncate(time.Second)
	at := func(h int) time.Time { return base.Add(time.Duration(h) * time.Hour) }
	p := Poison{Rejected: map[string]string{}}
	p.NulBio, p.StringFollowers, p.StringCategories, p.ArrayBio, p.EpochSecondsUser = oid(at(1)), oid(at(2)), oid(at(3)), oid(at(4)), oid(at(5))
	p.WinnerPhone, p.LoserPhone, p.ActiveNoExact, p.StaleNoExact = oid(at(7)), oid(at(6)), oid(at(8)), oid(at(9))
	p.SharedNoExact = "+919800000077"
	insert(t, db, "users", []any{
		// (a) MS auth shape with a NUL in the bio: normalised, kept.
		bson.D{{Key: "_id", Value: p.NulBio}, {Key: "name", Value: "Nul"}, {Key: "phone", Value: "+919800000001"}, {Key: "bio", Value: "line\x00break"},
			{Key: "createdAt", Value: at(1)}},
		// (c) shared-models shape with followers: "none".
		bson.D{{Key: "_id", Value: p.StringFollowers}, {Key: "name", Value: "Nofollow"}, {Key: "phone", Value: "+919800000002"},
			{Key: "followers", Value: "none"}, {Key: "following", Value: bson.A{f.B}}, {Key: "createdAt", Value: at(2).Format(time.RFC3339)}},
		// (b) user-service shape with categories: "sports" (ISO string date).
		bson.D{{Key: "_id", Value: p.StringCategories}, {Key: "name", Value: "Cat"}, {Key: "categories", Value: "sports"},
			{Key: "profilePhoto", Value: "https://infliq-media.s3.ap-south-1.amazonaws.com/profiles/cat.jpg"}, {Key: "createdAt", Value: at(3).Format(time.RFC3339Nano)}},
		// (e) M2 shape with bio as an array.
		bson.D{{Key: "_id", Value: p.ArrayBio}, {Key: "name", Value: "Arr"}, {Key: "bio", Value: bson.A{"runs", "reads"}}, {Key: "category", Value: "global"},
			{Key: "createdAt", Value: at(4)}},
		// (d) M1 shape with createdAt in int32 epoch seconds.
		bson.D{{Key: "_id", Value: p.EpochSecondsUser}, {Key: "name", Value: "Epoch"}, {Key: "profilePicture", Value: "profiles/e.jpg"},
			{Key: "createdAt", Value: int32(at(5).Unix())}},
		// Two accounts on one number: the older stores it as typed, the
		// newer exactly in E.164 (the one the live login finds).
		bson.D{{Key: "_id", Value: p.LoserPhone}, {Key: "name", Value: "Old"}, {Key: "phone", Value: "98000 00055"}, {Key: "createdAt", Value: at(6)}},
		bson.D{{Key: "_id", Value: p.WinnerPhone}, {Key: "name", Value: "New"}, {Key: "phone", Value: "+919800000055"}, {Key: "createdAt", Value: at(7)}},
		// Two accounts, neither exact: the most recently active keeps it.
		bson.D{{Key: "_id", Value: p.ActiveNoExact}, {Key: "name", Value: "Active"}, {Key: "phone", Value: "98000-00077"},
			{Key: "updatedAt", Value: now.Add(-time.Hour)}, {Key: "createdAt", Value: at(8)}},
		bson.D{{Key: "_id", Value: p.StaleNoExact}, {Key: "name", Value: "Stale"}, {Key: "phone", Value: "9800000077 "}, {Key: "createdAt", Value: at(9)}},
	})

	// Posts: a good one whose comments a hand-made clone repeats; a
	// comment repeated inside one post; NUL in a comment; counters past
	// int4 and int8.
	p.GoodPost, p.ClonePost = oid(at(20)), oid(at(21))
	c1, c2, cNul := oid(at(22)), oid(at(23)), oid(at(24))
	shares, views := oid(at(25)), oid(at(26))
	comment := func(x bson.ObjectID, text string) bson.D {
		return bson.D{{Key: "_id", Value: x}, {Key: "userId", Value: f.A}, {Key: "text", Value: text}, {Key: "createdAt", Value: x.Timestamp()}}
	}
	insert(t, db, "posts", []any{
		bson.D{{Key: "_id", Value: p.GoodPost}, {Key: "userId", Value: f.B}, {Key: "caption", Value: "original"},
			{Key: "comments", Value: bson.A{comment(c1, "first"), comment(c2, "second"), comment(c1, "first"), comment(cNul, "bad\x00byte")}},
			{Key: "likes", Value: f.A.Hex()}, {Key: "createdAt", Value: at(20).UnixMilli()}},
		bson.D{{Key: "_id", Value: p.ClonePost}, {Key: "userId", Value: f.B}, {Key: "caption", Value: "clone"},
			{Key: "comments", Value: bson.A{comment(c1, "first"), comment(c2, "second")}}, {Key: "createdAt", Value: at(21)}},
		bson.D{{Key: "_id", Value: shares}, {Key: "userId", Value: f.B}, {Key: "content", Value: "viral"}, {Key: "shares", Value: 3e9}, {Key: "createdAt", Value: at(25)}},
		bson.D{{Key: "_id", Value: views}, {Key: "userId", Value: f.B}, {Key: "content", Value: "seen"}, {Key: "views", Value: 1e19}, {Key: "createdAt", Value: at(26)}},
	})
	p.Rejected["posts.comments "+c1.Hex()] = "comment _id repeated"
	p.Rejected["posts.comments "+cNul.Hex()] = "NUL"
	p.Rejected["posts "+shares.Hex()] = "shares out of range"
	p.Rejected["posts "+views.Hex()] = "views out of range"

	blank := oid(now.Add(-time.Hour))
	insert(t, db, "stories", []any{
		bson.D{{Key: "_id", Value: blank}, {Key: "userId", Value: f.B}, {Key: "mediaUrl", Value: " "}, {Key: "expiresAt", Value: now.Add(20 * time.Hour)},
			{Key: "createdAt", Value: now.Add(-time.Hour)}},
	})
	p.Rejected["stories "+blank.Hex()] = "mediaUrl"

	p.GoodChat = oid(at(30))
	m1, mNul := oid(at(31)), oid(at(32))
	msg := func(x bson.ObjectID, text string) bson.D {
		return bson.D{{Key: "_id", Value: x}, {Key: "senderId", Value: f.A}, {Key: "text", Value: text}, {Key: "type", Value: "text"}, {Key: "createdAt", Value: x.Timestamp()}}
	}
	insert(t, db, "chats", []any{
		bson.D{{Key: "_id", Value: p.GoodChat}, {Key: "type", Value: "community"}, {Key: "participants", Value: bson.A{f.A, f.B, p.NulBio}},
			{Key: "messages", Value: bson.A{msg(m1, "hi"), msg(m1, "hi"), msg(mNul, "nul\x00here")}}, {Key: "createdAt", Value: at(30)}},
	})
	p.Rejected["chats.messages "+p.GoodChat.Hex()+"/"+m1.Hex()] = "repeated"
	p.Rejected["chats.messages "+p.GoodChat.Hex()+"/"+mNul.Hex()] = "NUL"

	long := oid(at(40))
	p.StaleRinging, p.StaleActive = oid(at(41)), oid(at(42))
	insert(t, db, "calls", []any{
		bson.D{{Key: "_id", Value: long}, {Key: "callerId", Value: f.A}, {Key: "receiverId", Value: f.B}, {Key: "status", Value: "ended"},
			{Key: "duration", Value: 3e9}, {Key: "createdAt", Value: at(40)}},
		bson.D{{Key: "_id", Value: p.StaleRinging}, {Key: "callerId", Value: f.A}, {Key: "receiverId", Value: f.B}, {Key: "type", Value: "audio"},
			{Key: "status", Value: "ringing"}, {Key: "createdAt", Value: at(41)}},
		bson.D{{Key: "_id", Value: p.StaleActive}, {Key: "callerId", Value: f.B}, {Key: "receiverId", Value: f.A}, {Key: "status", Value: "active"},
			{Key: "startedAt", Value: at(42)}, {Key: "createdAt", Value: at(42)}},
	})
	p.Rejected["calls "+long.Hex()] = "duration out of range"

	nulMeta := oid(at(43))
	insert(t, db, "mediauploadaudits", []any{
		bson.D{{Key: "_id", Value: nulMeta}, {Key: "userId", Value: f.B.Hex()}, {Key: "route", Value: "/api/media/upload"}, {Key: "status", Value: "success"},
			{Key: "metadata", Value: bson.D{{Key: "originalName", Value: "a\x00.jpg"}}}, {Key: "createdAt", Value: at(43)}},
	})
	p.Rejected["mediauploadaudits "+nulMeta.Hex()] = "NUL"

	p.LongRept = oid(at(44))
	p.LongReason = "This account keeps sending me the same message about a giveaway; " +
		"it has done so every day for two weeks and blocks did not help."
	insert(t, db, "contentreports", []any{
		bson.D{{Key: "_id", Value: p.LongRept}, {Key: "reporterId", Value: f.A}, {Key: "targetType", Value: "user"}, {Key: "targetId", Value: f.B},
			{Key: "reason", Value: p.LongReason}, {Key: "createdAt", Value: at(44)}},
	})
	return p
}
