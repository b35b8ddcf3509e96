package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/infliq/infliq/backend/auth/sms"
	"github.com/infliq/infliq/devstack"
)

// TestAllBootsWithEmbeddedDefaults runs `infliq all` exactly as the README's
// first command does (no DATABASE_URL, REDIS_URL or S3 settings), on free
// ports, and checks the stack answers through the gateway and drains on
// shutdown.
func TestAllBootsWithEmbeddedDefaults(t *testing.T) {
	sink := filepath.Join(t.TempDir(), "otp-sink")
	ports := startAll(t, map[string]string{"OTP_DEV_SINK_FILE": sink, "LOG_LEVEL": "warn",
		"DATABASE_URL": "", "REDIS_URL": "", "S3_BUCKET": "", "JWT_SECRET": ""})
	base := fmt.Sprintf("http://127.0.0.1:%d", ports["gateway"])
	var health map[string]any
	res, err := http.Get(base + "/health")
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(res.Body).Decode(&health)
	res.Body.Close()
	if health["service"] != "api-gateway" {
		t.Fatalf("gateway health: %v", health)
	}
	// Every tier is up behind the gateway: one public RPC per tier answers.
	for _, proc := range []string{
		"infliq.user.v1.UserService/GetLimits", "infliq.post.v1.PostService/GetLimits",
		"infliq.feed.v1.FeedService/GetLimits", "infliq.chat.v1.ChatService/GetLimits",
		"infliq.call.v1.CallService/GetCallConfig", "infliq.media.v1.MediaService/GetUploadPolicy",
	} {
		res, err := http.Post(base+"/"+proc, "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("%s: %d %s", proc, res.StatusCode, body)
		}
	}
	// Each tier's own /health reports its dependencies up.
	for _, n := range tierNames {
		if n == "gateway" {
			continue
		}
		res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/health", ports[n]))
		if err != nil {
			t.Fatal(err)
		}
		var h map[string]any
		_ = json.NewDecoder(res.Body).Decode(&h)
		res.Body.Close()
		if res.StatusCode != 200 || h["service"] != n+"-service" || h["status"] != "OK" {
			t.Errorf("%s health: %d %v", n, res.StatusCode, h)
		}
	}
	// Authenticated RPCs refuse anonymous callers through the gateway.
	res, err = http.Post(base+"/infliq.auth.v1.AuthService/GetSession", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Errorf("anonymous GetSession: %d", res.StatusCode)
	}
	checkAuthWiring(t, base, sink)
}

// checkAuthWiring logs in by phone through the legacy routes (the dev
// sender writes the code to the sink), uses the session, logs out, and
// checks the revocation reaches the gateway's and the tiers' verifiers.
func checkAuthWiring(t *testing.T, base, sink string) {
	t.Helper()
	post := func(path, tok string, body any) (int, map[string]any) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", base+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out
	}
	if st, body := post("/api/auth/send-otp", "", map[string]any{"phone": "9876543210"}); st != 200 {
		t.Fatalf("send-otp: %d %v", st, body)
	}
	codes, err := sms.LastCodes(sink)
	if err != nil {
		t.Fatal(err)
	}
	code := codes["+919876543210"]
	st, body := post("/api/auth/verify-otp", "", map[string]any{"phone": "9876543210", "otp": code})
	tok, _ := body["token"].(string)
	if st != 200 || tok == "" {
		t.Fatalf("verify-otp: %d %v", st, body)
	}
	if st, _ := post("/infliq.auth.v1.AuthService/GetSession", tok, map[string]any{}); st != 200 {
		t.Fatalf("GetSession with the new token: %d", st)
	}
	if st, _ := post("/api/auth/logout", tok, map[string]any{}); st != 200 {
		t.Fatalf("logout: %d", st)
	}
	// Verifiers cache "not revoked" for a second: the logout reaches every
	// verifier within that bound.
	time.Sleep(1100 * time.Millisecond)
	if st, _ := post("/infliq.auth.v1.AuthService/GetSession", tok, map[string]any{}); st != 401 {
		t.Fatalf("GetSession after logout: %d", st)
	}
}

// startAll runs `infliq all` on free ports with env (on top of loopback
// listening and a private data dir), waits until the gateway is healthy and
// stops it, drained, when the test ends. It returns each tier's port.
func startAll(t *testing.T, env map[string]string) map[string]int {
	t.Helper()
	ports := map[string]int{}
	for _, n := range tierNames {
		p, err := devstack.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		ports[n] = p
		if n != "gateway" {
			t.Setenv(strings.ToUpper(n)+"_SERVICE_URL", fmt.Sprintf("http://127.0.0.1:%d", p))
		}
	}
	t.Setenv("PORT", fmt.Sprint(ports["gateway"]))
	t.Setenv("LISTEN_HOST", "127.0.0.1")
	t.Setenv("DEV_DATA_DIR", t.TempDir())
	for _, k := range []string{"APP_ENV", "NODE_ENV", "GATEWAY_PORT"} {
		t.Setenv(k, "")
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runAll(ctx, nil) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("infliq all returned %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("infliq all did not drain within 30s")
		}
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", ports["gateway"])
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(base + "/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return ports
			}
		}
		select {
		case err := <-done:
			t.Fatalf("infliq all exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway never healthy: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
