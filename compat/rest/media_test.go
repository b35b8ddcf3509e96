package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/infliq/infliq/backend/gateway"
	"github.com/infliq/infliq/backend/media"
	"github.com/infliq/infliq/backend/media/mediatest"
	"github.com/infliq/infliq/backend/platform/cache/redistest"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/httpx"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/logx"
	"github.com/infliq/infliq/backend/platform/metrics"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
)

// startMedia runs a media tier (fake S3, real PostgreSQL and Redis) on
// loopback and returns its base URL.
func startMedia(t *testing.T, tweak func(*config.Media)) string {
	t.Helper()
	s3cfg := mediatest.FakeS3(t)
	m := mediatest.Config()
	if tweak != nil {
		tweak(&m)
	}
	st, err := media.NewStorage(context.Background(), s3cfg, media.StorageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	tr := media.NewTier(ctx, tiertest.Deps(), media.Deps{Media: m, S3: s3cfg, Storage: st, DB: pgtest.New(t), Redis: redistest.New(t), FFmpeg: "-"})
	u, _, _ := tiertest.Serve(t, tr.Handler())
	return u
}

// mediaGateway runs the media tier and a real gateway (with compat/rest) in
// front of it on loopback, and returns the gateway's base URL.
func mediaGateway(t *testing.T, maxFile int64, adminIDs ...string) string {
	t.Helper()
	mediaURL := startMedia(t, func(m *config.Media) {
		m.AdminUserIDs = adminIDs
		if maxFile > 0 {
			m.MaxFileSize = maxFile
		}
	})
	mu, _ := url.Parse(mediaURL)
	legacy := New(Deps{
		Log: logx.Discard(), Verifier: tiertest.Verifier(),
		Clients: NewClients(&http.Client{Transport: httpx.NewTransport(), Timeout: 30 * time.Second}, URLs{Media: mediaURL}),
	})
	gw := gateway.New(gateway.Options{
		Upstreams: gateway.Upstreams{"media": mu}, Legacy: legacy, Log: logx.Discard(), Metrics: metrics.New(),
		Edge: config.Gateway{MaxBodyBytes: 1 << 20},
	})
	gwURL, _, _ := tiertest.Serve(t, gw)
	return gwURL
}

type mediaRes struct {
	status int
	header http.Header
	body   map[string]any
}

func mediaCall(t *testing.T, method, u, tok string, body io.Reader, ct string) mediaRes {
	t.Helper()
	req, _ := http.NewRequest(method, u, body)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out := mediaRes{status: res.StatusCode, header: res.Header}
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusFound {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			t.Fatalf("%s %s: %d, not JSON: %q", method, u, res.StatusCode, raw)
		}
	}
	return out
}

func pngBytes() []byte {
	// 1×1 grey PNG.
	return []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x00\x00\x00\x00:~\x9bU\x00\x00\x00\nIDATx\x9cc`\x00\x00\x00\x02\x00\x01H\xaf\xa4q\x00\x00\x00\x00IEND\xaeB`\x82")
}

func uploadForm(t *testing.T) (*bytes.Buffer, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	w, err := mw.CreateFormFile("file", "profile.jpg") // the app mislabels: declared octet-stream
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write(pngBytes())
	_ = mw.Close()
	return &b, mw.FormDataContentType()
}

func TestLegacyMediaRoutesThroughGateway(t *testing.T) {
	admin := id.New()
	gw := mediaGateway(t, 0, admin.String())
	alice, bob := id.New(), id.New()
	at, bt := tiertest.Token(t, alice), tiertest.Token(t, bob)

	// Upload (streamed, routed straight to the media tier).
	body, ct := uploadForm(t)
	up := mediaCall(t, "POST", gw+"/api/media/upload", at, body, ct)
	if up.status != 200 || up.body["success"] != true {
		t.Fatalf("upload: %d %v", up.status, up.body)
	}
	key := up.body["key"].(string)
	if !strings.HasSuffix(key, ".png") || !strings.HasPrefix(up.body["url"].(string), media.ProxyPath) {
		t.Fatalf("upload body: %v", up.body)
	}
	if r := mediaCall(t, "POST", gw+"/api/media/upload", "", strings.NewReader("x"), ct); r.status != 401 {
		t.Fatalf("upload without token: %d", r.status)
	}

	// The URL handed out works through the gateway: 302 to a signed URL.
	r := mediaCall(t, "GET", gw+up.body["url"].(string), "", nil, "")
	if r.status != http.StatusFound || !strings.Contains(r.header.Get("Location"), "X-Amz-Signature=") {
		t.Fatalf("proxy: %d %v", r.status, r.header)
	}
	if r := mediaCall(t, "GET", gw+"/api/media/proxy/uploads%2F..%2F..%2F..%2Fetc%2Fpasswd", "", nil, ""); r.status != 404 {
		t.Fatalf("traversal via gateway: %d %v", r.status, r.body)
	}

	// Signed URL: clamped, typed expiry, owner only.
	r = mediaCall(t, "GET", gw+"/api/media/signed-url/"+key+"?expires=120", at, nil, "")
	if r.status != 200 || !strings.Contains(r.body["url"].(string), "X-Amz-Expires=120") {
		t.Fatalf("signed-url: %d %v", r.status, r.body)
	}
	if r := mediaCall(t, "GET", gw+"/api/media/signed-url/"+key+"?expires=abc", at, nil, ""); r.status != 400 || r.body["code"] != "BAD_REQUEST" {
		t.Fatalf("expires=abc: %d %v", r.status, r.body)
	}
	if r := mediaCall(t, "GET", gw+"/api/media/signed-url/"+key, bt, nil, ""); r.status != 403 || r.body["error"] != "Not authorized to access this file" {
		t.Fatalf("bob signs: %d %v", r.status, r.body)
	}

	// List: own files only.
	r = mediaCall(t, "GET", gw+"/api/media/list", at, nil, "")
	files, _ := r.body["files"].([]any)
	if r.status != 200 || len(files) != 1 || files[0].(map[string]any)["key"] != key {
		t.Fatalf("list: %d %v", r.status, r.body)
	}
	if r := mediaCall(t, "GET", gw+"/api/media/list", bt, nil, ""); len(r.body["files"].([]any)) != 0 {
		t.Fatalf("bob lists: %v", r.body)
	}
	if r := mediaCall(t, "GET", gw+"/api/media/list?folder=etc", at, nil, ""); r.status != 400 {
		t.Fatalf("bad folder: %d", r.status)
	}

	// Audit logs: admin only, typed filters, masked IPs; the gateway alias too.
	for _, p := range []string{"/api/media/audit-logs", "/api/admin/media/audit-logs"} {
		r := mediaCall(t, "GET", gw+p+"?page=1&limit=1", tiertest.Token(t, admin), nil, "")
		logs, _ := r.body["logs"].([]any)
		if r.status != 200 || len(logs) != 1 || r.body["total"].(float64) < 1 {
			t.Fatalf("%s: %d %v", p, r.status, r.body)
		}
		if ip := logs[0].(map[string]any)["ip"].(string); !strings.HasSuffix(ip, ".x.x") && !strings.HasSuffix(ip, "::xxxx") {
			t.Fatalf("ip not masked: %q", ip)
		}
		if r := mediaCall(t, "GET", gw+p, at, nil, ""); r.status != 403 || r.body["error"] != "Admin access required" {
			t.Fatalf("%s non-admin: %d %v", p, r.status, r.body)
		}
	}
	for _, q := range []string{"status[$ne]=x", "status=bogus", "from=notadate", "page=0", "limit=x", "userId=../x"} {
		if r := mediaCall(t, "GET", gw+"/api/media/audit-logs?"+q, tiertest.Token(t, admin), nil, ""); r.status != 400 {
			t.Fatalf("audit %s: %d %v", q, r.status, r.body)
		}
	}

	// Delete: owner only.
	if r := mediaCall(t, "DELETE", gw+"/api/media/"+key, bt, nil, ""); r.status != 403 {
		t.Fatalf("bob deletes: %d %v", r.status, r.body)
	}
	if r := mediaCall(t, "DELETE", gw+"/api/media/"+key, at, nil, ""); r.status != 200 || r.body["message"] != "File deleted successfully" {
		t.Fatalf("delete: %d %v", r.status, r.body)
	}
	if r := mediaCall(t, "GET", gw+"/api/media/list", at, nil, ""); len(r.body["files"].([]any)) != 0 {
		t.Fatalf("list after delete: %v", r.body)
	}
}

// TestLegacyUploadOversizeThroughGateway: the gateway streams the body to
// the media tier, which answers 413 JSON mid-stream.
func TestLegacyUploadOversizeThroughGateway(t *testing.T) {
	gw := mediaGateway(t, 6<<20)
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	w, _ := mw.CreateFormFile("file", "big.mp4")
	_, _ = w.Write([]byte{0, 0, 0, 0x20, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm', 0, 0, 2, 0})
	_, _ = w.Write(make([]byte, 12<<20))
	_ = mw.Close()
	r := mediaCall(t, "POST", gw+"/api/media/upload", tiertest.Token(t, id.New()), &b, mw.FormDataContentType())
	if r.status != 413 || r.body["code"] != "PAYLOAD_TOO_LARGE" {
		t.Fatalf("oversize via gateway: %d %v", r.status, r.body)
	}
}
