package devstack

import (
	"bytes"
	"io"
	"path/filepath"
	"testing"

	"github.com/johannesboyne/gofakes3/backend/s3bolt"
)

// TestS3CopyWhileGrowing: copies interleaved with writes that grow the bolt
// file (and remap it). Unwrapped, s3bolt reads the copied object's hash
// from the old map after its write and the process faults; wrapped, every
// copy is intact.
func TestS3CopyWhileGrowing(t *testing.T) {
	bolt, err := s3bolt.NewFile(filepath.Join(t.TempDir(), "s3.bolt"))
	if err != nil {
		t.Fatal(err)
	}
	be := &safeBolt{Backend: bolt}
	if err := be.CreateBucket("b"); err != nil {
		t.Fatal(err)
	}
	for i := range 24 {
		body := bytes.Repeat([]byte{byte(i)}, 256<<10*(i%4+1))
		src := "src" + string(rune('a'+i))
		if _, err := be.PutObject("b", src, map[string]string{"Content-Type": "image/png"}, bytes.NewReader(body), int64(len(body)), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := be.CopyObject("b", src, "b", "dst"+src, nil); err != nil {
			t.Fatal(err)
		}
		o, err := be.GetObject("b", "dst"+src, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(o.Contents)
		if !bytes.Equal(got, body) || len(o.Hash) == 0 {
			t.Fatalf("copy %d: %d bytes, hash %x", i, len(got), o.Hash)
		}
	}
}
