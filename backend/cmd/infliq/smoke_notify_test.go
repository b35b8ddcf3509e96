package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/infliq/infliq/backend/checks"
	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/pgtest"
)

// TestSmokeNotificationRoundTrip runs `infliq smoke` against `infliq all`
// with two users: a like reaches the post owner's inbox through the bus
// records and the notify tier, is counted unread, and markRead clears it.
// Redis is the in-process one: the record streams and the consumer group
// must not be shared with other test processes.
func TestSmokeNotificationRoundTrip(t *testing.T) {
	const secret = "smoke-notify-secret-0123456789abcdef"
	dsn := pgtest.NewDSN(t)
	ports := startAll(t, map[string]string{"LOG_LEVEL": "error", "DATABASE_URL": dsn, "JWT_SECRET": secret,
		"RATE_LIMIT_MAX": "1000000", "REDIS_URL": "", "S3_BUCKET": ""})
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	iss := authn.NewIssuer(secret, "infliq", "infliq-app", time.Hour)
	token := func(name string) string {
		uid := id.New()
		if _, err := conn.Exec(context.Background(), `INSERT INTO users (id, name) VALUES ($1, $2)`, uid, name); err != nil {
			t.Fatal(err)
		}
		tok, _, err := iss.IssueAccess(authn.AccessToken{UserID: uid}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	var out bytes.Buffer
	checks.Smoke(context.Background(), checks.SmokeConfig{BaseURL: fmt.Sprintf("http://127.0.0.1:%d", ports["gateway"]),
		Timeout: 20 * time.Second, JWT: token("owner"), PeerJWT: token("peer")}, &out)
	for _, want := range []string{"PASS notifications: like → grouped notification", "PASS notifications: unread count, then markRead"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("smoke lacks %q:\n%s", want, out.String())
		}
	}
}
