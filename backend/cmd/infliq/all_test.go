package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/infliq/infliq/backend/auth/sms"
	"github.com/infliq/infliq/devstack"
)

// TestAllBootsWithEmbeddedDefaults runs `infliq all` exactly as the README's
// first command does (no DATABASE_URL, REDIS_URL or S3 settings), on free
// ports, and checks the stack answers through the gateway and drains on
// shutdown.
func TestAllBootsWithEmbeddedDefaults(t *testing.T) {
	metricsPort, err := devstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("METRICS_ADDR", fmt.Sprintf("127.0.0.1:%d", metricsPort))
	t.Setenv("OTP_MAX_PER_IP_PER_WINDOW", "5")
	base, ports, sink, health := serveAll(t, "")
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
	res, err := http.Post(base+"/infliq.auth.v1.AuthService/GetSession", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Errorf("anonymous GetSession: %d", res.StatusCode)
	}
	checkAuthWiring(t, base, sink)
	checkNoOpenInternalSurface(t, ports)
	checkDirectXFFIgnored(t, ports["auth"])
	checkMetricsOffTheEdge(t, base, metricsPort)
}

// checkNoOpenInternalSurface: in the default dev config (no
// INTERNAL_API_TOKEN), every *InternalService procedure on every tier port
// refuses a caller without the process's generated token, or with a guessed one.
func checkNoOpenInternalSurface(t *testing.T, ports map[string]int) {
	t.Helper()
	n := 0
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			if !strings.HasSuffix(string(sd.Name()), "InternalService") {
				continue
			}
			// infliq.<tier>.v1
			tierName := strings.Split(string(fd.Package()), ".")[1]
			port, ok := ports[tierName]
			if !ok {
				t.Errorf("%s: no tier %q", sd.FullName(), tierName)
				continue
			}
			for j := 0; j < sd.Methods().Len(); j++ {
				proc := fmt.Sprintf("http://127.0.0.1:%d/%s/%s", port, sd.FullName(), sd.Methods().Get(j).Name())
				for _, tok := range []string{"", "guess", devstack.RandomToken()} {
					req, _ := http.NewRequest("POST", proc, strings.NewReader("{}"))
					req.Header.Set("Content-Type", "application/json")
					if tok != "" {
						req.Header.Set("X-Infliq-Internal-Token", tok)
					}
					res, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					body, _ := io.ReadAll(res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "permission_denied") {
						t.Errorf("%s with token %q: %d %s", proc, tok, res.StatusCode, body)
					}
					n++
				}
			}
		}
		return true
	})
	if n < 3*5 {
		t.Fatalf("only %d internal calls tried: are the internal services registered?", n)
	}
}

// checkDirectXFFIgnored: a caller on the auth tier's own port cannot escape
// the per-IP OTP limit (5 here) by sending a fresh X-Forwarded-For each time:
// only the gateway's marked requests are believed.
func checkDirectXFFIgnored(t *testing.T, authPort int) {
	t.Helper()
	const n = 20
	codes := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", fmt.Sprintf("http://127.0.0.1:%d/infliq.auth.v1.AuthService/SendOtp", authPort),
				strings.NewReader(fmt.Sprintf(`{"phone":"98765%05d"}`, i)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i+1))
			req.Header.Set("X-Infliq-Gateway", "forged")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			codes <- res.StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	ok, limited := 0, 0
	for c := range codes {
		switch c {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			limited++
		default:
			t.Errorf("direct SendOtp: status %d", c)
		}
	}
	if ok > 5 || limited == 0 {
		t.Fatalf("fresh X-Forwarded-For escaped the per-IP limit: %d sent, %d limited", ok, limited)
	}
}

// checkMetricsOffTheEdge: /metrics is on METRICS_ADDR, not on the public
// gateway, whose /health lists no internal URL.
func checkMetricsOffTheEdge(t *testing.T, base string, metricsPort int) {
	t.Helper()
	get := func(u string) (int, string) {
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if st, _ := get(base + "/metrics"); st != http.StatusNotFound {
		t.Errorf("public /metrics: %d", st)
	}
	if st, body := get(base + "/health"); st != 200 || strings.Contains(body, "http://") {
		t.Errorf("public /health: %d %s", st, body)
	}
	internal := fmt.Sprintf("http://127.0.0.1:%d", metricsPort)
	if st, body := get(internal + "/metrics"); st != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("internal /metrics: %d", st)
	}
	if st, body := get(internal + "/health"); st != 200 || !strings.Contains(body, "http://") {
		t.Errorf("internal /health: %d %s", st, body)
	}
}

// checkAuthWiring logs in by phone through the legacy routes (the dev
// sender writes the code to the sink), uses the session, logs out, and
// checks the revocation reaches the gateway's and the tiers' verifiers.
func checkAuthWiring(t *testing.T, base, sink string) {
	t.Helper()
	post := func(path, tok string, body any) (int, map[string]any) {
		return callJSON(t, base, "POST", path, tok, body)
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

// serveAll runs `infliq all` in process on free ports with the embedded
// defaults (databaseURL "" : embedded PostgreSQL too), waits for the
// gateway's /health and stops the stack (checking it drains) when t ends.
// It returns the gateway's base URL, every tier's port, the dev OTP sink
// and the gateway's health body.
func serveAll(t *testing.T, databaseURL string) (base string, ports map[string]int, sink string, health map[string]any) {
	t.Helper()
	sink = filepath.Join(t.TempDir(), "otp-sink")
	ports, health, _ = runAllFor(t, map[string]string{"DATABASE_URL": databaseURL, "OTP_DEV_SINK_FILE": sink})
	return fmt.Sprintf("http://127.0.0.1:%d", ports["gateway"]), ports, sink, health
}

// startAll is serveAll with env set on top of the defaults; it returns each
// tier's port.
func startAll(t *testing.T, env map[string]string) map[string]int {
	t.Helper()
	ports, _, _ := runAllFor(t, env)
	return ports
}

// tierPorts gives every tier a free loopback port and points the tiers'
// *_SERVICE_URL variables at them.
func tierPorts(t testing.TB) map[string]int {
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
	return ports
}

// runAllFor starts `infliq all` on free loopback ports with a private data
// dir, the embedded defaults and no secrets (env overrides any of these),
// waits until the gateway is healthy and stops it, drained, when t ends
// (or when stop is called; stop is idempotent). A free port can be taken by another test process between the probe and
// the tier's bind; that start is retried on new ports.
func runAllFor(t testing.TB, env map[string]string) (ports map[string]int, health map[string]any, stop func()) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		ports = tierPorts(t)
		t.Setenv("PORT", fmt.Sprint(ports["gateway"]))
		t.Setenv("LISTEN_HOST", "127.0.0.1")
		t.Setenv("DEV_DATA_DIR", t.TempDir())
		t.Setenv("LOG_LEVEL", "warn")
		for _, k := range []string{"DATABASE_URL", "REDIS_URL", "S3_BUCKET", "APP_ENV", "NODE_ENV", "GATEWAY_PORT", "JWT_SECRET", "INTERNAL_API_TOKEN"} {
			t.Setenv(k, "")
		}
		for k, v := range env {
			t.Setenv(k, v)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- runAll(ctx, nil) }()
		health, exited, err := waitHealthy(fmt.Sprintf("http://127.0.0.1:%d", ports["gateway"]), done, 60*time.Second)
		if err == nil {
			var once sync.Once
			stop = func() {
				once.Do(func() {
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
			}
			t.Cleanup(stop)
			return ports, health, stop
		}
		cancel()
		if !exited {
			<-done
			t.Fatalf("gateway never healthy: %v", err)
		}
		if attempt < 3 && strings.Contains(err.Error(), "address already in use") {
			t.Logf("attempt %d lost a port race, retrying on new ports: %v", attempt, err)
			continue
		}
		t.Fatalf("infliq all exited: %v", err)
	}
}

// waitHealthy polls base/health until it answers 200, the process exits
// (exited, with its error) or the deadline passes.
func waitHealthy(base string, done <-chan error, within time.Duration) (health map[string]any, exited bool, err error) {
	deadline := time.Now().Add(within)
	for {
		res, gerr := http.Get(base + "/health")
		if gerr == nil {
			health = map[string]any{}
			_ = json.NewDecoder(res.Body).Decode(&health)
			res.Body.Close()
			if res.StatusCode == 200 {
				return health, false, nil
			}
			gerr = fmt.Errorf("health answered %d", res.StatusCode)
		}
		select {
		case err := <-done:
			if err == nil {
				err = errors.New("returned before it was healthy")
			}
			return nil, true, err
		default:
		}
		if time.Now().After(deadline) {
			return nil, false, gerr
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// callJSON sends body as JSON (with a bearer token unless tok is "") and
// decodes the JSON answer.
func callJSON(t *testing.T, base, method, path, tok string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, base+path, bytes.NewReader(b))
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
