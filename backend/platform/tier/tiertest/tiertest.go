// Package tiertest runs tiers in tests the way production does: a real h2c
// server on loopback (so Connect, gRPC and gRPC-Web all work), the real authn
// middleware and interceptors, and tokens signed with a test secret.
package tiertest

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/httpx"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/logx"
	"github.com/infliq/infliq/backend/platform/metrics"
	"github.com/infliq/infliq/backend/platform/tier"
)

// Secret signs test tokens.
const Secret = "tiertest-secret-0123456789abcdef0123456789"

// InternalToken is the service-to-service token of test tiers.
const InternalToken = "tiertest-internal-token"

// Verifier checks tokens minted by Token.
func Verifier() *authn.Verifier { return authn.NewVerifier(Secret, "infliq", "infliq-app", true) }

// Deps returns tier dependencies for a test.
func Deps() tier.Deps {
	return tier.Deps{Log: logx.Discard(), Metrics: metrics.New(), Verifier: Verifier(), InternalToken: InternalToken, MaxBodyBytes: 1 << 20}
}

// Token mints an access token for uid.
func Token(t testing.TB, uid id.ID) string {
	t.Helper()
	tok, _, err := authn.NewIssuer(Secret, "infliq", "infliq-app", time.Hour).IssueAccess(authn.AccessToken{UserID: uid}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Serve runs h on a loopback h2c server for the test and returns its base
// URL and a client that speaks HTTP/2 prior knowledge (gRPC) or HTTP/1.1.
func Serve(t testing.TB, h http.Handler) (baseURL string, h2c *http.Client, h1 *http.Client) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		_ = httpx.NewServer(h, logx.Discard()).Serve(ctx, l, time.Second)
		close(done)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return "http://" + l.Addr().String(), &http.Client{Transport: httpx.NewH2CTransport()}, &http.Client{Transport: httpx.NewTransport()}
}

// Bearer returns a client option that sends tok on every call, unary and
// streaming alike.
func Bearer(tok string) connect.ClientOption {
	return connect.WithInterceptors(bearer(tok))
}

type bearer string

func (b bearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", "Bearer "+string(b))
		return next(ctx, req)
	}
}

func (b bearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", "Bearer "+string(b))
		return conn
	}
}

func (b bearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// Trickle sends headers and then 2 bytes per tick of a body that never
// completes, for at most 40 ticks, and reports after how many ticks the
// server ended the request (-1: never) and the status line it answered.
func Trickle(t *testing.T, base, head string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	status := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(c).ReadString('\n')
		status <- strings.TrimSpace(line)
	}()
	for i := range 40 {
		select {
		case s := <-status:
			return i, s
		case <-time.After(100 * time.Millisecond):
		}
		if _, err := c.Write([]byte("ab")); err != nil {
			return i, <-status
		}
	}
	return -1, ""
}
