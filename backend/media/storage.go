package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/mediaurl"
)

// PartSize is the size of one streamed multipart part (S3's minimum is 5 MiB).
const PartSize = 5 << 20

// ErrTooLarge is returned when a streamed body exceeds its limit.
var ErrTooLarge = errors.New("media: body exceeds the size limit")

// Storage is the S3 bucket holding every object. Objects are private; reads
// go through presigned URLs.
type Storage struct {
	client *s3.Client
	bucket string
	region string
	creds  aws.CredentialsProvider
	// endpoint is the base URL for presigned POSTs.
	endpoint string
	// postEndpoint, when set, replaces endpoint in presigned POST URLs
	// (the development stack's gateway proxy; see config.S3.PostEndpoint).
	postEndpoint string
	pathStyle    bool
	// parts bounds the part buffers alive at once across all uploads, so
	// peak memory is parts*PartSize whatever the number of uploads.
	parts  chan []byte
	signer *getSigner
	// bodyOpts apply to calls carrying object bytes: over TLS the payload
	// is sent unsigned (TLS protects it) instead of hashed once more for
	// SigV4, which cost a quarter of the upload path's CPU.
	bodyOpts []func(*s3.Options)
}

// StorageOptions tune a Storage.
type StorageOptions struct {
	// MaxPartBuffers bounds concurrent part buffers (default 12 → 60 MiB).
	MaxPartBuffers int
}

// NewStorage connects to the bucket cfg names. Static credentials are used
// when set, otherwise the default AWS chain (env, profile, instance role).
func NewStorage(ctx context.Context, cfg config.S3, o StorageOptions) (*Storage, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("media: S3_BUCKET is not set")
	}
	if o.MaxPartBuffers <= 0 {
		o.MaxPartBuffers = 12
	}
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRegion(region),
		// A buildable client (not a plain *http.Client) so AWS_CA_BUNDLE
		// still applies; pooled like every other upstream client.
		awsconfig.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConns, t.MaxIdleConnsPerHost = 1024, 512
		})),
		// Checksums only when S3 requires them: they cost a full extra pass
		// over every part and S3-compatible stores handle them unevenly.
		awsconfig.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		awsconfig.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, "")))
	}
	ac, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("media: aws config: %w", err)
	}
	client := s3.NewFromConfig(ac, func(so *s3.Options) {
		if cfg.Endpoint != "" {
			so.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		so.UsePathStyle = cfg.ForcePathStyle
	})
	endpoint := cfg.Endpoint
	if endpoint == "" {
		endpoint = "https://s3." + region + ".amazonaws.com"
		if !cfg.ForcePathStyle {
			endpoint = "https://" + cfg.Bucket + ".s3." + region + ".amazonaws.com"
		}
	}
	st := &Storage{
		client: client, bucket: cfg.Bucket, region: region,
		creds: ac.Credentials, endpoint: endpoint, pathStyle: cfg.ForcePathStyle || cfg.Endpoint != "",
		parts: make(chan []byte, o.MaxPartBuffers), postEndpoint: cfg.PostEndpoint,
	}
	st.signer = newGetSigner(endpoint, region, cfg.Bucket, st.pathStyle)
	if strings.HasPrefix(endpoint, "https://") {
		st.bodyOpts = []func(*s3.Options){s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)}
	}
	for range o.MaxPartBuffers {
		st.parts <- nil // allocated lazily
	}
	return st, nil
}

// Bucket is the bucket name.
func (s *Storage) Bucket() string { return s.bucket }

// Ping checks the bucket is reachable.
func (s *Storage) Ping(ctx context.Context) error {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket})
	return err
}

// PresignGet returns a GET URL for key valid for ttl.
func (s *Storage) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error) {
	creds, err := s.creds.Retrieve(ctx)
	if err != nil {
		return "", err
	}
	return s.signer.presign(creds, key, ttl, time.Now()), nil
}

// Head returns the size and content type of key; found is false when absent.
func (s *Storage) Head(ctx context.Context, key string) (size int64, contentType string, found bool, err error) {
	o, found, err := s.Stat(ctx, key)
	return o.Size, o.ContentType, found, err
}

// ObjectInfo is what HEAD tells about an object.
type ObjectInfo struct {
	Size        int64
	ContentType string
	// DeclaredSize is the size pinned by the presigned POST; 0 if none.
	DeclaredSize int64
}

// Stat is Head with the object's declared size.
func (s *Storage) Stat(ctx context.Context, key string) (ObjectInfo, bool, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		if isNotFound(err) {
			return ObjectInfo{}, false, nil
		}
		return ObjectInfo{}, false, err
	}
	o := ObjectInfo{Size: aws.ToInt64(out.ContentLength), ContentType: aws.ToString(out.ContentType)}
	for k, v := range out.Metadata {
		if strings.EqualFold(k, DeclaredSizeMeta) {
			o.DeclaredSize, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return o, true, nil
}

// Open streams key from offset 0; the caller closes the body.
func (s *Storage) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return nil, err
	}
	return out.Body, nil
}

// ReadPrefix returns up to n leading bytes of key.
func (s *Storage) ReadPrefix(ctx context.Context, key string, n int) ([]byte, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key, Range: aws.String(fmt.Sprintf("bytes=0-%d", n-1))})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(io.LimitReader(out.Body, int64(n)))
}

// Put stores a small object from memory.
func (s *Storage) Put(ctx context.Context, key, contentType string, b []byte) error {
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &s.bucket, Key: &key, Body: bytes.NewReader(b), ContentType: &contentType,
		ContentLength: aws.Int64(int64(len(b))),
	}, s.bodyOpts...)
	return err
}

// Delete removes key; deleting an absent key succeeds.
func (s *Storage) Delete(ctx context.Context, keys ...string) error {
	for _, k := range keys {
		if k == "" {
			continue
		}
		if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &k}); err != nil && !isNotFound(err) {
			return err
		}
	}
	return nil
}

// Upload streams r to key without holding more than one part of it in
// memory. It stops with ErrTooLarge as soon as more than max bytes arrive and
// then aborts the multipart upload, so no partial object remains. Bodies that
// fit in one part are sent with a single PutObject.
func (s *Storage) Upload(ctx context.Context, key, contentType string, r io.Reader, max int64) (int64, error) {
	// Most uploads are small: try a pooled 256 KiB buffer first and take a
	// 5 MiB part buffer only for bodies that outgrow it.
	sp := smallBufs.Get().(*[]byte)
	defer smallBufs.Put(sp)
	small := *sp
	n, err := readFull(r, small)
	if err != nil {
		return 0, err
	}
	if n < len(small) {
		if int64(n) > max {
			return 0, ErrTooLarge
		}
		return int64(n), s.Put(ctx, key, contentType, small[:n])
	}
	buf, err := s.acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer s.release(buf)
	copy(buf, small)
	m, err := readFull(r, buf[n:])
	if err != nil {
		return 0, err
	}
	n += m
	if int64(n) > max {
		return 0, ErrTooLarge
	}
	if n < len(buf) { // the whole body fits in one part
		return int64(n), s.Put(ctx, key, contentType, buf[:n])
	}
	mp, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &s.bucket, Key: &key, ContentType: &contentType})
	if err != nil {
		return 0, err
	}
	total, err := s.uploadParts(ctx, mp.UploadId, key, r, buf, n, max)
	if err != nil {
		// Abort on a fresh context: the request's may be what failed.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: &key, UploadId: mp.UploadId})
		return 0, err
	}
	return total, nil
}

// smallBufs hold the first 256 KiB of every upload.
var smallBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

func (s *Storage) uploadParts(ctx context.Context, uploadID *string, key string, r io.Reader, buf []byte, n int, max int64) (int64, error) {
	var parts []types.CompletedPart
	var total int64
	for num := int32(1); ; num++ {
		total += int64(n)
		if total > max {
			return 0, ErrTooLarge
		}
		out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: &s.bucket, Key: &key, UploadId: uploadID, PartNumber: aws.Int32(num),
			Body: bytes.NewReader(buf[:n]), ContentLength: aws.Int64(int64(n)),
		}, s.bodyOpts...)
		if err != nil {
			return 0, err
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
		if n < len(buf) {
			break
		}
		if n, err = readFull(r, buf); err != nil {
			return 0, err
		}
		if n == 0 {
			break
		}
	}
	_, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &s.bucket, Key: &key, UploadId: uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	return total, err
}

// readFull fills buf unless the reader ends first; EOF is not an error.
func readFull(r io.Reader, buf []byte) (int, error) {
	// Only a clean end (io.EOF) ends the body early. io.ErrUnexpectedEOF
	// is a truncated source (a multipart part without its closing boundary,
	// a client that hung up) and must fail the upload, not store a prefix.
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// ErrBusy is returned when no part buffer frees up in time.
var ErrBusy = errors.New("media: upload capacity exhausted")

// acquireWait bounds how long an upload waits for a part buffer.
const acquireWait = 20 * time.Second

func (s *Storage) acquire(ctx context.Context) ([]byte, error) {
	t := time.NewTimer(acquireWait)
	defer t.Stop()
	select {
	case b := <-s.parts:
		if b == nil {
			b = make([]byte, PartSize)
		}
		return b, nil
	case <-t.C:
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *Storage) release(b []byte) { s.parts <- b }

func isNotFound(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NotFound", "NoSuchKey", "NoSuchUpload", "404":
			return true
		}
	}
	var nf *types.NotFound
	var nk *types.NoSuchKey
	return errors.As(err, &nf) || errors.As(err, &nk)
}

// Copy copies src to dst inside the bucket.
func (s *Storage) Copy(ctx context.Context, src, dst string) error {
	_, err := s.client.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: &s.bucket, Key: &dst, CopySource: aws.String(s.bucket + "/" + mediaurl.EscapeKey(src)),
	})
	return err
}
