package devstack

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestStartExpo: development's fake Expo answers like Expo, logs each push
// without its token, and keeps nothing.
func TestStartExpo(t *testing.T) {
	var out syncBuf
	u, stop, err := StartExpo(slog.New(slog.NewTextHandler(&out, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if !strings.HasPrefix(u, "http://127.0.0.1:") || !strings.HasSuffix(u, "/--/api/v2/push/send") {
		t.Fatalf("url %q", u)
	}
	const tok = "ExponentPushToken[dev-secret-token]"
	res, err := http.Post(u, "application/json", strings.NewReader(`[{"to":"`+tok+`","title":"New like","body":"Asha liked your post","data":{"kind":"like"},"channelId":"default"}]`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	log := out.String()
	if !strings.Contains(log, "Asha liked your post") || !strings.Contains(log, "kind=like") {
		t.Fatalf("push not logged: %s", log)
	}
	if strings.Contains(log, "dev-secret-token") {
		t.Fatalf("token logged: %s", log)
	}
}
