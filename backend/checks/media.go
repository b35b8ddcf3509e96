package checks

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"strings"
)

// tinyPNG is a valid 1×1 PNG for the upload round trip.
var tinyPNG = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x00\x00\x00\x00:~\x9bU\x00\x00\x00\nIDATx\x9cc`\x00\x00\x00\x02\x00\x01H\xaf\xa4q\x00\x00\x00\x00IEND\xaeB`\x82")

// mediaContracts are the media checks that need no credentials: auth before
// the body, JSON errors, and a proxy that cannot read the filesystem.
func mediaContracts(ctx context.Context, r *runner, c *client) {
	r.check("media upload requires a token (JSON 401)", func() error {
		res, err := c.doRaw(ctx, "POST", "/api/media/upload", strings.NewReader("--x--\r\n"), "multipart/form-data; boundary=x", nil)
		if err != nil {
			return err
		}
		if err := wantStatus(res, 401); err != nil {
			return err
		}
		if res.Body["error"] == nil {
			return fmt.Errorf("body is not {error, code}: %s", truncate(res.Raw))
		}
		return nil
	})
	r.check("media signed-url requires a token", func() error {
		res, err := c.do(ctx, "GET", "/api/media/signed-url/general/x.jpg", nil, nil)
		if err != nil {
			return err
		}
		return wantStatus(res, 401)
	})
	for _, p := range []string{"uploads%2F..%2F..%2F..%2Fetc%2Fpasswd", "uploads/..%2F..%2Fserver.js", "secret%2Fconfig.json"} {
		r.check("media proxy refuses "+p, func() error {
			res, err := c.do(ctx, "GET", "/api/media/proxy/"+p, nil, nil)
			if err != nil {
				return err
			}
			if err := statusIn(res.Status, 400, 404); err != nil {
				return err
			}
			if res.Body["code"] == nil {
				return fmt.Errorf("body is not {error, code}: %s", truncate(res.Raw))
			}
			return nil
		})
	}
}

// mediaSmoke uploads a tiny image with the caller's token, loads it through
// the URL handed back, lists it and deletes it.
func mediaSmoke(ctx context.Context, r *runner, a *client) {
	r.check("media upload round trip", func() error {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		w, err := mw.CreateFormFile("file", "smoke.png")
		if err != nil {
			return err
		}
		_, _ = w.Write(tinyPNG)
		_ = mw.Close()
		res, err := a.doRaw(ctx, "POST", "/api/media/upload", &b, mw.FormDataContentType(), nil)
		if err != nil {
			return err
		}
		if err := wantStatus(res, 200); err != nil {
			return err
		}
		url, _ := res.Body["url"].(string)
		key, _ := res.Body["key"].(string)
		if url == "" || key == "" {
			return fmt.Errorf("upload body lacks url/key: %s", truncate(res.Raw))
		}
		// The URL handed to the app must load without a token.
		if !strings.HasPrefix(url, "http") {
			url = strings.TrimRight(a.base, "/") + url
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		got, err := a.hc.Do(req)
		if err != nil {
			return err
		}
		got.Body.Close()
		if got.StatusCode != 200 {
			return fmt.Errorf("GET %s: status %d", url, got.StatusCode)
		}
		list, err := a.do(ctx, "GET", "/api/media/list", nil, nil)
		if err != nil {
			return err
		}
		if err := isArray(list.Body, "files"); err != nil {
			return err
		}
		del, err := a.do(ctx, "DELETE", "/api/media/"+key, nil, nil)
		if err != nil {
			return err
		}
		return wantStatus(del, 200)
	})
}
