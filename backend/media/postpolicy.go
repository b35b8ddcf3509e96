package media

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// PostPolicy is a presigned S3 POST: the browser-style form upload whose
// signed policy pins the key, the content type and the size range.
// aws-sdk-go-v2 has no helper for it, so it is built here (SigV4, "POST
// policy" flavour: the signature covers the base64 policy document).
type PostPolicy struct {
	URL     string
	Fields  map[string]string
	Expires time.Time
}

// PostPolicyInput says what the upload may be.
type PostPolicyInput struct {
	Key         string
	ContentType string
	MinSize     int64
	MaxSize     int64
	TTL         time.Duration
	// DeclaredSize, when set, is pinned as the object's metadata
	// (DeclaredSizeMeta) so CompleteUpload can refuse a short object even
	// where the store does not enforce content-length-range.
	DeclaredSize int64
}

// DeclaredSizeMeta is the user-metadata key holding the size CreateUpload declared.
const DeclaredSizeMeta = "declared-size"

// PresignPost signs a POST policy for in at now.
func (s *Storage) PresignPost(ctx context.Context, in PostPolicyInput, now time.Time) (PostPolicy, error) {
	creds, err := s.creds.Retrieve(ctx)
	if err != nil {
		return PostPolicy{}, err
	}
	return signPostPolicy(creds, s.region, s.bucket, s.postURL(), in, now)
}

func (s *Storage) postURL() string {
	if s.postEndpoint != "" {
		return strings.TrimRight(s.postEndpoint, "/") + "/" + s.bucket
	}
	if s.pathStyle {
		return strings.TrimRight(s.endpoint, "/") + "/" + s.bucket
	}
	return s.endpoint
}

func signPostPolicy(creds aws.Credentials, region, bucket, url string, in PostPolicyInput, now time.Time) (PostPolicy, error) {
	now = now.UTC()
	date := now.Format("20060102")
	amzDate := now.Format("20060102T150405Z")
	credential := creds.AccessKeyID + "/" + date + "/" + region + "/s3/aws4_request"
	expires := now.Add(in.TTL)
	conds := []any{
		map[string]string{"bucket": bucket},
		[]any{"eq", "$key", in.Key},
		[]any{"eq", "$Content-Type", in.ContentType},
		[]any{"content-length-range", in.MinSize, in.MaxSize},
		map[string]string{"x-amz-algorithm": "AWS4-HMAC-SHA256"},
		map[string]string{"x-amz-credential": credential},
		map[string]string{"x-amz-date": amzDate},
	}
	if creds.SessionToken != "" {
		conds = append(conds, map[string]string{"x-amz-security-token": creds.SessionToken})
	}
	if in.DeclaredSize > 0 {
		conds = append(conds, map[string]string{"x-amz-meta-" + DeclaredSizeMeta: strconv.FormatInt(in.DeclaredSize, 10)})
	}
	doc, err := json.Marshal(map[string]any{"expiration": expires.Format("2006-01-02T15:04:05.000Z"), "conditions": conds})
	if err != nil {
		return PostPolicy{}, err
	}
	policy := base64.StdEncoding.EncodeToString(doc)
	fields := map[string]string{
		"key":              in.Key,
		"Content-Type":     in.ContentType,
		"policy":           policy,
		"x-amz-algorithm":  "AWS4-HMAC-SHA256",
		"x-amz-credential": credential,
		"x-amz-date":       amzDate,
		"x-amz-signature":  hex.EncodeToString(hmacSHA256(signingKey(creds.SecretAccessKey, date, region), policy)),
	}
	if creds.SessionToken != "" {
		fields["x-amz-security-token"] = creds.SessionToken
	}
	if in.DeclaredSize > 0 {
		// Field names are case-insensitive to S3; some stores (gofakes3)
		// keep metadata only in the canonical header case.
		fields["X-Amz-Meta-Declared-Size"] = strconv.FormatInt(in.DeclaredSize, 10)
	}
	return PostPolicy{URL: url, Fields: fields, Expires: expires}, nil
}

// signingKey derives the SigV4 key for (date, region, s3).
func signingKey(secret, date, region string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, "s3")
	return hmacSHA256(k, "aws4_request")
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}
