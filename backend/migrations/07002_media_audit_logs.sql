-- +goose Up
-- Every upload attempt (success, rejected, error), owned by the media
-- service. IPs are stored as seen by the gateway and masked on read;
-- rows past expires_at are deleted by the media tier's retention job.
CREATE TABLE media_audit_logs (
  id         object_id PRIMARY KEY,
  user_id    text NOT NULL DEFAULT '',
  ip         text NOT NULL DEFAULT '',
  route      text NOT NULL,
  action     text NOT NULL,
  status     text NOT NULL CHECK (status IN ('success', 'rejected', 'error')),
  mime_type  text NOT NULL DEFAULT '',
  size_bytes bigint NOT NULL DEFAULT 0,
  folder     text NOT NULL DEFAULT '',
  key        text,
  error      text,
  metadata   jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
CREATE INDEX media_audit_logs_created ON media_audit_logs (created_at DESC, id DESC);
CREATE INDEX media_audit_logs_user ON media_audit_logs (user_id, created_at DESC);
CREATE INDEX media_audit_logs_expires ON media_audit_logs (expires_at);

-- +goose Down
DROP TABLE media_audit_logs;
