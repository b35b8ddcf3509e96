package rest

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/infliq/infliq/backend/platform/safetext"
)

// TestLegacyRoutesRefuseBadText: a NUL (JSON \u0000 or in a query) or
// invalid UTF-8 in a legacy request is a 400 {error, code} that names the
// field, never a 500 and never stored altered.
func TestLegacyRoutesRefuseBadText(t *testing.T) {
	g := newAuthGateway(t, 0)
	r := g.post("/api/auth/register", map[string]any{"name": "Ravi", "email": "badtext@example.com", "password": "s3cret-pass", "phone": "9876543213"})
	want(t, r, 200, "")
	tok, _ := r.body["token"].(string)
	for _, c := range []struct {
		path, body, field string
	}{
		{"/api/auth/login", `{"email":"a\u0000b@example.com","password":"x"}`, "email"},
		{"/api/auth/login", "{\"email\":\"a\xffb@example.com\",\"password\":\"x\"}", "email"},
		{"/api/auth/register", `{"name":"N\u0000","email":"n@example.com","password":"p","phone":"9876543214"}`, "name"},
		{"/api/auth/send-otp", `{"phone":"98765\u000043210"}`, "phone"},
	} {
		r := g.post(c.path, c.body)
		want(t, r, 400, "BAD_REQUEST")
		if msg, _ := r.body["error"].(string); !strings.Contains(msg, c.field) {
			t.Errorf("%s %q: error %q does not name %s", c.path, c.body, msg, c.field)
		}
	}
	// A query string reaches the user service's RPC, whose edge refuses it.
	r = g.do("GET", "/api/users/search?q="+url.QueryEscape("ra\x00vi"), nil, "Authorization", "Bearer "+tok)
	want(t, r, 400, "BAD_REQUEST")
	if msg, _ := r.body["error"].(string); !strings.Contains(msg, "query") {
		t.Errorf("search: %s", r.raw)
	}
}

// FuzzLegacyJSONEdge: whatever body arrives, decodeJSON either refuses it
// or hands on strings free of NUL and, when the bytes were not UTF-8,
// refuses it; it never panics. Seeds are in testdata/fuzz.
func FuzzLegacyJSONEdge(f *testing.F) {
	f.Add([]byte(`{"email":"a@b.c","password":"p"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var v any
		err := decodeJSONBytes(body, &v)
		if err != nil {
			return
		}
		if !utf8.Valid(body) {
			t.Fatalf("accepted invalid UTF-8: %q", body)
		}
		var check func(any)
		check = func(x any) {
			switch x := x.(type) {
			case string:
				if why := safetext.String(x); why != "" {
					t.Fatalf("accepted a string that %s: %q from %q", why, x, body)
				}
			case []any:
				for _, e := range x {
					check(e)
				}
			case map[string]any:
				for k, e := range x {
					check(k)
					check(e)
				}
			}
		}
		check(v)
	})
}
