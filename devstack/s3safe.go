package devstack

import (
	"bytes"
	"io"
	"maps"
	"sync"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3bolt"
)

// safeBolt makes the dev S3's bolt store safe to read while it is written.
// s3bolt's GetObject returns slices of bolt's memory map (contents and
// hash) after its read transaction ends; a write that grows the file
// remaps it, and a later read of those slices faults (SIGSEGV, the whole
// process: every CopyObject, as a legacy upload does, read them after its
// own write). Reads copy everything out under a read lock, writes take the
// write lock, and CopyObject is a safe read followed by a write.
type safeBolt struct {
	*s3bolt.Backend
	mu sync.RWMutex
}

func (b *safeBolt) read(get func() (*gofakes3.Object, error)) (*gofakes3.Object, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	o, err := get()
	if err != nil {
		return nil, err
	}
	var data []byte
	if o.Contents != nil {
		if data, err = io.ReadAll(o.Contents); err != nil {
			return nil, err
		}
		_ = o.Contents.Close()
	}
	c := *o
	c.Contents = io.NopCloser(bytes.NewReader(data))
	c.Hash = bytes.Clone(o.Hash)
	c.Metadata = maps.Clone(o.Metadata)
	return &c, nil
}

func (b *safeBolt) GetObject(bucket, name string, rr *gofakes3.ObjectRangeRequest) (*gofakes3.Object, error) {
	return b.read(func() (*gofakes3.Object, error) { return b.Backend.GetObject(bucket, name, rr) })
}

func (b *safeBolt) HeadObject(bucket, name string) (*gofakes3.Object, error) {
	return b.read(func() (*gofakes3.Object, error) { return b.Backend.HeadObject(bucket, name) })
}

func (b *safeBolt) ListBucket(name string, prefix *gofakes3.Prefix, page gofakes3.ListBucketPage) (*gofakes3.ObjectList, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.Backend.ListBucket(name, prefix, page)
}

func (b *safeBolt) PutObject(bucket, name string, meta map[string]string, input io.Reader, size int64, cond *gofakes3.PutConditions) (gofakes3.PutObjectResult, error) {
	// Read the body before locking: it may be a slow client.
	data, err := gofakes3.ReadAll(input, size)
	if err != nil {
		return gofakes3.PutObjectResult{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Backend.PutObject(bucket, name, meta, bytes.NewReader(data), size, cond)
}

func (b *safeBolt) CopyObject(srcBucket, srcKey, dstBucket, dstKey string, meta map[string]string) (gofakes3.CopyObjectResult, error) {
	return gofakes3.CopyObject(b, srcBucket, srcKey, dstBucket, dstKey, meta)
}

func (b *safeBolt) DeleteObject(bucket, name string) (gofakes3.ObjectDeleteResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Backend.DeleteObject(bucket, name)
}

func (b *safeBolt) DeleteMulti(bucket string, objects ...string) (gofakes3.MultiDeleteResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Backend.DeleteMulti(bucket, objects...)
}

func (b *safeBolt) CreateBucket(name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Backend.CreateBucket(name)
}

func (b *safeBolt) DeleteBucket(name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Backend.DeleteBucket(name)
}

func (b *safeBolt) ForceDeleteBucket(name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Backend.ForceDeleteBucket(name)
}
