package push

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/infliq/infliq/backend/platform/id"
)

// flushArgs: turn due outbox rows into send jobs.
type flushArgs struct {
	Urgent bool `json:"urgent,omitempty"`
}

func (flushArgs) Kind() string { return "push_flush" }

// sendArgs: one Expo request of at most 100 messages.
type sendArgs struct {
	Urgent bool   `json:"urgent,omitempty"`
	Items  []item `json:"items"`
	// Resend counts re-sends after MessageRateExceeded tickets.
	Resend int `json:"resend,omitempty"`
}

func (sendArgs) Kind() string { return "push_send" }

type item struct {
	User string      `json:"u"`
	Msg  expoMessage `json:"m"`
}

// receiptsArgs: fetch the receipts of accepted tickets.
type receiptsArgs struct {
	Tickets []ticketRef `json:"tickets"`
	SentAt  time.Time   `json:"sent_at"`
	Round   int         `json:"round,omitempty"`
}

func (receiptsArgs) Kind() string { return "push_receipts" }

type ticketRef struct {
	ID    string `json:"id"`
	Token string `json:"t"`
}

// cleanupArgs: forget old dedupe keys.
type cleanupArgs struct{}

func (cleanupArgs) Kind() string { return "push_cleanup" }

// backoff doubles from base up to max, with ±20% jitter so that retries of
// many jobs do not arrive together.
type backoff struct{ base, max time.Duration }

func (b *backoff) delay(attempt int) time.Duration {
	d := b.base
	for i := 1; i < attempt && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// NextRetry implements river.ClientRetryPolicy.
func (b *backoff) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(b.delay(job.Attempt))
}

type flushWorker struct {
	river.WorkerDefaults[flushArgs]
	s *Service
}

func (w *flushWorker) Work(ctx context.Context, job *river.Job[flushArgs]) error {
	return w.s.flush(ctx)
}

// outRow is one claimed outbox row.
type outRow struct {
	id                       int64
	user                     id.ID
	kind, title, body, cbody string
	data                     map[string]string
	count                    int
	urgent                   bool
	ttl                      int
}

// policyRetry is how long a row waits when the Policy failed.
const policyRetry = 5 * time.Second

// flush claims due outbox rows and, in the same transaction, replaces them
// by send jobs (or defers or drops them as the Policy says). A crash at any
// point leaves either the rows or the send jobs, never both or neither.
func (s *Service) flush(ctx context.Context) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	rows, err := tx.Query(ctx, `
SELECT id, user_id, kind, title, body, collapsed_body, data, count, urgent, ttl_seconds
FROM push_outbox WHERE due_at <= now()
ORDER BY urgent DESC, due_at LIMIT $1 FOR UPDATE SKIP LOCKED`, s.cfg.FlushBatch)
	if err != nil {
		return fmt.Errorf("push: claim: %w", err)
	}
	var claimed []outRow
	for rows.Next() {
		var r outRow
		var uid string
		var data []byte
		if err := rows.Scan(&r.id, &uid, &r.kind, &r.title, &r.body, &r.cbody, &data, &r.count, &r.urgent, &r.ttl); err != nil {
			rows.Close()
			return err
		}
		r.user, _ = id.Parse(uid)
		_ = json.Unmarshal(data, &r.data)
		claimed = append(claimed, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(claimed) == 0 {
		return nil
	}

	now := s.cfg.Now()
	var (
		send     []outRow
		done     []int64 // sent or dropped: delete
		deferIDs []int64
		deferTo  []time.Time
		online   = map[id.ID]bool{}
	)
	later := func(r outRow, at time.Time) { deferIDs, deferTo = append(deferIDs, r.id), append(deferTo, at) }
	if ob, ok := s.policy.(OnlineBatcher); ok {
		var uids []id.ID
		for _, r := range claimed {
			if _, seen := online[r.user]; !r.urgent && !seen {
				online[r.user] = false
				uids = append(uids, r.user)
			}
		}
		if len(uids) > 0 {
			on, err := ob.OnlineMany(ctx, uids)
			if err != nil {
				s.log.Warn("push policy: online check failed; retrying later", "users", len(uids), "err", err)
				clear(online) // fall back to asking one by one below
			} else {
				for u, v := range on {
					online[u] = v
				}
			}
		}
	}
	for _, r := range claimed {
		if r.urgent {
			send = append(send, r)
			continue
		}
		on, seen := online[r.user]
		if !seen {
			var err error
			if on, err = s.policy.Online(ctx, r.user); err != nil {
				s.log.Warn("push policy: online check failed; retrying later", "user_id", r.user.String(), "err", err)
				later(r, now.Add(policyRetry))
				continue
			}
			online[r.user] = on
		}
		if on {
			s.stats.add(&s.stats.SkippedOnline, 1)
			done = append(done, r.id)
			continue
		}
		allow, resume, err := s.policy.Allow(ctx, r.user, r.kind, now)
		switch {
		case err != nil:
			s.log.Warn("push policy: allow failed; retrying later", "user_id", r.user.String(), "err", err)
			later(r, now.Add(policyRetry))
		case allow:
			send = append(send, r)
		case resume.IsZero():
			s.stats.add(&s.stats.Dropped, 1)
			done = append(done, r.id)
		default:
			s.stats.add(&s.stats.Deferred, 1)
			later(r, resume) // stays open: more of the same key merge into it
		}
	}

	// Every device of every recipient.
	tokens := map[id.ID][]string{}
	if len(send) > 0 {
		users := make([]string, 0, len(send))
		for _, r := range send {
			users = append(users, r.user.String())
		}
		trows, err := tx.Query(ctx, `SELECT user_id, token FROM push_tokens WHERE user_id = ANY($1) ORDER BY user_id, registered_at`, users)
		if err != nil {
			return fmt.Errorf("push: tokens: %w", err)
		}
		for trows.Next() {
			var u, t string
			if err := trows.Scan(&u, &t); err != nil {
				trows.Close()
				return err
			}
			uid, _ := id.Parse(u)
			tokens[uid] = append(tokens[uid], t)
		}
		trows.Close()
		if err := trows.Err(); err != nil {
			return err
		}
	}
	var urgentItems, items []item
	for _, r := range send {
		done = append(done, r.id)
		m := r.expo()
		for _, t := range tokens[r.user] {
			m.To = t
			it := item{User: r.user.String(), Msg: m}
			if r.urgent {
				urgentItems = append(urgentItems, it)
			} else {
				items = append(items, it)
			}
		}
		if len(tokens[r.user]) == 0 {
			s.stats.add(&s.stats.NoDevice, 1)
		}
	}
	var jobs []river.InsertManyParams
	chunk := func(all []item, urgent bool, prio int) {
		for len(all) > 0 {
			n := min(len(all), maxPerRequest)
			jobs = append(jobs, river.InsertManyParams{
				Args:       sendArgs{Urgent: urgent, Items: all[:n:n]},
				InsertOpts: &river.InsertOpts{Queue: Queue, Priority: prio},
			})
			all = all[n:]
		}
	}
	chunk(urgentItems, true, 1)
	chunk(items, false, 2)
	if len(claimed) == s.cfg.FlushBatch {
		// More may be due: let other workers drain it in parallel now
		// rather than at the next tick.
		for i := 0; i < 2; i++ {
			jobs = append(jobs, river.InsertManyParams{Args: flushArgs{}, InsertOpts: &river.InsertOpts{Queue: Queue, Priority: 2}})
		}
	}
	if len(jobs) > 0 {
		if _, err := s.river.InsertManyTx(ctx, tx, jobs); err != nil {
			return fmt.Errorf("push: insert send jobs: %w", err)
		}
	}
	if len(done) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM push_outbox WHERE id = ANY($1)`, done); err != nil {
			return err
		}
	}
	if len(deferIDs) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE push_outbox o SET due_at = v.due
FROM unnest($1::bigint[], $2::timestamptz[]) AS v(id, due) WHERE o.id = v.id`, deferIDs, deferTo); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// expo renders an outbox row as an Expo message (without its recipient).
func (r outRow) expo() expoMessage {
	data := make(map[string]string, len(r.data)+2)
	for k, v := range r.data {
		data[k] = v
	}
	data["kind"] = r.kind
	m := expoMessage{Title: r.title, Body: r.body, Data: data, TTL: r.ttl}
	if r.count > 1 {
		data["count"] = strconv.Itoa(r.count)
		tpl := r.cbody
		if tpl == "" {
			tpl = collapsedBody(r.kind)
		}
		m.Body = strings.ReplaceAll(tpl, "{count}", strconv.Itoa(r.count))
	}
	switch {
	case r.urgent:
		m.Priority, m.InterruptionLevel, m.Sound = "high", "time-sensitive", "default"
	case r.kind == "message":
		m.Priority, m.Sound = "high", "default"
	default:
		m.Priority = "default"
	}
	m.ChannelID = channelOf(r.kind, r.urgent)
	return m
}

// Android notification channels, as the SDK's expo-notifications recipe
// creates them (clients/ts/README.md): "calls" rings (max importance,
// lock screen), "messages" is high importance, "default" the rest. iOS
// ignores channelId.
const (
	ChannelCalls    = "calls"
	ChannelMessages = "messages"
	ChannelDefault  = "default"
)

func channelOf(kind string, urgent bool) string {
	switch {
	case urgent && kind == "call":
		return ChannelCalls
	case kind == "message":
		return ChannelMessages
	default:
		return ChannelDefault
	}
}

// collapsedBody is the default body of a collapsed push, per kind.
func collapsedBody(kind string) string {
	switch kind {
	case "message":
		return "{count} new messages"
	case "like":
		return "{count} new likes"
	case "follow":
		return "{count} new followers"
	case "comment":
		return "{count} new comments"
	case "mention":
		return "{count} new mentions"
	case "story_reply":
		return "{count} new replies to your story"
	case "missed_call":
		return "{count} missed calls"
	default:
		return "{count} new notifications"
	}
}

type sendWorker struct {
	river.WorkerDefaults[sendArgs]
	s *Service
}

// NextRetry honours a 429's Retry-After when it is longer than the backoff.
func (w *sendWorker) NextRetry(job *river.Job[sendArgs]) time.Time {
	if v, ok := w.s.retryAfter.LoadAndDelete(job.ID); ok {
		b := &backoff{base: w.s.cfg.RetryBase, max: w.s.cfg.RetryMax}
		return time.Now().Add(max(v.(time.Duration), b.delay(job.Attempt)))
	}
	return time.Time{} // the client's policy
}

func (w *sendWorker) Work(ctx context.Context, job *river.Job[sendArgs]) error {
	s := w.s
	// Tokens may have been forgotten (logout, account deletion, another
	// DeviceNotRegistered) or moved to another user since the flush.
	toks := make([]string, len(job.Args.Items))
	for i, it := range job.Args.Items {
		toks[i] = it.Msg.To
	}
	owner := map[string]string{}
	rows, err := s.pool.Query(ctx, `SELECT token, user_id FROM push_tokens WHERE token = ANY($1)`, toks)
	if err != nil {
		return err
	}
	for rows.Next() {
		var t, u string
		if err := rows.Scan(&t, &u); err != nil {
			rows.Close()
			return err
		}
		owner[t] = u
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var items []item
	var msgs []expoMessage
	for _, it := range job.Args.Items {
		if owner[it.Msg.To] == it.User {
			items = append(items, it)
			msgs = append(msgs, it.Msg)
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	sentAt := time.Now()
	s.stats.add(&s.stats.Requests, 1)
	tickets, err := s.expo.send(ctx, msgs)
	if err != nil {
		var ee *expoError
		if errors.As(err, &ee) && !ee.Retryable() {
			s.stats.add(&s.stats.Failed, int64(len(msgs)))
			s.log.Error("push: Expo refused a request", "status", ee.Status, "code", ee.Code, "messages", len(msgs))
			return river.JobCancel(err)
		}
		if ee != nil && ee.RetryAfter > 0 && job.Attempt < job.MaxAttempts {
			s.retryAfter.Store(job.ID, ee.RetryAfter)
		}
		s.stats.add(&s.stats.Retried, 1)
		s.log.Warn("push: Expo request failed; retrying with backoff", "err", err, "attempt", job.Attempt, "messages", len(msgs))
		return err
	}
	if len(tickets) != len(msgs) {
		// Expo answers one ticket per message, in order. Anything else
		// cannot be matched up; re-sending would duplicate what went out.
		s.log.Error("push: Expo answered a ticket count that does not match the request", "sent", len(msgs), "tickets", len(tickets))
		return nil
	}
	var (
		refs   []ticketRef
		okToks []string
		dead   []string
		resend []item
	)
	for i, t := range tickets {
		switch {
		case t.Status == "ok":
			refs = append(refs, ticketRef{ID: t.ID, Token: items[i].Msg.To})
			okToks = append(okToks, items[i].Msg.To)
		case t.Details.Error == "DeviceNotRegistered":
			dead = append(dead, items[i].Msg.To)
		case t.Details.Error == "MessageRateExceeded":
			resend = append(resend, items[i])
		default:
			s.stats.add(&s.stats.Failed, 1)
			s.log.Warn("push: Expo refused a message", "error", t.Details.Error, "user_id", items[i].User)
		}
	}
	s.stats.add(&s.stats.Sent, int64(len(refs)))
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if err := s.removeTokens(ctx, tx, dead, sentAt); err != nil {
		return err
	}
	if len(okToks) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE push_tokens SET last_used_at = $2 WHERE token = ANY($1)`, okToks, sentAt); err != nil {
			return err
		}
	}
	var next []river.InsertManyParams
	if len(refs) > 0 {
		next = append(next, river.InsertManyParams{Args: receiptsArgs{Tickets: refs, SentAt: sentAt},
			InsertOpts: &river.InsertOpts{Queue: Queue, Priority: 3, ScheduledAt: sentAt.Add(s.cfg.ReceiptDelay)}})
	}
	if len(resend) > 0 {
		if job.Args.Resend < s.cfg.RateRetries {
			b := &backoff{base: s.cfg.RetryBase, max: s.cfg.RetryMax}
			next = append(next, river.InsertManyParams{Args: sendArgs{Urgent: job.Args.Urgent, Items: resend, Resend: job.Args.Resend + 1},
				InsertOpts: &river.InsertOpts{Queue: Queue, Priority: 2, ScheduledAt: time.Now().Add(b.delay(job.Args.Resend + 1))}})
			s.stats.add(&s.stats.Retried, int64(len(resend)))
		} else {
			s.stats.add(&s.stats.Failed, int64(len(resend)))
			s.log.Warn("push: giving up on messages Expo keeps rate-limiting", "messages", len(resend))
		}
	}
	if len(next) > 0 {
		if _, err := s.river.InsertManyTx(ctx, tx, next); err != nil {
			return err
		}
	}
	// Completing in the same transaction: follow-up jobs exist exactly when
	// this one is done, even across a crash right after the commit.
	if _, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// removeTokens deletes tokens Expo called DeviceNotRegistered, unless they
// were registered again after the push went out.
func (s *Service) removeTokens(ctx context.Context, tx pgx.Tx, dead []string, sentAt time.Time) error {
	if len(dead) == 0 {
		return nil
	}
	tag, err := tx.Exec(ctx, `DELETE FROM push_tokens WHERE token = ANY($1) AND registered_at <= $2`, dead, sentAt)
	if err != nil {
		return err
	}
	s.stats.add(&s.stats.TokensRemoved, tag.RowsAffected())
	s.log.Info("push: removed tokens Expo reports as not registered", "count", tag.RowsAffected())
	return nil
}

type receiptsWorker struct {
	river.WorkerDefaults[receiptsArgs]
	s *Service
}

// maxReceiptRounds: receipts still missing after this many looks are given up.
const maxReceiptRounds = 3

func (w *receiptsWorker) Work(ctx context.Context, job *river.Job[receiptsArgs]) error {
	s := w.s
	ids := make([]string, len(job.Args.Tickets))
	for i, t := range job.Args.Tickets {
		ids[i] = t.ID
	}
	res := map[string]receipt{}
	for start := 0; start < len(ids); start += maxReceiptIDs {
		part, err := s.expo.receipts(ctx, ids[start:min(start+maxReceiptIDs, len(ids))])
		if err != nil {
			var ee *expoError
			if errors.As(err, &ee) && !ee.Retryable() {
				return river.JobCancel(err)
			}
			return err
		}
		for k, v := range part {
			res[k] = v
		}
	}
	var dead []string
	var missing []ticketRef
	for _, t := range job.Args.Tickets {
		r, ok := res[t.ID]
		switch {
		case !ok:
			missing = append(missing, t)
		case r.Status == "ok":
		case r.Details.Error == "DeviceNotRegistered":
			dead = append(dead, t.Token)
		default:
			s.stats.add(&s.stats.Failed, 1)
			s.log.Warn("push: Expo receipt reports an error", "error", r.Details.Error)
		}
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if err := s.removeTokens(ctx, tx, dead, job.Args.SentAt); err != nil {
		return err
	}
	if len(missing) > 0 && job.Args.Round+1 < maxReceiptRounds {
		if _, err := s.river.InsertTx(ctx, tx, receiptsArgs{Tickets: missing, SentAt: job.Args.SentAt, Round: job.Args.Round + 1},
			&river.InsertOpts{Queue: Queue, Priority: 3, ScheduledAt: time.Now().Add(s.cfg.ReceiptDelay)}); err != nil {
			return err
		}
	}
	if _, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

type cleanupWorker struct {
	river.WorkerDefaults[cleanupArgs]
	s *Service
}

func (w *cleanupWorker) Work(ctx context.Context, job *river.Job[cleanupArgs]) error {
	_, err := w.s.pool.Exec(ctx, `DELETE FROM push_dedupe WHERE created_at < now() - make_interval(secs => $1)`, w.s.cfg.DedupeTTL.Seconds())
	return err
}
