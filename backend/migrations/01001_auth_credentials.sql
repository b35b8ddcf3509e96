-- +goose Up
-- Credentials are owned by the auth service. The profile (name, bio,
-- picture…) lives in the user service's users table, created through its
-- CreateUser RPC; nothing here references that table.
CREATE TABLE auth_credentials (
  user_id              object_id PRIMARY KEY,
  -- E.164 (+ and 7 to 15 digits); NULL for accounts without a phone.
  phone                text UNIQUE CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
  -- Stored as typed (trimmed); unique case-insensitively.
  email                text CHECK (email IS NULL OR length(email) BETWEEN 3 AND 254),
  -- bcrypt ($2a$/$2b$/$2y$); NULL for OTP-only accounts.
  password_hash        text,
  -- Set for imported accounts whose legacy password was stored in plain text
  -- (never carried over) and for unverified registrations taken over by the
  -- phone's owner: password login is refused until a reset.
  needs_password_reset boolean NOT NULL DEFAULT false,
  phone_verified_at    timestamptz,
  -- True once the user service holds the profile; until then every login
  -- repeats the idempotent CreateUser.
  profile_ready        boolean NOT NULL DEFAULT false,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX auth_credentials_email_key ON auth_credentials (lower(email));

-- A session is one refresh-token family: every refresh rotates the token,
-- and presenting a rotated token again revokes the whole family.
CREATE TABLE auth_sessions (
  id            object_id PRIMARY KEY,
  user_id       object_id NOT NULL REFERENCES auth_credentials (user_id) ON DELETE CASCADE,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  revoked_at    timestamptz,
  revoke_reason text
);
CREATE INDEX auth_sessions_user ON auth_sessions (user_id) WHERE revoked_at IS NULL;

-- Refresh tokens are opaque; only their SHA-256 is stored.
CREATE TABLE auth_refresh_tokens (
  token_hash bytea PRIMARY KEY CHECK (length(token_hash) = 32),
  session_id object_id NOT NULL REFERENCES auth_sessions (id) ON DELETE CASCADE,
  issued_at  timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  -- Set when the token was exchanged; a second use is a reuse.
  used_at    timestamptz
);
CREATE INDEX auth_refresh_tokens_session ON auth_refresh_tokens (session_id);

-- +goose Down
DROP TABLE auth_refresh_tokens;
DROP TABLE auth_sessions;
DROP TABLE auth_credentials;
