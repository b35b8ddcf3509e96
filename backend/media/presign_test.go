package media

import (
	"context"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/infliq/infliq/backend/platform/config"
)

// TestPresignMatchesSDK checks the hand-rolled GET presign against the
// SDK's SigV4 signer for the same inputs and time.
func TestPresignMatchesSDK(t *testing.T) {
	now := time.Date(2026, 11, 27, 1, 2, 3, 0, time.UTC)
	for _, c := range []struct {
		endpoint  string
		pathStyle bool
		key       string
		token     string
	}{
		{"http://127.0.0.1:9000", true, "posts/65a0c0ffee0000000000beef/abc.jpg", ""},
		{"https://b.s3.eu-west-1.amazonaws.com", false, "1700000000000-my photo(1)+ü.jpg", "sess/tok=="},
	} {
		g := newGetSigner(c.endpoint, "eu-west-1", "b", c.pathStyle)
		creds := aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "SECRET", SessionToken: c.token}
		got := g.presign(creds, c.key, 15*time.Minute, now)
		gu, err := url.Parse(got)
		if err != nil {
			t.Fatal(err)
		}
		// Reference: the SDK signer over the same URL without the signature.
		ref := *gu
		q := ref.Query()
		q.Del("X-Amz-Signature")
		for _, k := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Security-Token"} {
			q.Del(k)
		}
		ref.RawQuery = q.Encode()
		req, _ := http.NewRequest("GET", ref.String(), nil)
		signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
		want, _, err := signer.PresignHTTP(context.Background(), creds, req, "UNSIGNED-PAYLOAD", "s3", "eu-west-1", now)
		if err != nil {
			t.Fatal(err)
		}
		wu, _ := url.Parse(want)
		if gs, ws := gu.Query().Get("X-Amz-Signature"), wu.Query().Get("X-Amz-Signature"); gs == "" || gs != ws {
			t.Fatalf("signature mismatch for %q:\n got  %s\n want %s", c.key, got, want)
		}
		if gu.EscapedPath() != wu.EscapedPath() || gu.Host != wu.Host {
			t.Fatalf("url mismatch:\n got  %s\n want %s", got, want)
		}
	}
}

func TestPresignedGetWorksAgainstS3(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	key := "posts/65a0c0ffee0000000000beef/a b+c.png"
	if err := e.st.Put(ctx, key, "image/png", testPNG(t, 2, 2)); err != nil {
		t.Fatal(err)
	}
	sdk := func(ctx context.Context, key string, ttl time.Duration) (string, error) {
		req, err := s3.NewPresignClient(e.st.client).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &e.st.bucket, Key: &key}, s3.WithPresignExpires(ttl))
		if err != nil {
			return "", err
		}
		return req.URL, nil
	}
	for _, sign := range []func(context.Context, string, time.Duration) (string, error){e.st.PresignGet, sdk} {
		u, err := sign(ctx, key, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		res, body := e.get(u)
		if res.StatusCode != 200 || len(body) == 0 {
			t.Fatalf("GET %s: %d", u, res.StatusCode)
		}
	}
}

// TestPayloadSigning: over TLS object bytes go unsigned (no second SHA-256
// pass); over plain HTTP they stay hashed into the signature.
func TestPayloadSigning(t *testing.T) {
	var got atomic.Value
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get("X-Amz-Content-Sha256"))
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("ETag", `"x"`)
	})
	tlsSrv := httptest.NewTLSServer(h)
	defer tlsSrv.Close()
	pemFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CA_BUNDLE", pemFile)
	plainSrv := httptest.NewServer(h)
	defer plainSrv.Close()
	for _, c := range []struct {
		url      string
		unsigned bool
	}{{tlsSrv.URL, true}, {plainSrv.URL, false}} {
		st, err := NewStorage(context.Background(), config.S3{AccessKeyID: "a", SecretAccessKey: "b", Region: "us-east-1", Bucket: "bk", Endpoint: c.url, ForcePathStyle: true}, StorageOptions{MaxPartBuffers: 1})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Put(context.Background(), "k", "image/png", []byte("abc")); err != nil {
			t.Fatalf("%s: %v", c.url, err)
		}
		v, _ := got.Load().(string)
		if (v == "UNSIGNED-PAYLOAD") != c.unsigned || v == "" {
			t.Fatalf("%s: X-Amz-Content-Sha256 = %q", c.url, v)
		}
	}
}
