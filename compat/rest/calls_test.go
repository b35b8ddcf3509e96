package rest

import (
	"net/http"
	"net/http/httptest"
	pathpkg "path"
	"strings"
	"testing"

	"github.com/infliq/infliq/backend/platform/httpx"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/logx"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
)

// FuzzLegacyCallBodies: whatever the app (or anyone) posts to the call
// routes is a clear 4xx, or the upstream's answer, never a panic or a 500.
// The call tier behind is unreachable here, which surfaces as 503.
func FuzzLegacyCallBodies(f *testing.F) {
	uid := id.New()
	for _, s := range []string{`{"receiverId":"` + uid.String() + `","type":"video"}`, `{"receiverId":7}`, `{"type":[]}`, `{"roomName":"x"}`,
		`{"roomName":null}`, `[]`, `"x"`, `{`, ``, `{"receiverId":"` + uid.String() + `","type":{"a":1}}`} {
		for _, p := range []string{"/api/calls/initiate", "/api/calls/token", "/api/calls/" + uid.String() + "/end", "/api/calls/%zz/accept"} {
			f.Add(p, s)
		}
	}
	rt := New(Deps{Log: logx.Discard(), Verifier: tiertest.Verifier(),
		Clients: NewClients(&http.Client{Transport: httpx.NewTransport()}, URLs{Call: "http://127.0.0.1:1"})})
	f.Fuzz(func(t *testing.T, path, body string) {
		if !strings.HasPrefix(path, "/api/calls/") || pathpkg.Clean(path) != path { // unclean paths get the mux's redirect
			return
		}
		req, err := http.NewRequest("POST", "http://x"+path, strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer "+tiertest.Token(t, uid))
		w := httptest.NewRecorder()
		rt.ServeHTTP(w, req)
		if w.Code >= 500 && w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), `"error"`) {
			t.Fatalf("POST %s %q: %d %s", path, body, w.Code, w.Body)
		}
	})
}
