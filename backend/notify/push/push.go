// Package push delivers push notifications to phones through Expo's push
// service, from a durable outbox in PostgreSQL.
//
// The notify tier calls EnqueueTx in the transaction that records a
// notification, so a push exists exactly when its notification does. River
// (github.com/riverqueue/river) runs the rest as jobs over the same database:
//
//   - flush (every FlushInterval, and at once for urgent pushes): claims due
//     outbox rows with SKIP LOCKED, asks the Policy (presence, preferences,
//     quiet hours), resolves tokens, and turns the rows into send jobs of at
//     most 100 Expo messages, all in one transaction;
//   - send: one Expo request; 429/5xx retry with backoff (Retry-After is
//     honoured), MessageRateExceeded tickets are re-sent later, tickets with
//     DeviceNotRegistered remove the token, ok tickets schedule a receipts job;
//   - receipts: fetches receipts after ReceiptDelay and removes tokens Expo
//     reports as DeviceNotRegistered;
//   - cleanup (hourly): forgets old dedupe keys (River prunes its own rows).
//
// Non-urgent pushes to one user with one CollapseKey that arrive within
// BurstWindow merge while they wait: a chat burst becomes "3 new messages".
// Urgent pushes (calls) skip the window, quiet hours and the online check.
//
// Delivery is exactly once up to Expo's side: a crash before the send job's
// request leaves the row or the job, which the next worker takes. Expo has
// no idempotency key, so a worker that dies after Expo accepted a request
// and before it committed the tickets has that request sent again when
// River rescues the job (JobTimeout + RescueAfter later).
package push

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/db"
	"github.com/infliq/infliq/backend/platform/id"
)

// Message is one push to one user (all their registered devices).
type Message struct {
	UserID id.ID  // recipient
	Kind   string // "follow","like","comment","mention","message","call","missed_call","call_declined","story_reply"
	// Title and Body are a preview only; phone numbers and e-mail addresses
	// in them are masked before they leave.
	Title, Body string
	// Data is app routing data, e.g. {"callId":…, "callerId":…, "chatId":…}.
	Data map[string]string
	// CollapseKey: pushes with the same (UserID, CollapseKey) inside the
	// burst window collapse into one ("chat:<id>", "likes", "follows").
	// Empty never collapses.
	CollapseKey string
	// Urgent (calls): priority high, interruptionLevel time-sensitive, no
	// batching, quiet hours or online check.
	Urgent bool
	// DedupeKey is an idempotency key per recipient (e.g. the notification
	// event id): enqueueing the same (UserID, DedupeKey) twice sends once.
	DedupeKey string
	// CollapsedBody is the body when several pushes collapsed; "{count}" is
	// replaced by their number. Empty uses a default per Kind ("3 new
	// messages", "5 new likes").
	CollapsedBody string
	// TTL, when set, is how long Expo keeps trying to deliver (a ring is
	// useless after the call timed out).
	TTL time.Duration
}

// Policy is implemented by the notify tier (preferences, quiet hours, presence).
type Policy interface {
	// Allow reports whether a non-urgent push of kind may be sent to uid at time at;
	// if not now but later (quiet hours), resumeAt is when. allow=false and zero resumeAt drops it.
	Allow(ctx context.Context, uid id.ID, kind string, at time.Time) (allow bool, resumeAt time.Time, err error)
	// Online reports whether uid has a live realtime connection (then non-urgent pushes are skipped).
	Online(ctx context.Context, uid id.ID) (bool, error)
}

// OnlineBatcher may be implemented by a Policy to answer presence for many
// users in one call (one Redis pipeline instead of a round trip per user);
// the flush, which looks at up to FlushBatch users at once, uses it when it
// is there. Users missing from the map are offline.
type OnlineBatcher interface {
	OnlineMany(ctx context.Context, uids []id.ID) (map[id.ID]bool, error)
}

// DefaultExpoPushURL is Expo's production send endpoint.
const DefaultExpoPushURL = "https://exp.host/--/api/v2/push/send"

// Config shapes the Service. Zero fields take the defaults shown.
type Config struct {
	ExpoPushURL string        // EXPO_PUSH_URL, default DefaultExpoPushURL (receipts URL derived: …/getReceipts)
	AccessToken string        // EXPO_ACCESS_TOKEN, optional; never logged
	BurstWindow time.Duration // collapse window for non-urgent pushes (3s)

	Workers       int           // concurrent push jobs per process (8)
	FlushInterval time.Duration // how often due outbox rows are looked for (1s)
	FlushBatch    int           // outbox rows one flush transaction claims (1000)
	ReceiptDelay  time.Duration // wait before fetching receipts (15m; Expo keeps them 24h)
	MaxAttempts   int           // tries of one Expo request before it is given up (10)
	RetryBase     time.Duration // first retry delay, doubled per attempt (2s)
	RetryMax      time.Duration // longest retry delay (10m)
	RateRetries   int           // re-sends of a message answered MessageRateExceeded (5)
	DedupeTTL     time.Duration // how long dedupe keys are remembered (72h)
	HTTPTimeout   time.Duration // one Expo request (15s)
	// H2C speaks cleartext HTTP/2 to an http:// ExpoPushURL (the fake
	// server); https URLs negotiate HTTP/2 through ALPN regardless.
	H2C bool
	// HTTPClient replaces the built-in client (its Timeout is kept).
	HTTPClient *http.Client
	// RescueAfter: a job still running this long after it started is
	// considered orphaned by a dead process and retried (1m).
	RescueAfter time.Duration
	// PollOnly makes River poll instead of LISTEN/NOTIFY; New sets it when
	// the pool goes through PgBouncer in transaction mode.
	PollOnly bool
	// Now replaces the clock given to Policy.Allow (tests).
	Now func() time.Time
}

// ConfigFrom maps the environment's push section onto a Config.
func ConfigFrom(c config.Push) Config {
	return Config{
		ExpoPushURL:  c.ExpoPushURL,
		AccessToken:  c.ExpoAccessToken,
		BurstWindow:  c.BurstWindow.D(),
		Workers:      c.Workers,
		ReceiptDelay: c.ReceiptDelay.D(),
	}
}

func (c *Config) defaults() error {
	or := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.ExpoPushURL == "" {
		c.ExpoPushURL = DefaultExpoPushURL
	}
	if !strings.HasSuffix(c.ExpoPushURL, "/send") || !(strings.HasPrefix(c.ExpoPushURL, "https://") || strings.HasPrefix(c.ExpoPushURL, "http://")) {
		return errors.New("push: ExpoPushURL must be an http(s) URL ending in /send")
	}
	if c.BurstWindow < 0 {
		return errors.New("push: BurstWindow must not be negative")
	}
	if c.BurstWindow == 0 {
		c.BurstWindow = 3 * time.Second
	}
	if c.Workers <= 0 {
		c.Workers = 8
	}
	if c.FlushBatch <= 0 {
		c.FlushBatch = 1000
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 10
	}
	if c.RateRetries <= 0 {
		c.RateRetries = 5
	}
	or(&c.FlushInterval, time.Second)
	or(&c.ReceiptDelay, 15*time.Minute)
	or(&c.RetryBase, 2*time.Second)
	or(&c.RetryMax, 10*time.Minute)
	or(&c.DedupeTTL, 72*time.Hour)
	or(&c.HTTPTimeout, 15*time.Second)
	or(&c.RescueAfter, time.Minute)
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Queue is the River queue of every push job.
const Queue = "push"

// Service is the push outbox and its workers.
type Service struct {
	pool   *pgxpool.Pool
	cfg    Config
	policy Policy
	log    *slog.Logger
	expo   *expoClient
	river  *river.Client[pgx.Tx]
	stats  *Stats

	// retryAfter carries a 429's Retry-After from Work to NextRetry of the
	// same job (both run in this process, one after the other).
	retryAfter sync.Map // job id → time.Duration

	stopOnce sync.Once
}

// New builds the Service; Start runs its workers. EnqueueTx works without
// Start (an API process may only enqueue while workers run elsewhere).
func New(pool *pgxpool.Pool, cfg Config, policy Policy, log *slog.Logger) (*Service, error) {
	if pool == nil || policy == nil || log == nil {
		return nil, errors.New("push: New needs a pool, a policy and a logger")
	}
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if db.BehindPgBouncer(pool) {
		cfg.PollOnly = true // LISTEN and session advisory locks do not survive transaction pooling
	}
	s := &Service{pool: pool, cfg: cfg, policy: policy, log: log.With("component", "push"), stats: newStats()}
	s.expo = newExpoClient(cfg)
	workers := river.NewWorkers()
	river.AddWorker(workers, &flushWorker{s: s})
	river.AddWorker(workers, &sendWorker{s: s})
	river.AddWorker(workers, &receiptsWorker{s: s})
	river.AddWorker(workers, &cleanupWorker{s: s})
	poll := cfg.FlushInterval
	if poll > time.Second {
		poll = time.Second
	}
	rc, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues:                      map[string]river.QueueConfig{Queue: {MaxWorkers: cfg.Workers}},
		Workers:                     workers,
		Logger:                      s.log.With("component", "river"),
		MaxAttempts:                 cfg.MaxAttempts,
		RetryPolicy:                 &backoff{base: cfg.RetryBase, max: cfg.RetryMax},
		JobTimeout:                  cfg.HTTPTimeout + 10*time.Second,
		RescueStuckJobsAfter:        cfg.HTTPTimeout + 10*time.Second + cfg.RescueAfter,
		CompletedJobRetentionPeriod: time.Hour,
		CancelledJobRetentionPeriod: 7 * 24 * time.Hour,
		DiscardedJobRetentionPeriod: 7 * 24 * time.Hour,
		FetchPollInterval:           poll,
		FetchCooldown:               20 * time.Millisecond,
		PollOnly:                    cfg.PollOnly,
		PeriodicJobs: []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(cfg.FlushInterval), func() (river.JobArgs, *river.InsertOpts) {
				return flushArgs{}, &river.InsertOpts{Queue: Queue, Priority: 2}
			}, &river.PeriodicJobOpts{RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(time.Hour), func() (river.JobArgs, *river.InsertOpts) {
				return cleanupArgs{}, &river.InsertOpts{Queue: Queue, Priority: 4}
			}, &river.PeriodicJobOpts{RunOnStart: true}),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("push: river: %w", err)
	}
	s.river = rc
	return s, nil
}

// Start runs the workers (flush, send with retries, receipts, cleanup) in
// the background and returns; they run until ctx ends (then they drain as
// in Stop, for at most HTTPTimeout+5s) or Stop. Workers of other processes
// share the work through the database.
func (s *Service) Start(ctx context.Context) error {
	// River hard-stops (cancels running sends) when its start context ends;
	// a soft stop on ctx lets a send in flight record its tickets.
	if err := s.river.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("push: start: %w", err)
	}
	// The periodic flush is enqueued by River's elected leader, which after
	// a crash is only re-elected once the dead one's lease runs out: look at
	// the outbox once now so that a restart sends what waited at once.
	if _, err := s.river.Insert(ctx, flushArgs{}, &river.InsertOpts{Queue: Queue, Priority: 2}); err != nil {
		s.log.Warn("push: initial flush not queued", "err", err)
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), s.cfg.HTTPTimeout+5*time.Second)
		defer cancel()
		_ = s.Stop(sctx)
	}()
	return nil
}

// Stop drains: no new jobs are fetched and running ones finish, until ctx
// ends; then they are cancelled and River retries them later (a send cut
// off mid-request may then reach Expo twice; see README).
func (s *Service) Stop(ctx context.Context) error {
	var err error
	s.stopOnce.Do(func() {
		err = s.river.Stop(ctx)
		if err != nil && ctx.Err() != nil {
			hctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err = s.river.StopAndCancel(hctx)
		}
	})
	return err
}

// Limits of what one Message may carry; Expo refuses payloads over 4 KiB.
const (
	maxTitle     = 120 // runes
	maxBody      = 240 // runes
	maxKeyLen    = 200 // bytes, for CollapseKey and DedupeKey
	maxDataBytes = 2048
)

var (
	// Phone numbers and e-mail addresses never travel in a preview.
	phoneRe = regexp.MustCompile(`\+?\d[\d\s().-]{6,}\d`)
	emailRe = regexp.MustCompile(`[^\s@<>()]+@[^\s@<>()]+\.[A-Za-z]{2,}`)
)

// preview cleans a title or body: valid UTF-8, no control characters, no
// phone numbers or addresses, at most n runes.
func preview(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' || r == 0x7f {
			return -1
		}
		return r
	}, s)
	s = emailRe.ReplaceAllString(s, "•••")
	s = phoneRe.ReplaceAllString(s, "•••")
	if utf8.RuneCountInString(s) > n {
		r := []rune(s)
		s = string(r[:n-1]) + "…"
	}
	return s
}

func invalid(msg string) error { return apperr.New(connect.CodeInvalidArgument, msg) }

func checkKey(name, k string) error {
	if len(k) > maxKeyLen || !utf8.ValidString(k) || strings.IndexByte(k, 0) >= 0 {
		return invalid("push: " + name + " must be valid UTF-8 without NUL, at most 200 bytes")
	}
	return nil
}

// EnqueueTx records the pushes in tx (durable outbox: same transaction as
// the notification row). A message whose (UserID, DedupeKey) was enqueued
// before is skipped. Non-urgent messages wait BurstWindow and merge with
// others of the same (UserID, CollapseKey); urgent ones are flushed as soon
// as tx commits.
func (s *Service) EnqueueTx(ctx context.Context, tx pgx.Tx, msgs ...Message) error {
	if len(msgs) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	urgent := false
	for i := range msgs {
		m := &msgs[i]
		if m.UserID.IsZero() {
			return invalid("push: message without a recipient")
		}
		if m.Kind == "" || len(m.Kind) > 32 || !kindRe.MatchString(m.Kind) {
			return invalid("push: kind must be 1-32 lowercase letters or underscores")
		}
		if err := checkKey("CollapseKey", m.CollapseKey); err != nil {
			return err
		}
		if err := checkKey("DedupeKey", m.DedupeKey); err != nil {
			return err
		}
		data, err := cleanData(m.Data)
		if err != nil {
			return err
		}
		collapse, due := m.CollapseKey, s.cfg.BurstWindow.Seconds()
		if m.Urgent {
			collapse, due, urgent = "", 0, true
		}
		ttl := 0
		if m.TTL > 0 {
			ttl = int((m.TTL + time.Second - 1) / time.Second)
		}
		b.Queue(enqueueSQL, m.UserID.String(), m.DedupeKey, m.Kind, preview(m.Title, maxTitle), preview(m.Body, maxBody),
			preview(m.CollapsedBody, maxBody), data, collapse, m.Urgent, ttl, due)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("push: enqueue: %w", err)
	}
	if urgent {
		// Flush now rather than at the next tick; River wakes a worker
		// through NOTIFY when tx commits.
		if _, err := s.river.InsertTx(ctx, tx, flushArgs{Urgent: true}, &river.InsertOpts{Queue: Queue, Priority: 1}); err != nil {
			return fmt.Errorf("push: enqueue flush: %w", err)
		}
	}
	return nil
}

var kindRe = regexp.MustCompile(`^[a-z_]+$`)

// enqueueSQL records one message: the dedupe key first (skipping the
// message when it exists), then the outbox row, merged into the waiting row
// of the same (user, collapse key) if there is one. The merged row keeps its
// due time, so a steady stream still goes out once per window.
const enqueueSQL = `
WITH d AS (
  INSERT INTO push_dedupe (user_id, key) SELECT $1, $2 WHERE $2 <> ''
  ON CONFLICT DO NOTHING RETURNING 1
)
INSERT INTO push_outbox (user_id, kind, title, body, collapsed_body, data, collapse_key, urgent, ttl_seconds, due_at)
SELECT $1, $3, $4, $5, $6, $7, $8, $9, $10, now() + make_interval(secs => $11)
WHERE $2 = '' OR EXISTS (SELECT 1 FROM d)
ON CONFLICT (user_id, collapse_key) WHERE collapse_key <> '' DO UPDATE SET
  count = push_outbox.count + 1,
  kind = EXCLUDED.kind, title = EXCLUDED.title, body = EXCLUDED.body,
  collapsed_body = EXCLUDED.collapsed_body, data = EXCLUDED.data,
  ttl_seconds = EXCLUDED.ttl_seconds`

func cleanData(in map[string]string) ([]byte, error) {
	out := make(map[string]string, len(in))
	for k, v := range in {
		if !utf8.ValidString(k) || !utf8.ValidString(v) || strings.IndexByte(k, 0) >= 0 || strings.IndexByte(v, 0) >= 0 || k == "" {
			return nil, invalid("push: data keys and values must be valid UTF-8 without NUL")
		}
		out[k] = v
	}
	b, _ := json.Marshal(out)
	if len(b) > maxDataBytes {
		return nil, invalid("push: data must be at most 2 KiB")
	}
	return b, nil
}

// Token rules.
const maxTokensPerUser = 20

// ValidToken reports whether s is an Expo push token:
// ExponentPushToken[…] or ExpoPushToken[…].
func ValidToken(s string) bool { return tokenRe.MatchString(s) }

var tokenRe = regexp.MustCompile(`^(?:ExponentPushToken|ExpoPushToken)\[[A-Za-z0-9_-]{8,256}\]$`)

// RegisterToken records token as uid's device, under the auth session
// sessionID (logout on that device forgets it). A token already registered
// to another user moves to uid. Each user keeps their 20 newest tokens.
func (s *Service) RegisterToken(ctx context.Context, uid id.ID, token, platform, sessionID string) error {
	if uid.IsZero() {
		return invalid("push: no user")
	}
	if !ValidToken(token) {
		return apperr.FieldViolation("token", "push.token", "must be an Expo push token: ExponentPushToken[…] or ExpoPushToken[…]")
	}
	platform = strings.ToLower(platform)
	if platform != "ios" && platform != "android" {
		return apperr.FieldViolation("platform", "push.platform", "must be ios or android")
	}
	if len(sessionID) > 128 || !utf8.ValidString(sessionID) || strings.IndexByte(sessionID, 0) >= 0 {
		return invalid("push: bad session id")
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// One registration per user at a time keeps the cap exact (a
		// transaction-scoped lock: valid behind PgBouncer).
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('push_tokens:' || $1, 0))`, uid.String()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
INSERT INTO push_tokens (token, user_id, platform, session_id) VALUES ($1, $2, $3, $4)
ON CONFLICT (token) DO UPDATE SET user_id = EXCLUDED.user_id, platform = EXCLUDED.platform,
  session_id = EXCLUDED.session_id, registered_at = now(),
  created_at = CASE WHEN push_tokens.user_id = EXCLUDED.user_id THEN push_tokens.created_at ELSE now() END,
  last_used_at = CASE WHEN push_tokens.user_id = EXCLUDED.user_id THEN push_tokens.last_used_at END`,
			token, uid.String(), platform, sessionID); err != nil {
			if db.IsForeignKeyViolation(err) {
				return apperr.New(connect.CodeNotFound, "user not found")
			}
			return fmt.Errorf("push: register token: %w", err)
		}
		_, err := tx.Exec(ctx, `
DELETE FROM push_tokens WHERE token IN (
  SELECT token FROM push_tokens WHERE user_id = $1 ORDER BY registered_at DESC, token OFFSET $2)`, uid.String(), maxTokensPerUser)
		return err
	})
}

// UnregisterToken forgets token if it is uid's (another user's token is
// left alone, silently: the caller learns nothing about it).
func (s *Service) UnregisterToken(ctx context.Context, uid id.ID, token string) error {
	if !ValidToken(token) {
		return apperr.FieldViolation("token", "push.token", "must be an Expo push token: ExponentPushToken[…] or ExpoPushToken[…]")
	}
	_, err := s.pool.Exec(ctx, `DELETE FROM push_tokens WHERE user_id = $1 AND token = $2`, uid.String(), token)
	return err
}

// ForgetSession forgets the tokens uid registered under sessionID (logout
// on that device).
func (s *Service) ForgetSession(ctx context.Context, uid id.ID, sessionID string) error {
	if sessionID == "" {
		return invalid("push: no session id")
	}
	_, err := s.pool.Exec(ctx, `DELETE FROM push_tokens WHERE user_id = $1 AND session_id = $2`, uid.String(), sessionID)
	return err
}

// ForgetUser forgets every token of uid and drops their waiting pushes
// (account deletion). Send jobs already built re-check tokens, so nothing
// more reaches the user's phones.
func (s *Service) ForgetUser(ctx context.Context, uid id.ID) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, q := range []string{
			`DELETE FROM push_tokens WHERE user_id = $1`,
			`DELETE FROM push_outbox WHERE user_id = $1`,
			`DELETE FROM push_dedupe WHERE user_id = $1`,
		} {
			if _, err := tx.Exec(ctx, q, uid.String()); err != nil {
				return fmt.Errorf("push: forget user: %w", err)
			}
		}
		return nil
	})
}
