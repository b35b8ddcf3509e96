package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/infliq/infliq/backend/auth/sms"
	"github.com/infliq/infliq/backend/importer/importtest"
)

// TestCutoverRunbook follows the README's cutover runbook literally: the
// database and role from its SQL (no superuser), the built binary's
// `import-mongo --dry-run` and then the import, over a fixture set with
// every legacy shape and poison case, then the stack on that database and
// logins through the gateway as a bcrypt user, as the winner of a shared
// phone number and as a plaintext-password user (refused, flagged).
func TestCutoverRunbook(t *testing.T) {
	now := time.Now().UTC()
	srv := importtest.StartServer(t, t.TempDir())
	mdb := srv.Client.Database("infliq")
	f := importtest.Seed(t, mdb, now)
	p := importtest.SeedPoison(t, mdb, f, now)
	dsn := importtest.OrdinaryDSN(t)

	bin := filepath.Join(t.TempDir(), "infliq")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	importMongo := func(args ...string) string {
		t.Helper()
		// The shipped CLI once deadlocked on any dataset: a hang fails here.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"import-mongo", "--mongo-uri", srv.URI, "--database", "infliq"}, args...)...)
		cmd.Env = append(os.Environ(), "DATABASE_URL="+dsn, "LOG_LEVEL=warn", "APP_ENV=development")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("infliq import-mongo %v: %v (ctx %v)\nstdout:\n%s\nstderr:\n%s", args, err, ctx.Err(), stdout.String(), stderr.String())
		}
		return stdout.String()
	}
	dry := importMongo("--dry-run")
	real := importMongo()
	t.Logf("import summary:\n%s", real)
	// The dry run rejects exactly what the import rejects.
	tail := func(s string) string {
		s = s[strings.Index(s, "rejected items:"):]
		return strings.TrimSuffix(s, "dry run: nothing was written; inserted/updated are not computed\n")
	}
	if tail(dry) != tail(real) {
		t.Fatalf("dry run and import disagree:\n%s\n----\n%s", tail(dry), tail(real))
	}
	for k := range p.Rejected {
		if id := k[strings.Index(k, " ")+1:]; !strings.Contains(real, id) {
			t.Errorf("poison %s not listed", k)
		}
	}
	if again := importMongo(); !strings.Contains(again, "users.credentials") {
		t.Fatalf("re-run summary:\n%s", again)
	}

	// The stack on the imported database, as `infliq all` runs it.
	base, _, sink, _ := serveAll(t, dsn)
	call := func(method, path, tok string, body any) (int, map[string]any) {
		return callJSON(t, base, method, path, tok, body)
	}
	// The login payload is the profile the profile route returns.
	sameProfile := func(who string, login map[string]any) {
		t.Helper()
		u, _ := login["user"].(map[string]any)
		tok, _ := login["token"].(string)
		st, me := call("GET", "/api/users/me", tok, nil)
		if st != 200 {
			t.Fatalf("%s: /api/users/me %d %v", who, st, me)
		}
		for _, k := range []string{"_id", "name", "isVerified", "bio", "profilePicture", "age"} {
			if fmt.Sprint(u[k]) != fmt.Sprint(me[k]) {
				t.Errorf("%s: login %s = %v, profile %v", who, k, u[k], me[k])
			}
		}
	}

	// A bcrypt user logs in with the old password.
	st, body := call("POST", "/api/auth/login", "", map[string]any{"email": f.AEmail, "password": f.APassword})
	if u, _ := body["user"].(map[string]any); st != 200 || u["_id"] != f.A.Hex() || u["name"] != "User" || u["isVerified"] != true {
		t.Fatalf("bcrypt login: %d %v", st, body)
	}
	sameProfile("bcrypt user", body)

	// The shared number logs into the account the legacy backend used.
	if st, body := call("POST", "/api/auth/send-otp", "", map[string]any{"phone": "98000 00055"}); st != 200 {
		t.Fatalf("send-otp: %d %v", st, body)
	}
	codes, err := sms.LastCodes(sink)
	if err != nil {
		t.Fatal(err)
	}
	st, body = call("POST", "/api/auth/verify-otp", "", map[string]any{"phone": "98000 00055", "otp": codes["+919800000055"]})
	if u, _ := body["user"].(map[string]any); st != 200 || u["_id"] != p.WinnerPhone.Hex() || u["name"] != "New" {
		t.Fatalf("shared-phone login reached %v (want %s): %d", body["user"], p.WinnerPhone.Hex(), st)
	}
	sameProfile("shared-phone winner", body)

	// A plaintext-password user is refused and flagged for a reset.
	if st, body := call("POST", "/api/auth/login", "", map[string]any{"email": "dev@example.com", "password": f.DPassword}); st != 401 {
		t.Fatalf("plaintext login: %d %v", st, body)
	}
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var flagged bool
	if err := c.QueryRow(context.Background(), `SELECT needs_password_reset AND password_hash IS NULL FROM auth_credentials WHERE user_id = $1`, f.D.Hex()).Scan(&flagged); err != nil || !flagged {
		t.Fatalf("plaintext user not flagged: %v %v", flagged, err)
	}
}
