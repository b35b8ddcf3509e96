package tier_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5/pgconn"

	mediav1 "github.com/infliq/infliq/backend/gen/infliq/media/v1"
	"github.com/infliq/infliq/backend/gen/infliq/media/v1/mediav1connect"
	"github.com/infliq/infliq/backend/platform/tier"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
)

// leaky fails the way real handlers and their dependencies do.
type leaky struct {
	mediav1connect.UnimplementedMediaServiceHandler
}

func (leaky) GetUploadPolicy(context.Context, *connect.Request[mediav1.GetUploadPolicyRequest]) (*connect.Response[mediav1.GetUploadPolicyResponse], error) {
	return nil, &pgconn.PgError{Code: "23505", Message: `duplicate key value violates unique constraint "media_objects_pkey"`}
}

func (leaky) CreateUpload(context.Context, *connect.Request[mediav1.CreateUploadRequest]) (*connect.Response[mediav1.CreateUploadResponse], error) {
	// What a Connect client returns when a sibling tier is down.
	return nil, connect.NewError(connect.CodeUnavailable, fmt.Errorf("dial tcp 127.0.0.1:3002: connect: connection refused"))
}

func (leaky) ListMedia(context.Context, *connect.Request[mediav1.ListMediaRequest]) (*connect.Response[mediav1.ListMediaResponse], error) {
	// A sibling's answer that the client could not decode.
	return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("unmarshal into *userv1.GetUserResponse: proto: cannot parse invalid wire-format data"))
}

func (leaky) DeleteMedia(context.Context, *connect.Request[mediav1.DeleteMediaRequest]) (*connect.Response[mediav1.DeleteMediaResponse], error) {
	return nil, fmt.Errorf("scan row: %w", &json.UnmarshalTypeError{Value: "string", Type: reflect.TypeOf(0), Field: "size"})
}

func (leaky) GetSignedUrl(context.Context, *connect.Request[mediav1.GetSignedUrlRequest]) (*connect.Response[mediav1.GetSignedUrlResponse], error) {
	var m map[string]int
	m["boom"]++ // panics: assignment to entry in nil map
	return nil, nil
}

// goText matches what must never reach a client: Go type names, parser,
// driver and network text, panics.
var goText = regexp.MustCompile(`[a-z0-9]+v1\.[A-Z]|\*[a-z]+\.|proto:|pgconn|SQLSTATE|duplicate key|dial tcp|connection refused|runtime error|nil map|unmarshal into|json:|reflect|\.go:\d`)

// TestConnectErrorsAreClientSafe provokes internal failures and decoding
// errors over every protocol and checks no message carries Go type names or
// driver text.
func TestConnectErrorsAreClientSafe(t *testing.T) {
	tr := tier.New("media", tiertest.Deps())
	path, h := mediav1connect.NewMediaServiceHandler(leaky{}, tr.ConnectOptions()...)
	tr.Mount(path, h, mediav1connect.MediaServiceName,
		mediav1connect.MediaServiceGetUploadPolicyProcedure, mediav1connect.MediaServiceCreateUploadProcedure,
		mediav1connect.MediaServiceListMediaProcedure, mediav1connect.MediaServiceDeleteMediaProcedure,
		mediav1connect.MediaServiceGetSignedUrlProcedure)
	base, h2c, h1 := tiertest.Serve(t, tr.Handler())
	ctx := context.Background()
	check := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: no error", what)
			return
		}
		if msg := connect.NewError(connect.CodeOf(err), err).Message(); goText.MatchString(msg) {
			t.Errorf("%s: message leaks internals: %q", what, msg)
		}
	}
	for name, c := range map[string]mediav1connect.MediaServiceClient{
		"connect":  mediav1connect.NewMediaServiceClient(h1, base),
		"grpc":     mediav1connect.NewMediaServiceClient(h2c, base, connect.WithGRPC()),
		"grpc-web": mediav1connect.NewMediaServiceClient(h1, base, connect.WithGRPCWeb()),
	} {
		_, err := c.GetUploadPolicy(ctx, connect.NewRequest(&mediav1.GetUploadPolicyRequest{}))
		check(name+" driver error", err)
		_, err = c.CreateUpload(ctx, connect.NewRequest(&mediav1.CreateUploadRequest{ContentType: "image/png", SizeBytes: 1}))
		check(name+" sibling down", err)
		_, err = c.ListMedia(ctx, connect.NewRequest(&mediav1.ListMediaRequest{}))
		check(name+" sibling decoding", err)
		_, err = c.DeleteMedia(ctx, connect.NewRequest(&mediav1.DeleteMediaRequest{Key: "general/x.png"}))
		check(name+" wrapped Go error", err)
		_, err = c.GetSignedUrl(ctx, connect.NewRequest(&mediav1.GetSignedUrlRequest{Key: "general/x.png"}))
		check(name+" panic", err)
	}
	// Bodies the codecs refuse, as raw requests.
	for _, tc := range []struct{ ct, body string }{
		{"application/json", `{"contentType": 5, "sizeBytes": "x"}`},
		{"application/json", `not json`},
		{"application/json", `{"folder": "\u0000", "sizeBytes": -`},
		{"application/json; charset=utf-8", `[]`},
		{"application/proto", "\xff\xff\xff\xff"},
		{"application/grpc-web+proto", "\x00\x00\x00\x00\x04\xff\xff\xff\xff"},
		{"application/grpc-web+json", "\x00\x00\x00\x00\x02{x"},
	} {
		res, err := h1.Post(base+mediav1connect.MediaServiceCreateUploadProcedure, tc.ct, strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		text := string(raw) + " " + res.Header.Get("Grpc-Message") + " " + res.Trailer.Get("Grpc-Message")
		if strings.Contains(tc.ct, "grpc-web") {
			text += " " + string(raw) // trailers are in the body
		}
		if res.StatusCode >= 500 || goText.MatchString(text) {
			t.Errorf("%s %q: %d %s", tc.ct, tc.body, res.StatusCode, text)
		}
	}
}

// TestTierPortCutsSlowBodies: a tier port reached directly (not through the
// gateway) also ends an RPC whose body trickles in past BODY_READ_TIMEOUT.
func TestTierPortCutsSlowBodies(t *testing.T) {
	d := tiertest.Deps()
	d.BodyReadTimeout = 300 * time.Millisecond
	tr := tier.New("media", d)
	path, h := mediav1connect.NewMediaServiceHandler(leaky{}, tr.ConnectOptions()...)
	tr.Mount(path, h, mediav1connect.MediaServiceName, mediav1connect.MediaServiceCreateUploadProcedure)
	base, _, _ := tiertest.Serve(t, tr.Handler())
	tick, status := tiertest.Trickle(t, base, "POST "+mediav1connect.MediaServiceCreateUploadProcedure+
		" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{")
	if tick < 0 {
		t.Fatal("a trickling body held the tier's connection for the whole run")
	}
	if strings.Contains(status, " 200 ") {
		t.Fatalf("answered %q", status)
	}
}
