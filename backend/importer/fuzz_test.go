package importer

import (
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/mediaurl"
)

// FuzzDecode feeds arbitrary documents to every collection's decoder:
// whatever the bytes, a document is rows or a counted rejection, never a
// panic.
func FuzzDecode(f *testing.F) {
	oid := bson.NewObjectID()
	for _, d := range []bson.D{
		{{Key: "_id", Value: oid}, {Key: "name", Value: "x"}, {Key: "phone", Value: "98765 43210"}, {Key: "password", Value: "plain"},
			{Key: "followers", Value: bson.A{oid, "zz", 3}}, {Key: "location", Value: bson.D{{Key: "coordinates", Value: bson.A{1.5, "x"}}}}},
		{{Key: "_id", Value: oid}, {Key: "userId", Value: oid.Hex()}, {Key: "comments", Value: bson.A{bson.D{{Key: "_id", Value: 1}}, "x"}}},
		{{Key: "_id", Value: oid}, {Key: "participants", Value: bson.A{oid}}, {Key: "messages", Value: bson.A{bson.D{{Key: "_id", Value: oid}, {Key: "senderId", Value: oid}}}}},
		{{Key: "_id", Value: oid}, {Key: "createdAt", Value: "2024-01-01T00:00:00Z"}, {Key: "expiresAt", Value: 1.7e12}, {Key: "metadata", Value: bson.D{{Key: "a", Value: bson.A{1}}}}},
		{{Key: "_id", Value: "nope"}},
	} {
		b, _ := bson.Marshal(d)
		f.Add(b)
	}
	f.Add([]byte{5, 0, 0, 0, 0})
	f.Add([]byte("garbage"))
	r := &run{Options: Options{Media: mediaurl.New(config.S3{Bucket: "b"}), DefaultCC: "+91"}, sum: &Summary{}, now: time.Now(), plan: &userPlan{}}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, j := range jobs() {
			if j.build == nil {
				continue
			}
			b := newBatch(map[string]string{})
			r.decode(j, b, bson.Raw(raw))
			if st := b.st(j.name); st.Read != 1 {
				t.Fatalf("%s: read %d", j.name, st.Read)
			}
		}
	})
}
