package admin

import (
	"context"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"

	adminv1 "github.com/infliq/infliq/backend/gen/infliq/admin/v1"
	authv1 "github.com/infliq/infliq/backend/gen/infliq/auth/v1"
	"github.com/infliq/infliq/backend/platform/db"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/job"
)

// ExpiryInterval is how often ended suspensions are closed.
const ExpiryInterval = time.Minute

// RunExpiry closes suspensions that ended on their own, until ctx ends.
func (s *Service) RunExpiry(ctx context.Context, every time.Duration, log *slog.Logger) {
	job.Every(ctx, every, func(ctx context.Context) {
		n, err := s.CloseExpired(ctx)
		if err != nil && ctx.Err() == nil {
			log.WarnContext(ctx, "suspension expiry failed", "err", err)
		} else if n > 0 {
			log.InfoContext(ctx, "ended suspensions closed", "count", n)
		}
	})
}

// CloseExpired finishes suspensions whose end has passed: login already
// works again (auth compares the end with the clock), and this shows the
// user's content again, clears the suspension at auth and logs an
// unsuspension without an actor. One replica at a time (a transaction
// advisory lock); each step is idempotent, so a crash midway is finished
// by the next run.
func (s *Service) CloseExpired(ctx context.Context) (int, error) {
	n := 0
	err := db.InTx(ctx, s.o.DB, func(tx pgx.Tx) error {
		var mine bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtextextended('moderation:expiry', 0))`).Scan(&mine); err != nil || !mine {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT user_id FROM auth_credentials WHERE suspended_until <= now() ORDER BY suspended_until LIMIT 100`)
		if err != nil {
			return err
		}
		uids, err := pgx.CollectRows(rows, pgx.RowTo[id.ID])
		if err != nil {
			return err
		}
		for _, uid := range uids {
			if _, err := s.o.Accounts.LiftSuspension(ctx, connect.NewRequest(&authv1.LiftSuspensionRequest{UserId: uid.String()})); err != nil {
				return err
			}
			if err := s.hideAuthor(ctx, uid, false); err != nil {
				return err
			}
			if _, err := s.record(ctx, entry{action: adminv1.Action_ACTION_UNSUSPEND_USER, target: target{Kind: "user", ID: uid},
				reason: "suspension ended"}); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}
