package importtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"golang.org/x/crypto/bcrypt"
)

// Fixture names the seeded documents' ids and secrets.
type Fixture struct {
	// Users, one per legacy schema (§D.1 a–e), and a sixth whose phone
	// normalises to A's.
	A, B, C, D, E, DupPhone bson.ObjectID
	Dangling                bson.ObjectID // referenced, never inserted
	APassword               string        // A's bcrypt-hashed password
	AEmail                  string
	BPhone                  string // B's phone as the app types it
	DPassword               string // plaintext, never imported

	PostMS, PostM1, PostDangling bson.ObjectID
	CommentA, CommentGhost       bson.ObjectID
	LiveStory, ExpiredStory      bson.ObjectID
	M2Story                      bson.ObjectID // no expiresAt, recent
	BigChat, DupChat, GhostChat  bson.ObjectID
	BigChatMessages              []bson.ObjectID // in order
	Call                         bson.ObjectID
	PostReport, UserReport       bson.ObjectID
}

// Counts of the seed, for assertions.
const (
	SeedUsersValid     = 7 // A–E, DupPhone and a name stored as a number
	SeedUsersMalformed = 1
	BigChatSize        = 1000
)

// oid makes an ObjectId from a time, like the legacy backends did.
func oid(t time.Time) bson.ObjectID { return bson.NewObjectIDFromTimestamp(t) }

// Seed inserts the legacy fixture set into db.
func Seed(t testing.TB, db *mongo.Database, now time.Time) Fixture {
	t.Helper()
	base := now.Add(-30 * 24 * time.Hour).Truncate(time.Millisecond)
	at := func(h int) time.Time { return base.Add(time.Duration(h) * time.Hour) }
	f := Fixture{
		A: oid(at(1)), B: oid(at(2)), C: oid(at(3)), D: oid(at(4)), E: oid(at(5)), DupPhone: oid(at(6)), Dangling: oid(at(7)),
		APassword: "old-pass-1", AEmail: "asha@example.com", BPhone: "9876543211", DPassword: "plaintext123",
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(f.APassword), 4)
	if err != nil {
		t.Fatal(err)
	}
	// bcryptjs writes $2a$; x/crypto writes $2a$ too.
	users := []any{
		// (a) MS auth-service: phone verbatim as typed, bcrypt password.
		bson.D{{Key: "_id", Value: f.A}, {Key: "name", Value: "User"}, {Key: "email", Value: f.AEmail}, {Key: "phone", Value: "9876543210"},
			{Key: "password", Value: string(hash)}, {Key: "age", Value: int32(28)}, {Key: "isVerified", Value: true},
			{Key: "createdAt", Value: at(1)}, {Key: "__v", Value: int32(0)}},
		// (b) MS user-service: profilePhoto URL, location, categories, graph.
		bson.D{{Key: "_id", Value: f.B}, {Key: "name", Value: "Bala"}, {Key: "email", Value: "bala@example.com"}, {Key: "phone", Value: "+91 98765 43211"},
			{Key: "age", Value: 31.0}, {Key: "isVerified", Value: true}, {Key: "bio", Value: "runner"},
			{Key: "profilePhoto", Value: "https://infliq-media.s3.ap-south-1.amazonaws.com/profiles/b.jpg"},
			{Key: "coverPhoto", Value: "https://infliq-media.s3.amazonaws.com/covers/b.jpg"},
			{Key: "location", Value: bson.D{{Key: "type", Value: "Point"}, {Key: "coordinates", Value: bson.A{77.59, 12.97}}}},
			{Key: "categories", Value: bson.A{"sports", "verified"}}, {Key: "followers", Value: bson.A{f.A}},
			{Key: "following", Value: bson.A{f.C, f.Dangling}}, {Key: "postsCount", Value: int32(0)}, {Key: "createdAt", Value: at(2)}, {Key: "__v", Value: int32(3)}},
		// (c) MS _shared/models: default [0,0] location.
		bson.D{{Key: "_id", Value: f.C}, {Key: "name", Value: "Chitra"}, {Key: "phone", Value: "+919876543212"}, {Key: "bio", Value: ""},
			{Key: "profilePhoto", Value: ""}, {Key: "location", Value: bson.D{{Key: "type", Value: "Point"}, {Key: "coordinates", Value: bson.A{0, 0}}}},
			{Key: "categories", Value: bson.A{}}, {Key: "followers", Value: bson.A{f.B}}, {Key: "following", Value: bson.A{}},
			{Key: "isVerified", Value: false}, {Key: "createdAt", Value: at(3)}},
		// (d) M1: plaintext password, profilePicture S3 key, category.
		bson.D{{Key: "_id", Value: f.D}, {Key: "name", Value: "Dev"}, {Key: "email", Value: "dev@example.com"}, {Key: "phone", Value: "+919876543213"},
			{Key: "password", Value: f.DPassword}, {Key: "age", Value: int32(40)}, {Key: "bio", Value: "m1"},
			{Key: "profilePicture", Value: "profiles/d.jpg"}, {Key: "category", Value: "global"},
			{Key: "followers", Value: bson.A{}}, {Key: "following", Value: bson.A{f.A}}, {Key: "createdAt", Value: at(4)}},
		// (e) M2: plaintext password, uploads/ path, blocks.
		bson.D{{Key: "_id", Value: f.E}, {Key: "name", Value: "Esha"}, {Key: "email", Value: "esha@example.com"}, {Key: "phone", Value: "9876543214"},
			{Key: "password", Value: "hunter2"}, {Key: "bio", Value: "m2"}, {Key: "profilePicture", Value: "uploads/e.png"},
			{Key: "category", Value: "music"}, {Key: "followers", Value: bson.A{}}, {Key: "following", Value: bson.A{f.B}},
			{Key: "blockedUsers", Value: bson.A{f.C, f.Dangling}}, {Key: "blockedBy", Value: bson.A{}}, {Key: "createdAt", Value: at(5)}},
		// A newer monolith OTP user holding A's number in the exact E.164
		// form the live backend looks up.
		bson.D{{Key: "_id", Value: f.DupPhone}, {Key: "phone", Value: "+919876543210"}, {Key: "createdAt", Value: at(6)}},
		// Malformed: a string _id, and a name of the wrong type.
		bson.D{{Key: "_id", Value: "not-an-object-id"}, {Key: "name", Value: "Broken"}},
		bson.D{{Key: "_id", Value: oid(at(8))}, {Key: "name", Value: int32(12345)}, {Key: "phone", Value: "+919876543299"}},
	}
	insert(t, db, "users", users)

	f.PostMS, f.PostM1, f.PostDangling = oid(at(10)), oid(at(11)), oid(at(12))
	f.CommentA, f.CommentGhost = oid(at(13)), oid(at(14))
	posts := []any{
		bson.D{{Key: "_id", Value: f.PostMS}, {Key: "userId", Value: f.B}, {Key: "type", Value: "post"}, {Key: "caption", Value: "hello from MS"},
			{Key: "mediaUrl", Value: "https://infliq-media.s3.ap-south-1.amazonaws.com/posts/p1.jpg"},
			{Key: "thumbnailUrl", Value: "https://infliq-media.s3.ap-south-1.amazonaws.com/posts/p1-thumb.jpg"},
			{Key: "likes", Value: bson.A{f.A, f.C, f.Dangling, f.A}},
			{Key: "comments", Value: bson.A{
				bson.D{{Key: "_id", Value: f.CommentA}, {Key: "userId", Value: f.A}, {Key: "text", Value: "nice"}, {Key: "createdAt", Value: at(13)}},
				bson.D{{Key: "_id", Value: f.CommentGhost}, {Key: "userId", Value: f.Dangling}, {Key: "text", Value: "ghost"}, {Key: "createdAt", Value: at(14)}},
				bson.D{{Key: "userId", Value: f.A}, {Key: "text", Value: "no id"}},
			}},
			{Key: "shares", Value: int32(2)}, {Key: "views", Value: int32(10)}, {Key: "createdAt", Value: at(10)}, {Key: "__v", Value: int32(2)}},
		bson.D{{Key: "_id", Value: f.PostM1}, {Key: "userId", Value: f.D}, {Key: "type", Value: "reel"}, {Key: "content", Value: "monolith reel"},
			{Key: "mediaUrl", Value: "posts/p2.mp4"}, {Key: "mediaType", Value: "video"}, {Key: "likes", Value: bson.A{f.B}},
			{Key: "comments", Value: bson.A{}}, {Key: "createdAt", Value: at(11)}},
		bson.D{{Key: "_id", Value: f.PostDangling}, {Key: "userId", Value: f.Dangling}, {Key: "content", Value: "orphan"}, {Key: "createdAt", Value: at(12)}},
		bson.D{{Key: "_id", Value: oid(at(15))}, {Key: "content", Value: "no author"}},
		bson.D{{Key: "_id", Value: oid(at(16))}, {Key: "userId", Value: f.B}, {Key: "type", Value: "tweet"}},
	}
	insert(t, db, "posts", posts)

	f.LiveStory, f.ExpiredStory, f.M2Story = oid(now.Add(-2*time.Hour)), oid(now.Add(-30*time.Hour)), oid(now.Add(-3*time.Hour))
	stories := []any{
		bson.D{{Key: "_id", Value: f.LiveStory}, {Key: "userId", Value: f.B}, {Key: "mediaUrl", Value: "https://infliq-media.s3.ap-south-1.amazonaws.com/stories/s1.jpg"},
			{Key: "mediaType", Value: "image"}, {Key: "caption", Value: "live"}, {Key: "viewers", Value: bson.A{f.A, f.Dangling}},
			{Key: "expiresAt", Value: now.Add(22 * time.Hour)}, {Key: "createdAt", Value: now.Add(-2 * time.Hour)}, {Key: "updatedAt", Value: now.Add(-2 * time.Hour)}},
		bson.D{{Key: "_id", Value: f.ExpiredStory}, {Key: "userId", Value: f.B}, {Key: "mediaUrl", Value: "stories/old.jpg"},
			{Key: "expiresAt", Value: now.Add(-6 * time.Hour)}, {Key: "createdAt", Value: now.Add(-30 * time.Hour)}},
		bson.D{{Key: "_id", Value: f.M2Story}, {Key: "userId", Value: f.E}, {Key: "mediaUrl", Value: "uploads/s3.mp4"}, {Key: "mediaType", Value: "video"},
			{Key: "viewers", Value: bson.A{}}, {Key: "createdAt", Value: now.Add(-3 * time.Hour)}},
	}
	insert(t, db, "stories", stories)

	f.BigChat, f.DupChat, f.GhostChat = oid(at(20)), oid(at(21)), oid(at(22))
	msgs := make(bson.A, 0, BigChatSize+1)
	for i := range BigChatSize {
		ts := at(20).Add(time.Duration(i) * time.Minute)
		m := oid(ts)
		// ObjectIds of one second differ in their counter; keep them unique.
		f.BigChatMessages = append(f.BigChatMessages, m)
		sender := f.A
		if i%2 == 1 {
			sender = f.B
		}
		msgs = append(msgs, bson.D{{Key: "_id", Value: m}, {Key: "senderId", Value: sender}, {Key: "text", Value: fmt.Sprintf("message %d", i)},
			{Key: "type", Value: "text"}, {Key: "createdAt", Value: ts}, {Key: "read", Value: false}})
	}
	msgs = append(msgs, bson.D{{Key: "_id", Value: oid(at(19))}, {Key: "text", Value: "no sender"}})
	last := at(20).Add((BigChatSize - 1) * time.Minute)
	f.Call = oid(at(25))
	chats := []any{
		bson.D{{Key: "_id", Value: f.BigChat}, {Key: "type", Value: "chat"}, {Key: "participants", Value: bson.A{f.A, f.B}}, {Key: "messages", Value: msgs},
			{Key: "lastMessage", Value: fmt.Sprintf("message %d", BigChatSize-1)}, {Key: "lastMessageAt", Value: last}, {Key: "createdAt", Value: at(20)}},
		// The legacy backends created a second chat of the same pair.
		bson.D{{Key: "_id", Value: f.DupChat}, {Key: "type", Value: "chat"}, {Key: "participants", Value: bson.A{f.B, f.A}}, {Key: "messages", Value: bson.A{
			bson.D{{Key: "_id", Value: oid(at(21))}, {Key: "senderId", Value: f.B}, {Key: "text", Value: "Video call started"}, {Key: "type", Value: "call-started"},
				{Key: "callId", Value: f.Call}, {Key: "createdAt", Value: at(21)}},
		}}, {Key: "lastMessageAt", Value: at(21)}, {Key: "createdAt", Value: at(21)}},
		bson.D{{Key: "_id", Value: f.GhostChat}, {Key: "type", Value: "community"}, {Key: "participants", Value: bson.A{f.C, f.Dangling, f.E}},
			{Key: "messages", Value: bson.A{}}, {Key: "createdAt", Value: at(22)}},
		bson.D{{Key: "_id", Value: oid(at(23))}, {Key: "type", Value: "chat"}, {Key: "participants", Value: "not-an-array"}},
	}
	insert(t, db, "chats", chats)

	insert(t, db, "calls", []any{
		bson.D{{Key: "_id", Value: f.Call}, {Key: "callerId", Value: f.B}, {Key: "receiverId", Value: f.A}, {Key: "type", Value: "video"},
			{Key: "status", Value: "ended"}, {Key: "roomName", Value: fmt.Sprintf("room-%s-%s-%d", f.B.Hex(), f.A.Hex(), at(25).UnixMilli())},
			{Key: "startedAt", Value: at(25)}, {Key: "endedAt", Value: at(25).Add(90 * time.Second)}, {Key: "duration", Value: int32(90)}, {Key: "createdAt", Value: at(25)}},
		bson.D{{Key: "_id", Value: oid(at(26))}, {Key: "callerId", Value: f.A}, {Key: "receiverId", Value: f.Dangling}, {Key: "createdAt", Value: at(26)}},
	})
	insert(t, db, "mediauploadaudits", []any{
		bson.D{{Key: "_id", Value: oid(at(27))}, {Key: "userId", Value: f.B.Hex()}, {Key: "ip", Value: "203.0.113.9"}, {Key: "route", Value: "/api/media/upload"},
			{Key: "action", Value: "upload-single"}, {Key: "status", Value: "success"}, {Key: "mimeType", Value: "image/jpeg"}, {Key: "size", Value: int32(1234)},
			{Key: "folder", Value: "posts"}, {Key: "key", Value: "posts/p1.jpg"}, {Key: "metadata", Value: bson.D{{Key: "filesCount", Value: int32(1)}}},
			{Key: "createdAt", Value: at(27)}, {Key: "expiresAt", Value: now.Add(24 * time.Hour)}},
		bson.D{{Key: "_id", Value: oid(at(28))}, {Key: "route", Value: "/api/media/upload"}, {Key: "status", Value: "exploded"}, {Key: "createdAt", Value: at(28)}},
	})
	f.PostReport, f.UserReport = oid(at(29)), oid(at(30))
	insert(t, db, "contentreports", []any{
		bson.D{{Key: "_id", Value: f.PostReport}, {Key: "reporterId", Value: f.A}, {Key: "targetType", Value: "post"}, {Key: "targetId", Value: f.PostMS},
			{Key: "reason", Value: "spam"}, {Key: "status", Value: "pending"}, {Key: "createdAt", Value: at(29)}},
		bson.D{{Key: "_id", Value: f.UserReport}, {Key: "reporterId", Value: f.C}, {Key: "targetType", Value: "user"}, {Key: "targetId", Value: f.E},
			{Key: "reason", Value: "abuse"}, {Key: "details", Value: "rude"}, {Key: "createdAt", Value: at(30)}},
		bson.D{{Key: "_id", Value: oid(at(31))}, {Key: "reporterId", Value: f.A}, {Key: "targetType", Value: "post"}, {Key: "targetId", Value: f.PostM1}, {Key: "reason", Value: ""}},
	})
	return f
}

func insert(t testing.TB, db *mongo.Database, coll string, docs []any) {
	t.Helper()
	if _, err := db.Collection(coll).InsertMany(context.Background(), docs); err != nil {
		t.Fatalf("seed %s: %v", coll, err)
	}
}
