package expofake

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func post(t *testing.T, url, auth string, body []byte, gz bool) (*http.Response, map[string]any) {
	t.Helper()
	if gz {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		_, _ = w.Write(body)
		_ = w.Close()
		body = b.Bytes()
	}
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

func msgs(n int) []byte {
	var ms []Message
	for i := 0; i < n; i++ {
		ms = append(ms, Message{To: fmt.Sprintf("ExponentPushToken[tok%08d]", i), Title: "t"})
	}
	b, _ := json.Marshal(ms)
	return b
}

func TestFake(t *testing.T) {
	f := New()
	f.AccessToken = "secret"
	url, err := f.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	receipts := strings.TrimSuffix(url, "/send") + "/getReceipts"

	if r, _ := post(t, url, "", msgs(1), false); r.StatusCode != 401 {
		t.Fatalf("no token: %d", r.StatusCode)
	}
	if r, out := post(t, url, "Bearer secret", msgs(101), false); r.StatusCode != 400 || !strings.Contains(fmt.Sprint(out), "PUSH_TOO_MANY_NOTIFICATIONS") {
		t.Fatalf("101 messages: %d %v", r.StatusCode, out)
	}
	f.Unregister("ExponentPushToken[tok00000001]")
	f.RateLimit("ExponentPushToken[tok00000002]", 1)
	f.UnregisterOnReceipt("ExponentPushToken[tok00000003]")
	r, out := post(t, url, "Bearer secret", msgs(100), true)
	if r.StatusCode != 200 {
		t.Fatalf("100 messages: %d", r.StatusCode)
	}
	data := out["data"].([]any)
	errOf := func(i int) string {
		d, _ := data[i].(map[string]any)["details"].(map[string]any)
		s, _ := d["error"].(string)
		return s
	}
	if len(data) != 100 || errOf(1) != "DeviceNotRegistered" || errOf(2) != "MessageRateExceeded" || errOf(0) != "" {
		t.Fatalf("tickets %v", data[:4])
	}
	if f.DeliveredCount() != 98 || !f.Requests()[len(f.Requests())-1].Gzip {
		t.Fatalf("delivered %d", f.DeliveredCount())
	}
	id3 := data[3].(map[string]any)["id"].(string)
	id0 := data[0].(map[string]any)["id"].(string)
	ids, _ := json.Marshal(map[string]any{"ids": []string{id0, id3, "unknown"}})
	_, rc := post(t, receipts, "Bearer secret", ids, false)
	rd := rc["data"].(map[string]any)
	if len(rd) != 2 || rd[id0].(map[string]any)["status"] != "ok" || rd[id3].(map[string]any)["status"] != "error" {
		t.Fatalf("receipts %v", rd)
	}
	many, _ := json.Marshal(map[string]any{"ids": make([]string, 1001)})
	if r, _ := post(t, receipts, "Bearer secret", many, false); r.StatusCode != 400 {
		t.Fatalf("1001 ids: %d", r.StatusCode)
	}
	f.FailNext(1, 429, 1500*time.Millisecond)
	f.FailNext(1, 503, 0)
	if r, _ := post(t, url, "Bearer secret", msgs(1), false); r.StatusCode != 429 || r.Header.Get("Retry-After") != "2" {
		t.Fatalf("scripted 429: %d %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
	if r, _ := post(t, url, "Bearer secret", msgs(1), false); r.StatusCode != 503 {
		t.Fatalf("scripted 503: %d", r.StatusCode)
	}
	if r, _ := post(t, url, "Bearer secret", []byte("{nope"), false); r.StatusCode != 400 {
		t.Fatalf("bad JSON: %d", r.StatusCode)
	}
	// Cleartext HTTP/2 with prior knowledge.
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	h2 := &http.Client{Transport: &http.Transport{Protocols: &p}}
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(msgs(1)))
	req.Header.Set("Authorization", "Bearer secret")
	resp, err := h2.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || f.Requests()[len(f.Requests())-1].Proto != "HTTP/2.0" {
		t.Fatalf("h2c: %s", resp.Proto)
	}
}
