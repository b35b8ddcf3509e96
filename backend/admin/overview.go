package admin

import (
	"context"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/durationpb"

	adminv1 "github.com/infliq/infliq/backend/gen/infliq/admin/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/db"
	"github.com/infliq/infliq/backend/platform/id"
)

// overviewSQL computes the per-day series in one statement, from the
// owners' tables (no counters to maintain). Each series reads only the
// window's rows through an index: ids are ObjectIds that start with their
// creation second, so `id >= $3` (the first id of the window) is a
// primary-key (or messages_id_idx) range; refresh tokens by issued_at
// (auth_refresh_tokens_issued_idx). Reports are few and read through the
// moderation_reports view. Cost grows with the window's rows (posts,
// messages and refreshes of 30 days), not with the tables; BENCHMARKS.md
// has the measured figure.
//
// $1 first day (date, UTC), $2 last day, $3 first ObjectId of $1.
const overviewSQL = `WITH days AS (
		SELECT generate_series($1::date, $2::date, interval '1 day')::date AS d
	), signups AS (
		SELECT (created_at AT TIME ZONE 'UTC')::date AS d, count(*) AS n FROM users WHERE id >= $3 GROUP BY 1
	), n_posts AS (
		SELECT (created_at AT TIME ZONE 'UTC')::date AS d, count(*) AS n FROM posts WHERE id >= $3 GROUP BY 1
	), n_msgs AS (
		SELECT (created_at AT TIME ZONE 'UTC')::date AS d, count(*) AS n FROM messages WHERE id >= $3 GROUP BY 1
	), n_calls AS (
		SELECT (created_at AT TIME ZONE 'UTC')::date AS d, count(*) AS n FROM calls WHERE id >= $3 GROUP BY 1
	), active AS (
		SELECT d, count(DISTINCT uid) AS n FROM (
			SELECT (t.issued_at AT TIME ZONE 'UTC')::date AS d, s.user_id AS uid
			FROM auth_refresh_tokens t JOIN auth_sessions s ON s.id = t.session_id WHERE t.issued_at >= $1::date
			UNION ALL SELECT (created_at AT TIME ZONE 'UTC')::date, user_id FROM posts WHERE id >= $3
			UNION ALL SELECT (created_at AT TIME ZONE 'UTC')::date, sender_id FROM messages WHERE id >= $3
		) a GROUP BY d
	), r AS MATERIALIZED (
		-- One pass over the reports of every kind for the four series below.
		SELECT created_at, resolved_at FROM moderation_reports
	), reports AS (
		SELECT (created_at AT TIME ZONE 'UTC')::date AS d, count(*) AS n FROM r
		WHERE created_at >= $1::date GROUP BY 1
	), tta AS (
		SELECT (resolved_at AT TIME ZONE 'UTC')::date AS d,
			percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM resolved_at - created_at)) AS secs
		FROM r WHERE resolved_at >= $1::date GROUP BY 1
	), opened AS (
		SELECT (created_at AT TIME ZONE 'UTC')::date AS d, count(*) AS n FROM r GROUP BY 1
	), closed AS (
		SELECT (resolved_at AT TIME ZONE 'UTC')::date AS d, count(*) AS n FROM r WHERE resolved_at IS NOT NULL GROUP BY 1
	), backlog AS (
		-- Reports open at the end of each day: filed by then minus resolved
		-- by then, as running sums over one pass of the reports.
		SELECT days.d, (sum(coalesce(o.n, 0)) OVER w - sum(coalesce(c.n, 0)) OVER w
			+ (SELECT count(*) FROM r WHERE created_at < $1::date)
			- (SELECT count(*) FROM r WHERE resolved_at < $1::date)) AS n
		FROM days LEFT JOIN opened o ON o.d = days.d LEFT JOIN closed c ON c.d = days.d
		WINDOW w AS (ORDER BY days.d)
	)
	SELECT to_char(days.d, 'YYYY-MM-DD'), coalesce(signups.n, 0)::int, coalesce(active.n, 0)::int, coalesce(n_posts.n, 0)::int,
		coalesce(n_msgs.n, 0)::int, coalesce(n_calls.n, 0)::int, coalesce(reports.n, 0)::int, backlog.n::int,
		tta.secs
	FROM days
	LEFT JOIN signups ON signups.d = days.d LEFT JOIN n_posts ON n_posts.d = days.d LEFT JOIN n_msgs ON n_msgs.d = days.d
	LEFT JOIN n_calls ON n_calls.d = days.d LEFT JOIN active ON active.d = days.d LEFT JOIN reports ON reports.d = days.d
	LEFT JOIN tta ON tta.d = days.d JOIN backlog ON backlog.d = days.d
	ORDER BY days.d`

// GetOverview returns the per-day series of the last days (UTC, today included).
func (s *Service) GetOverview(ctx context.Context, req *connect.Request[adminv1.GetOverviewRequest]) (*connect.Response[adminv1.GetOverviewResponse], error) {
	if _, err := s.require(ctx, false); err != nil {
		return nil, err
	}
	days := int(req.Msg.GetDays())
	if days <= 0 {
		days = 30
	}
	days = min(days, 90)
	res, err := s.overview(ctx, time.Now(), days)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(res), nil
}

func (s *Service) overview(ctx context.Context, now time.Time, days int) (*adminv1.GetOverviewResponse, error) {
	last := now.UTC().Truncate(24 * time.Hour)
	first := last.AddDate(0, 0, -(days - 1))
	res := &adminv1.GetOverviewResponse{}
	// The joins of thirty generated days mislead the planner's row
	// estimates into costs that start JIT compilation, which took 4.4 s of
	// the 4.6 s this statement cost (BENCHMARKS.md); it runs in
	// milliseconds without it. SET LOCAL stays valid behind PgBouncer.
	err := db.InTx(ctx, s.o.DB, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL jit = off`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, overviewSQL, first.Format("2006-01-02"), last.Format("2006-01-02"), id.MinAt(first).String())
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				p    adminv1.DayPoint
				secs *float64
			)
			if err := rows.Scan(&p.Day, &p.Signups, &p.ActiveUsers, &p.Posts, &p.Messages, &p.Calls, &p.Reports, &p.OpenReports, &secs); err != nil {
				return err
			}
			if secs != nil {
				p.MedianTimeToAction = durationpb.New(time.Duration(*secs * float64(time.Second)).Truncate(time.Second))
			}
			res.Days = append(res.Days, &p)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, apperr.Internal(err)
	}
	var oldest *time.Time
	if err := s.o.DB.QueryRow(ctx, `SELECT count(*) FROM (SELECT DISTINCT kind, target_id FROM moderation_reports WHERE resolved_at IS NULL) o`).
		Scan(&res.OpenTargets); err != nil {
		return nil, apperr.Internal(err)
	}
	if err := s.o.DB.QueryRow(ctx, `SELECT min(created_at) FROM moderation_reports WHERE resolved_at IS NULL`).Scan(&oldest); err != nil {
		return nil, apperr.Internal(err)
	}
	if oldest != nil {
		res.OldestOpenAge = durationpb.New(now.Sub(*oldest).Truncate(time.Second))
	}
	return res, nil
}
