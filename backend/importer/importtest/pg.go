package importtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/infliq/infliq/backend/platform/pgtest"
)

// RunbookRole is the role and database name the cutover runbook's SQL
// uses; tests substitute their own.
const RunbookRole = "infliq_app"

// RunbookSQL returns the statements of the runbook's "database and role"
// block in README.md (the ```sql block of the cutover runbook), so tests
// give the import role exactly the rights operators are told to give.
func RunbookSQL(t testing.TB) []string {
	t.Helper()
	dir, err := moduleDir()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(dir)), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "## Cutover runbook")
	if i < 0 {
		t.Fatal("README.md has no cutover runbook")
	}
	m := regexp.MustCompile("(?s)```sql\n(.*?)```").FindStringSubmatch(s[i:])
	if m == nil {
		t.Fatal("the cutover runbook has no ```sql block")
	}
	var out []string
	for _, line := range strings.Split(m[1], "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "--") {
			out = append(out, strings.TrimSuffix(l, ";"))
		}
	}
	if len(out) == 0 {
		t.Fatal("the runbook's sql block is empty")
	}
	return out
}

// OrdinaryDSN follows the runbook's database step as the server's admin:
// a new login role, not a superuser, owning a new empty database, with
// only the rights the runbook lists. It returns that role's DSN on that
// database; both are dropped when t ends.
func OrdinaryDSN(t testing.TB) string {
	t.Helper()
	admin := pgtest.NewDSN(t) // a superuser's DSN (on a scratch database)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	name := "imp_" + hex.EncodeToString(b)
	for _, q := range RunbookSQL(t) {
		if _, err := c.Exec(ctx, strings.ReplaceAll(q, RunbookRole, name)); err != nil {
			t.Fatalf("runbook SQL %q: %v", q, err)
		}
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), admin)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
		_, _ = c.Exec(context.Background(), `DROP ROLE IF EXISTS `+name)
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(name, "change-me")
	u.Path = "/" + name
	dsn := u.String()
	rc, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close(ctx)
	var super string
	if err := rc.QueryRow(ctx, `SHOW is_superuser`).Scan(&super); err != nil || super != "off" {
		t.Fatal(errors.Join(err, errors.New("the runbook's role must not be a superuser")))
	}
	return dsn
}
