package importer

import (
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/mediaurl"
)

// The CPU side of the import: decoding and normalising one legacy document
// into rows (no I/O).
func benchDecode(b *testing.B, j job, d bson.D) {
	raw, err := bson.Marshal(d)
	if err != nil {
		b.Fatal(err)
	}
	r := &run{Options: Options{Media: mediaurl.New(config.S3{Bucket: "infliq-media"}), DefaultCC: "+91"}, sum: &Summary{}, now: time.Now(), plan: &userPlan{}}
	b.ReportAllocs()
	bt := newBatch(map[string]string{})
	for i := 0; b.Loop(); i++ {
		if i%1000 == 0 {
			bt = newBatch(map[string]string{})
		}
		r.decode(j, bt, raw)
	}
}

func BenchmarkDecodeUser(b *testing.B) {
	o := bson.NewObjectID()
	follows := bson.A{}
	for range 10 {
		follows = append(follows, bson.NewObjectID())
	}
	benchDecode(b, usersJob(), bson.D{{Key: "_id", Value: o}, {Key: "name", Value: "Bala"}, {Key: "phone", Value: "+91 98765 43211"},
		{Key: "email", Value: "bala@example.com"}, {Key: "password", Value: "$2a$10$abcdefghijklmnopqrstuuZ0cW9sQ0Rkz7nJ5l8o0n1Yk6v1Q5e2W"},
		{Key: "profilePhoto", Value: "https://infliq-media.s3.ap-south-1.amazonaws.com/profiles/b.jpg"},
		{Key: "location", Value: bson.D{{Key: "type", Value: "Point"}, {Key: "coordinates", Value: bson.A{77.59, 12.97}}}},
		{Key: "categories", Value: bson.A{"sports"}}, {Key: "followers", Value: follows}, {Key: "following", Value: follows},
		{Key: "createdAt", Value: time.Now()}})
}

func BenchmarkDecodeChat100(b *testing.B) {
	ms := bson.A{}
	a, z := bson.NewObjectID(), bson.NewObjectID()
	for i := range 100 {
		ms = append(ms, bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "senderId", Value: a},
			{Key: "text", Value: fmt.Sprintf("message %d", i)}, {Key: "type", Value: "text"}, {Key: "createdAt", Value: time.Now()}})
	}
	benchDecode(b, chatsJob(), bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "type", Value: "chat"},
		{Key: "participants", Value: bson.A{a, z}}, {Key: "messages", Value: ms}, {Key: "createdAt", Value: time.Now()}})
}
