package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/infliq/infliq/backend/platform/db"
	"github.com/infliq/infliq/backend/platform/id"
)

// cred is one auth_credentials row.
type cred struct {
	UserID        id.ID
	Phone         string
	Email         string
	PasswordHash  string
	NeedsReset    bool
	PhoneVerified bool
	ProfileReady  bool
	// SuspendedUntil is set while a moderator's suspension or ban (year
	// 9999 and later: no end) may be running; compare with now.
	SuspendedUntil *time.Time
}

// store is the SQL of the auth tier: auth_credentials, auth_sessions and
// auth_refresh_tokens, which only this service writes.
type store struct {
	db *pgxpool.Pool
}

var errExists = errors.New("auth: credentials exist")

const credCols = `user_id, coalesce(phone, ''), coalesce(email, ''), coalesce(password_hash, ''),
	needs_password_reset, phone_verified_at IS NOT NULL, profile_ready,
	CASE WHEN suspended_until = 'infinity' THEN '9999-12-31'::timestamptz ELSE suspended_until END`

func scanCred(row pgx.Row) (cred, error) {
	var c cred
	err := row.Scan(&c.UserID, &c.Phone, &c.Email, &c.PasswordHash, &c.NeedsReset, &c.PhoneVerified, &c.ProfileReady, &c.SuspendedUntil)
	return c, err
}

// phoneAccount returns the account of a verified phone, creating it (as
// uid) when there is none. Logins of existing accounts, the common case,
// cost one indexed read.
func (s *store) phoneAccount(ctx context.Context, uid id.ID, phone string) (cred, bool, error) {
	for range 3 { // a concurrent first login can hide the row from one statement's snapshot
		c, err := scanCred(s.db.QueryRow(ctx, `SELECT `+credCols+` FROM auth_credentials WHERE phone = $1`, phone))
		if err == nil {
			return c, false, nil
		}
		if !db.IsNoRows(err) {
			return cred{}, false, err
		}
		c, err = scanCred(s.db.QueryRow(ctx, `
			INSERT INTO auth_credentials (user_id, phone, phone_verified_at) VALUES ($1, $2, now())
			ON CONFLICT (phone) DO NOTHING
			RETURNING `+credCols, uid, phone))
		if err == nil {
			return c, true, nil
		}
		if !db.IsNoRows(err) {
			return cred{}, false, err
		}
	}
	return cred{}, false, errors.New("auth: phone account vanished during login")
}

// phoneLogin opens a session for the account of phone in one statement when
// that account is ready for it (phone verified, profile created, not
// suspended). opened is
// false otherwise, or when there is no account; c is then empty.
func (s *store) phoneLogin(ctx context.Context, phone string, sid id.ID, tokenHash []byte, exp time.Time) (c cred, opened bool, err error) {
	err = s.db.QueryRow(ctx, `
		WITH a AS (
		  SELECT user_id, coalesce(email, '') AS email FROM auth_credentials
		  WHERE phone = $1 AND phone_verified_at IS NOT NULL AND profile_ready
		    AND (suspended_until IS NULL OR suspended_until <= now())
		),
		c AS (`+asyncCommit+`),
		s AS (INSERT INTO auth_sessions (id, user_id, expires_at) SELECT $2, a.user_id, $4 FROM a, c RETURNING id),
		t AS (INSERT INTO auth_refresh_tokens (token_hash, session_id, expires_at) SELECT $3, s.id, $4 FROM s)
		SELECT a.user_id, a.email FROM a, s`, phone, sid, tokenHash, exp).Scan(&c.UserID, &c.Email)
	if db.IsNoRows(err) {
		return cred{}, false, nil
	}
	if err != nil {
		return cred{}, false, err
	}
	c.Phone, c.PhoneVerified, c.ProfileReady = phone, true, true
	return c, true, nil
}

// claimPhone marks the phone verified. A password set by whoever registered
// the number before its owner proved it stops working (pre-hijacking).
func (s *store) claimPhone(ctx context.Context, uid id.ID) error {
	_, err := s.db.Exec(ctx, `
		UPDATE auth_credentials SET phone_verified_at = now(), updated_at = now(),
		  needs_password_reset = needs_password_reset OR password_hash IS NOT NULL
		WHERE user_id = $1`, uid)
	return err
}

// createPasswordAccount inserts a registration.
func (s *store) createPasswordAccount(ctx context.Context, uid id.ID, phone, email, hash string) error {
	_, err := s.db.Exec(ctx, `
		INSERT INTO auth_credentials (user_id, phone, email, password_hash) VALUES ($1, $2, $3, $4)`,
		uid, phone, email, hash)
	if db.IsUniqueViolation(err) {
		return errExists
	}
	return err
}

// setEmail sets (or, with "", clears) the email of uid.
func (s *store) setEmail(ctx context.Context, uid id.ID, email string) (bool, error) {
	tag, err := s.db.Exec(ctx, `UPDATE auth_credentials SET email = nullif($2, ''), updated_at = now() WHERE user_id = $1`, uid, email)
	if db.IsUniqueViolation(err) {
		return false, errExists
	}
	return tag.RowsAffected() == 1, err
}

func (s *store) byID(ctx context.Context, uid id.ID) (cred, bool, error) {
	c, err := scanCred(s.db.QueryRow(ctx, `SELECT `+credCols+` FROM auth_credentials WHERE user_id = $1`, uid))
	if db.IsNoRows(err) {
		return cred{}, false, nil
	}
	return c, err == nil, err
}

func (s *store) byEmail(ctx context.Context, email string) (cred, bool, error) {
	c, err := scanCred(s.db.QueryRow(ctx, `SELECT `+credCols+` FROM auth_credentials WHERE lower(email) = lower($1)`, email))
	if db.IsNoRows(err) {
		return cred{}, false, nil
	}
	return c, err == nil, err
}

func (s *store) profileReady(ctx context.Context, uid id.ID) error {
	_, err := s.db.Exec(ctx, `UPDATE auth_credentials SET profile_ready = true WHERE user_id = $1`, uid)
	return err
}

// newRefreshToken returns an opaque token and the hash stored for it.
func newRefreshToken() (string, []byte) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	return tok, hashToken(tok)
}

func hashToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// asyncCommit makes the statement's transaction commit without waiting for
// the WAL flush (an fsync, about 1.7 ms on this class of disk). Session
// writes use it: a crash can lose the last few hundred milliseconds of them,
// and their users simply log in again. Revocations and credentials always
// commit synchronously.
const asyncCommit = `SELECT set_config('synchronous_commit', 'off', true)`

// openSession starts a refresh-token family with its first token.
func (s *store) openSession(ctx context.Context, uid, sid id.ID, tokenHash []byte, exp time.Time) error {
	_, err := s.db.Exec(ctx, `
		WITH c AS (`+asyncCommit+`),
		s AS (INSERT INTO auth_sessions (id, user_id, expires_at) VALUES ($1, $2, $4) RETURNING id)
		INSERT INTO auth_refresh_tokens (token_hash, session_id, expires_at) SELECT $3, s.id, $4 FROM s, c`,
		sid, uid, tokenHash, exp)
	return err
}

// rotation is what exchanging a refresh token found.
type rotation struct {
	SessionID id.ID
	UserID    id.ID // the session's owner, set whenever SessionID is
	Cred      cred
	// Reused: the token had been exchanged before; the family is now revoked.
	Reused bool
	// Invalid: unknown, expired or revoked.
	Invalid bool
}

// rotate exchanges the token hashed as old for the one hashed as next, in
// one transaction that locks the old token, so two concurrent uses of one
// token cannot both succeed: the second is a reuse. Sessions slide: the new
// token, and the session, live until nextExp.
func (s *store) rotate(ctx context.Context, old, next []byte, now, nextExp time.Time) (rotation, error) {
	var r rotation
	err := db.InTx(ctx, s.db, func(tx pgx.Tx) error {
		var used, revoked *time.Time
		var tokExp, sessExp time.Time
		if _, err := tx.Exec(ctx, asyncCommit); err != nil {
			return err
		}
		// Lock the session, then the token: the order of the cascade from
		// credentials, so a concurrent account deletion cannot deadlock.
		err := tx.QueryRow(ctx, `
			SELECT s.id, s.user_id, s.revoked_at, s.expires_at FROM auth_sessions s
			WHERE s.id = (SELECT session_id FROM auth_refresh_tokens WHERE token_hash = $1)
			FOR UPDATE`, old).Scan(&r.SessionID, &r.UserID, &revoked, &sessExp)
		if err == nil {
			err = tx.QueryRow(ctx, `SELECT used_at, expires_at FROM auth_refresh_tokens WHERE token_hash = $1 FOR UPDATE`, old).Scan(&used, &tokExp)
		}
		if db.IsNoRows(err) {
			r.Invalid = true
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case revoked != nil:
			r.Invalid = true
			return nil
		case used != nil:
			r.Reused = true
			_, err := tx.Exec(ctx, `UPDATE auth_sessions SET revoked_at = $2, revoke_reason = 'refresh token reused' WHERE id = $1`, r.SessionID, now)
			return err
		case !now.Before(tokExp) || !now.Before(sessExp):
			r.Invalid = true
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE auth_refresh_tokens SET used_at = $2 WHERE token_hash = $1`, old, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO auth_refresh_tokens (token_hash, session_id, expires_at) VALUES ($1, $2, $3)`, next, r.SessionID, nextExp); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE auth_sessions SET last_used_at = $2, expires_at = $3 WHERE id = $1`, r.SessionID, now, nextExp); err != nil {
			return err
		}
		r.Cred, err = scanCred(tx.QueryRow(ctx, `SELECT `+credCols+` FROM auth_credentials WHERE user_id = $1`, r.UserID))
		return err
	})
	return r, err
}

// sessionOfToken finds the session a refresh token (used or not) belongs to.
func (s *store) sessionOfToken(ctx context.Context, tokenHash []byte) (sid, uid id.ID, ok bool, err error) {
	err = s.db.QueryRow(ctx, `
		SELECT s.id, s.user_id FROM auth_refresh_tokens t JOIN auth_sessions s ON s.id = t.session_id
		WHERE t.token_hash = $1`, tokenHash).Scan(&sid, &uid)
	if db.IsNoRows(err) {
		return sid, uid, false, nil
	}
	return sid, uid, err == nil, err
}

// revokeSession ends one session of uid.
func (s *store) revokeSession(ctx context.Context, uid, sid id.ID, reason string) error {
	_, err := s.db.Exec(ctx, `
		UPDATE auth_sessions SET revoked_at = now(), revoke_reason = $3
		WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL`, sid, uid, reason)
	return err
}

// revokeUser ends every open session of uid and returns their ids.
func (s *store) revokeUser(ctx context.Context, uid id.ID, reason string) ([]string, error) {
	rows, err := s.db.Query(ctx, `
		UPDATE auth_sessions SET revoked_at = now(), revoke_reason = $2
		WHERE user_id = $1 AND revoked_at IS NULL RETURNING id`, uid, reason)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// deleteCredentials removes the account's credentials and, by cascade, its
// sessions and refresh tokens.
func (s *store) deleteCredentials(ctx context.Context, uid id.ID) (bool, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM auth_credentials WHERE user_id = $1`, uid)
	return tag.RowsAffected() == 1, err
}

// suspend records a suspension (until nil: a ban) and makes it the active
// one. found is false when uid has no credentials.
func (s *store) suspend(ctx context.Context, sid, uid id.ID, until *time.Time, reason string, actor *id.ID) (found bool, err error) {
	err = db.InTx(ctx, s.db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE auth_credentials SET suspended_until = coalesce($2, 'infinity'::timestamptz), updated_at = now()
			WHERE user_id = $1`, uid, until)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		found = true
		// The one active suspension: earlier open ones are superseded.
		if _, err := tx.Exec(ctx, `UPDATE auth_suspensions SET lifted_at = now(), lifted_by = $2
			WHERE user_id = $1 AND lifted_at IS NULL`, uid, actor); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO auth_suspensions (id, user_id, until, reason, created_by) VALUES ($1, $2, $3, $4, $5)`,
			sid, uid, until, reason, actor)
		return err
	})
	return found, err
}

// lift ends the active suspension; lifted is false when none was running.
func (s *store) lift(ctx context.Context, uid id.ID, actor *id.ID) (lifted bool, err error) {
	err = db.InTx(ctx, s.db, func(tx pgx.Tx) error {
		// An expired suspension is cleared too; lifted says one was running.
		err := tx.QueryRow(ctx, `WITH old AS (SELECT suspended_until FROM auth_credentials WHERE user_id = $1 FOR UPDATE),
			upd AS (UPDATE auth_credentials SET suspended_until = NULL, updated_at = now()
				WHERE user_id = $1 AND suspended_until IS NOT NULL)
			SELECT coalesce((SELECT suspended_until > now() FROM old), false)`, uid).Scan(&lifted)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE auth_suspensions SET lifted_at = now(), lifted_by = $2
			WHERE user_id = $1 AND lifted_at IS NULL`, uid, actor)
		return err
	})
	return lifted, err
}
