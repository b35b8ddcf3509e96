// Package checks holds `infliq smoke` and `infliq contracts`: black-box checks
// against a running gateway that print PASS/FAIL lines, as the legacy
// scripts/smoke-test.js and scripts/contract-test.js did (contract §H), and
// are extended by each capability with its routes.
package checks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// runner runs named checks sequentially and counts failures.
type runner struct {
	out    io.Writer
	failed int
	passed int
}

func (r *runner) check(name string, fn func() error) {
	if err := fn(); err != nil {
		r.failed++
		fmt.Fprintf(r.out, "FAIL %s - %v\n", name, err)
		return
	}
	r.passed++
	fmt.Fprintf(r.out, "PASS %s\n", name)
}

func (r *runner) info(format string, a ...any) { fmt.Fprintf(r.out, "INFO "+format+"\n", a...) }

func (r *runner) summary() int {
	fmt.Fprintf(r.out, "%d passed, %d failed\n", r.passed, r.failed)
	return r.failed
}

// client is a small JSON HTTP client that never fails on status.
type client struct {
	base  string
	hc    *http.Client
	token string
}

type response struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   map[string]any
}

func (c *client) do(ctx context.Context, method, path string, body any, hdr map[string]string) (*response, error) {
	var rd io.Reader
	ct := ""
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd, ct = bytes.NewReader(b), "application/json"
	}
	return c.doRaw(ctx, method, path, rd, ct, hdr)
}

// doRaw sends body as is (multipart uploads) with content type ct.
func (c *client) doRaw(ctx context.Context, method, path string, body io.Reader, ct string, hdr map[string]string) (*response, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.base, "/")+path, body)
	if err != nil {
		return nil, err
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if err != nil {
		return nil, err
	}
	out := &response{Status: res.StatusCode, Header: res.Header, Raw: raw}
	_ = json.Unmarshal(raw, &out.Body)
	return out, nil
}

func newClient(base string, timeout time.Duration, token string) *client {
	return &client{base: base, hc: &http.Client{Timeout: timeout}, token: token}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func envDuration(k string, def time.Duration) time.Duration {
	if v := os.Getenv(k); v != "" {
		var ms int
		if _, err := fmt.Sscanf(v, "%d", &ms); err == nil && ms > 0 {
			return time.Duration(ms) * time.Millisecond
		}
	}
	return def
}

func statusIn(status int, allowed ...int) error {
	for _, a := range allowed {
		if status == a {
			return nil
		}
	}
	return fmt.Errorf("status %d, want one of %v", status, allowed)
}

func wantStatus(res *response, want int) error {
	if res.Status != want {
		return fmt.Errorf("status %d, want %d: %s", res.Status, want, truncate(res.Raw))
	}
	return nil
}

func isArray(body map[string]any, key string) error {
	if _, ok := body[key].([]any); !ok {
		return fmt.Errorf("body.%s is not an array", key)
	}
	return nil
}

func truncate(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}
