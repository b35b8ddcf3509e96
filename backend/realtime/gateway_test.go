package realtime

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/infliq/infliq/backend/checks"
	"github.com/infliq/infliq/backend/gateway"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/httpx"
	"github.com/infliq/infliq/backend/platform/logx"
	"github.com/infliq/infliq/backend/platform/metrics"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
	"github.com/infliq/infliq/compat/rest"
	"github.com/infliq/infliq/compat/socketio/sioclient"
)

// TestSocketsThroughGateway: the gateway's reverse proxy carries the polling
// handshake and websocket upgrades on both paths to the realtime tier.
func TestSocketsThroughGateway(t *testing.T) {
	st := newStack(t)
	r1 := st.replica(t, testConfig())
	ru, _ := url.Parse(r1)
	cu, _ := url.Parse(st.chatURL)
	legacy := rest.New(rest.Deps{Log: logx.Discard(), Verifier: tiertest.Verifier(),
		Clients: rest.NewClients(&http.Client{Transport: httpx.NewTransport()}, rest.URLs{Chat: st.chatURL})})
	g := gateway.New(gateway.Options{Upstreams: gateway.Upstreams{"realtime": ru, "chat": cu}, Legacy: legacy, Edge: config.Gateway{MaxBodyBytes: 1 << 20},
		Log: logx.Discard(), Metrics: metrics.New()})
	gw, _, h1 := tiertest.Serve(t, g)
	uid := st.user(t, "u")
	for _, path := range []string{"/socket.io/", "/socket-chat.io/"} {
		res, err := h1.Get(gw + path + "?EIO=4&transport=polling&t=1")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.HasPrefix(string(body), `0{"sid":`) {
			t.Fatalf("%s polling handshake: %d %s", path, res.StatusCode, body)
		}
		c, err := sioclient.Dial(gw, path, tiertest.Token(t, uid))
		if err != nil {
			t.Fatalf("%s websocket through the gateway: %v", path, err)
		}
		if err := c.Emit(1, "join-chat", "nope"); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		p, err := c.Read()
		if err != nil || p.AckID != 1 || !strings.Contains(string(p.Args[0]), "Invalid chat ID") {
			t.Fatalf("%s ack through the gateway: %+v %v", path, p, err)
		}
		c.Close()
	}
	if _, err := sioclient.Dial(gw, "/socket.io/", "bad"); err == nil || !strings.Contains(err.Error(), "Unauthorized") {
		t.Fatalf("bad token: %v", err)
	}

	res, err := h1.Get(r1 + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metricsBody, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, m := range []string{"infliq_realtime_sockets ", "infliq_realtime_streams ", "infliq_realtime_bus_channels "} {
		if !strings.Contains(string(metricsBody), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}

	// `infliq smoke` and `infliq contracts`: this checks pass.
	var out bytes.Buffer
	checks.Smoke(context.Background(), checks.SmokeConfig{BaseURL: gw, Timeout: 10 * time.Second, JWT: tiertest.Token(t, uid)}, &out)
	checks.Contracts(context.Background(), checks.ContractConfig{BaseURL: gw, Timeout: 10 * time.Second, JWT: tiertest.Token(t, uid)}, &out)
	for _, want := range []string{"PASS chat socket path reachability", "PASS call socket path reachability", "PASS socket refuses a missing token",
		"PASS socket websocket connect (app mode)", "PASS protected chats list", "PASS socket handshake contract", "PASS protected chat payload contract"} {
		if !strings.Contains(out.String(), want+"\n") {
			t.Errorf("missing %q in:\n%s", want, out.String())
		}
	}
}
