package media

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/infliq/infliq/backend/gen/infliq/media/v1/mediav1connect"
	"github.com/infliq/infliq/backend/media/mediatest"
	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/cache/redistest"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
)

const testBucket = mediatest.Bucket

func fakeS3(t testing.TB) config.S3 { return mediatest.FakeS3(t) }

func testMediaConfig() config.Media { return mediatest.Config() }

// env is a running media tier with its dependencies.
type env struct {
	t       testing.TB
	svc     *Service
	st      *Storage
	url     string
	h1, h2c *http.Client
	s3      config.S3
	m       config.Media
}

type envOpt func(*config.Media, *config.S3)

func newEnv(t testing.TB, opts ...envOpt) *env {
	t.Helper()
	s3cfg := fakeS3(t)
	m := testMediaConfig()
	for _, o := range opts {
		o(&m, &s3cfg)
	}
	st, err := NewStorage(context.Background(), s3cfg, StorageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pool := pgtest.New(t)
	rdb := redistest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	d := tiertest.Deps()
	deps := Deps{Media: m, S3: s3cfg, Storage: st, DB: pool, Redis: rdb, FFmpeg: "-"}
	tr := NewTier(ctx, d, deps)
	url, h2c, h1 := tiertest.Serve(t, tr.Handler())
	return &env{t: t, svc: New(d, deps), st: st, url: url, h1: h1, h2c: h2c, s3: s3cfg, m: m}
}

// client returns a MediaService client for uid (gRPC when grpc is set).
func (e *env) client(uid id.ID, grpc bool) mediav1connect.MediaServiceClient {
	opts := []connect.ClientOption{tiertest.Bearer(tiertest.Token(e.t, uid))}
	hc := e.h1
	if grpc {
		opts = append(opts, connect.WithGRPC())
		hc = e.h2c
	}
	return mediav1connect.NewMediaServiceClient(hc, e.url, opts...)
}

func (e *env) adminClient(uid id.ID) mediav1connect.MediaServiceClient {
	tok, _, err := authn.NewIssuer(tiertest.Secret, "infliq", "infliq-app", time.Hour).IssueAccess(authn.AccessToken{UserID: uid, Admin: true}, time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return mediav1connect.NewMediaServiceClient(e.h1, e.url, tiertest.Bearer(tok))
}

// formPart is one part of a multipart body.
type formPart struct {
	field, filename, contentType string
	body                         []byte
}

func multipartBody(t testing.TB, parts ...formPart) (*bytes.Buffer, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		if p.filename != "" {
			h.Set("Content-Disposition", `form-data; name="`+p.field+`"; filename="`+p.filename+`"`)
			h.Set("Content-Type", p.contentType)
		} else {
			h.Set("Content-Disposition", `form-data; name="`+p.field+`"`)
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(p.body)
	}
	_ = mw.Close()
	return &b, mw.FormDataContentType()
}

// testJPEG encodes a w×h JPEG, optionally with an EXIF APP1 segment
// holding a GPS marker string and the given orientation.
func testJPEG(t testing.TB, w, h int, exifOrientation int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y += 7 {
		for x := 0; x < w; x += 5 {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 90, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 70}); err != nil {
		t.Fatal(err)
	}
	raw := b.Bytes()
	if exifOrientation == 0 {
		return raw
	}
	// IFD0 with Orientation and a GPSInfo-looking tag, plus a marker string.
	tiff := []byte{'I', 'I', 42, 0, 8, 0, 0, 0, 2, 0,
		0x12, 0x01, 3, 0, 1, 0, 0, 0, byte(exifOrientation), 0, 0, 0,
		0x25, 0x88, 4, 0, 1, 0, 0, 0, 38, 0, 0, 0,
		0, 0, 0, 0}
	tiff = append(tiff, []byte("GPS-SECRET-LAT-48.8584")...)
	body := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xFF, 0xE1, byte((len(body) + 2) >> 8), byte(len(body) + 2)}
	out := append([]byte{}, raw[:2]...)
	out = append(out, seg...)
	out = append(out, body...)
	return append(out, raw[2:]...)
}

func testPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// mp4Header is the start of an ISO BMFF file with brand.
func mp4Header(brand string) []byte {
	b := []byte{0, 0, 0, 0x20, 'f', 't', 'y', 'p'}
	b = append(b, brand...)
	b = append(b, 0, 0, 2, 0)
	b = append(b, "isomiso2avc1mp41"...)
	return append(b, 0, 0, 0, 8, 'f', 'r', 'e', 'e')
}

type (
	configMedia = config.Media
	configS3    = config.S3
)

func decodeConfig(b []byte) (image.Config, string, error) {
	return image.DecodeConfig(bytes.NewReader(b))
}
