-- +goose Up
-- Calls, owned by the call service. The ring-timeout sweeper finds ringing
-- calls by creation time; history is read per participant, newest first.
CREATE TABLE calls (
  id          object_id PRIMARY KEY,
  caller_id   object_id NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  receiver_id object_id NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  type        text NOT NULL DEFAULT 'video' CHECK (type IN ('audio', 'video')),
  status      text NOT NULL DEFAULT 'ringing' CHECK (status IN ('ringing', 'active', 'ended', 'rejected', 'missed')),
  room_name   text NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  started_at  timestamptz,
  ended_at    timestamptz,
  duration    integer NOT NULL DEFAULT 0 CHECK (duration >= 0),
  CHECK (caller_id <> receiver_id)
);
CREATE INDEX calls_caller_idx ON calls (caller_id, id DESC);
CREATE INDEX calls_receiver_idx ON calls (receiver_id, id DESC);
-- The sweeper's scan: only ringing calls, oldest first.
CREATE INDEX calls_ringing_idx ON calls (created_at) WHERE status = 'ringing';

-- +goose Down
DROP TABLE calls;
