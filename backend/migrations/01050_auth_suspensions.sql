-- +goose Up
-- Suspensions and bans set by the moderation console (admin tier, through
-- AuthInternalService). suspended_until is the active one, read by every
-- login and refresh with the credentials row it already reads; 'infinity'
-- is a ban. auth_suspensions keeps the history shown to moderators.
ALTER TABLE auth_credentials ADD COLUMN suspended_until timestamptz;

CREATE TABLE auth_suspensions (
  id         object_id PRIMARY KEY,
  user_id    object_id NOT NULL REFERENCES auth_credentials (user_id) ON DELETE CASCADE,
  -- NULL: a ban.
  until      timestamptz,
  reason     text NOT NULL DEFAULT '',
  created_by object_id,
  created_at timestamptz NOT NULL DEFAULT now(),
  lifted_at  timestamptz,
  lifted_by  object_id
);
CREATE INDEX auth_suspensions_user_idx ON auth_suspensions (user_id, id DESC);

-- Daily active users in the moderation console's overview: sessions
-- refreshed per day (one small index entry per refresh).
CREATE INDEX auth_refresh_tokens_issued_idx ON auth_refresh_tokens (issued_at);

-- +goose Down
DROP INDEX auth_refresh_tokens_issued_idx;
DROP TABLE auth_suspensions;
ALTER TABLE auth_credentials DROP COLUMN suspended_until;
