package rest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/logx"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
)

func call(t *testing.T, h http.Handler, method, path, body string, hdr map[string]string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("%s %s: body is not JSON: %q", method, path, rec.Body.String())
	}
	return rec.Code, m
}

func TestEdgeBehaviour(t *testing.T) {
	rt := New(Deps{Log: logx.Discard(), Verifier: tiertest.Verifier()})
	decoded := false
	rt.authed("POST /api/test/echo", func(w http.ResponseWriter, r *http.Request, p authn.Principal) {
		var v struct {
			Name string `json:"name"`
		}
		if err := decodeJSON(r, &v); err != nil {
			writeError(w, err)
			return
		}
		decoded = true
		writeJSON(w, 200, map[string]any{"name": v.Name, "userId": p.UserID.String()})
	})
	tok := tiertest.Token(t, id.New())
	auth := map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}

	if code, body := call(t, rt, "POST", "/api/test/echo", `{"name":"a"}`, auth); code != 200 || body["name"] != "a" {
		t.Fatalf("happy path: %d %v", code, body)
	}
	if code, body := call(t, rt, "POST", "/api/test/echo", `{"name":`, auth); code != 400 || body["code"] != "BAD_REQUEST" {
		t.Fatalf("malformed JSON: %d %v", code, body)
	}
	// Authentication happens before the body is read.
	decoded = false
	if code, body := call(t, rt, "POST", "/api/test/echo", `{"name":`, nil); code != 401 || body["error"] != "Access denied" || decoded {
		t.Fatalf("missing token: %d %v", code, body)
	}
	if code, body := call(t, rt, "POST", "/api/test/echo", `{}`, map[string]string{"Authorization": "Bearer nope"}); code != 401 || body["code"] != "INVALID_TOKEN" {
		t.Fatalf("bad token: %d %v", code, body)
	}
	// Wrong method or unknown route: JSON 404, never an HTML page or a 405 text.
	for _, c := range [][2]string{{"GET", "/api/test/echo"}, {"DELETE", "/api/nothing/here"}} {
		if code, body := call(t, rt, c[0], c[1], "", auth); code != 404 || body["code"] != "NOT_FOUND" {
			t.Fatalf("%v: %d %v", c, code, body)
		}
	}
	// An oversized body is a 413.
	req := httptest.NewRequest("POST", "/api/test/echo", strings.NewReader(`{"name":"`+strings.Repeat("x", 4096)+`"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	req.Body = http.MaxBytesReader(rec, req.Body, 1024)
	rt.ServeHTTP(rec, req)
	if rec.Code != 413 || !strings.Contains(rec.Body.String(), "PAYLOAD_TOO_LARGE") {
		t.Fatalf("oversize: %d %s", rec.Code, rec.Body)
	}
}
