package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/infliq/infliq/backend/admin"
	"github.com/infliq/infliq/backend/auth/phone"
	"github.com/infliq/infliq/backend/platform/db"
	"github.com/infliq/infliq/backend/platform/id"
)

const adminUsage = `usage: infliq admin grant|revoke <phone|user-id> <admin|moderator>
       infliq admin list`

// runAdminCLI is `infliq admin grant|revoke|list`: how the first admin is
// made (DATABASE_URL). Entries are logged with the zero actor id (the CLI).
func runAdminCLI(ctx context.Context, args []string, out io.Writer) error {
	cfg, _, err := loadConfig()
	if err != nil {
		return err
	}
	if cfg.DatabaseURL == "" {
		return errors.New("DATABASE_URL is required")
	}
	sub := args[0]
	switch {
	case sub == "list" && len(args) == 1:
	case (sub == "grant" || sub == "revoke") && len(args) == 3:
	default:
		return errors.New(adminUsage)
	}
	pool, err := db.Open(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	if sub == "list" {
		rows, err := pool.Query(ctx, `SELECT r.user_id, u.name, r.role, r.created_at FROM admin_roles r JOIN users u ON u.id = r.user_id ORDER BY r.role, r.user_id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "USER\tNAME\tROLE\tSINCE")
		for rows.Next() {
			var uid, name, role string
			var at any
			if err := rows.Scan(&uid, &name, &role, &at); err != nil {
				return err
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%v\n", uid, name, role, at)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		return w.Flush()
	}
	who, role := args[1], strings.ToLower(args[2])
	if role != admin.RoleAdmin && role != admin.RoleModerator {
		return fmt.Errorf("unknown role %q (admin or moderator)\n%s", role, adminUsage)
	}
	uid, err := id.Parse(strings.ToLower(who))
	if err != nil {
		ph, perr := phone.Normalize(who, cfg.OTP.DefaultCountry)
		if perr != nil {
			return fmt.Errorf("%q is neither a user id nor a phone number", who)
		}
		if err := pool.QueryRow(ctx, `SELECT user_id FROM auth_credentials WHERE phone = $1`, ph).Scan(&uid); err != nil {
			if db.IsNoRows(err) {
				return fmt.Errorf("no account with phone %s (log in once to create it)", phone.Mask(ph))
			}
			return err
		}
	}
	var changed bool
	if sub == "grant" {
		_, changed, err = admin.Grant(ctx, pool, id.Nil, uid, role, "infliq admin grant (CLI)")
	} else {
		_, changed, err = admin.Revoke(ctx, pool, id.Nil, uid, role, "infliq admin revoke (CLI)")
	}
	if errors.Is(err, admin.ErrNoSuchUser) {
		return fmt.Errorf("user %s has no profile (log in once to create it)", uid)
	}
	if err != nil {
		return err
	}
	switch {
	case changed && sub == "grant":
		fmt.Fprintf(out, "granted %s to %s\n", role, uid)
	case changed:
		fmt.Fprintf(out, "revoked %s from %s\n", role, uid)
	case sub == "grant":
		fmt.Fprintf(out, "%s already has %s\n", uid, role)
	default:
		fmt.Fprintf(out, "%s does not have %s\n", uid, role)
	}
	return nil
}
