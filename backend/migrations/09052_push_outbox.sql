-- +goose Up
-- Expo push tokens, the push outbox and its dedupe keys, owned by the push
-- package of the notify tier.

-- One row per app install. An Expo token names one install, so it belongs to
-- one user at a time: registering it again (another account on the same
-- phone) moves it, and the previous account's pushes stop reaching that phone.
CREATE TABLE push_tokens (
  token         text PRIMARY KEY CHECK (char_length(token) BETWEEN 16 AND 300),
  user_id       object_id NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  platform      text NOT NULL CHECK (platform IN ('ios', 'android')),
  -- The auth session the token was registered under: logout forgets it.
  session_id    text NOT NULL DEFAULT '',
  created_at    timestamptz NOT NULL DEFAULT now(),
  -- Last (re-)registration; a DeviceNotRegistered answer about a push sent
  -- before it does not remove the token.
  registered_at timestamptz NOT NULL DEFAULT now(),
  -- Last push Expo accepted for this token.
  last_used_at  timestamptz
);
CREATE INDEX push_tokens_user_idx ON push_tokens (user_id, session_id);

-- Pushes waiting for their send time. Non-urgent pushes with the same
-- (user_id, collapse_key) merge into one row while it waits (count grows),
-- which is how a chat burst becomes one "3 new messages" push. The flush job
-- claims due rows with FOR UPDATE SKIP LOCKED, turns them into send jobs and
-- deletes them in one transaction.
CREATE TABLE push_outbox (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id        object_id NOT NULL,
  kind           text NOT NULL,
  title          text NOT NULL DEFAULT '',
  body           text NOT NULL DEFAULT '',
  collapsed_body text NOT NULL DEFAULT '',
  data           jsonb NOT NULL DEFAULT '{}',
  collapse_key   text NOT NULL DEFAULT '',
  count          integer NOT NULL DEFAULT 1,
  urgent         boolean NOT NULL DEFAULT false,
  ttl_seconds    integer NOT NULL DEFAULT 0,
  created_at     timestamptz NOT NULL DEFAULT now(),
  due_at         timestamptz NOT NULL,
  CHECK (NOT urgent OR collapse_key = '')
);
CREATE INDEX push_outbox_due_idx ON push_outbox (due_at);
CREATE UNIQUE INDEX push_outbox_collapse_idx ON push_outbox (user_id, collapse_key) WHERE collapse_key <> '';

-- Dedupe keys already enqueued, per recipient (one event notifies many
-- users under one key). Written in the caller's transaction; the cleanup job
-- drops keys older than the retention.
CREATE TABLE push_dedupe (
  user_id    object_id NOT NULL,
  key        text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, key)
);
CREATE INDEX push_dedupe_created_idx ON push_dedupe (created_at);

-- +goose Down
DROP TABLE push_dedupe;
DROP TABLE push_outbox;
DROP TABLE push_tokens;
