-- +goose Up
-- The admin tier (moderation console) owns staff roles, the moderation log,
-- reports on comments, stories and messages, the outcome of every report
-- and the notices sent to users. Reports on users and posts stay in their
-- owners' user_reports and post_reports, read here as a documented read
-- model; the content itself stays with its owner.
CREATE TABLE admin_roles (
  user_id    object_id NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role       text NOT NULL CHECK (role IN ('admin', 'moderator')),
  granted_by object_id,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, role)
);

-- Append-only: the tier only INSERTs, and a trigger refuses UPDATE and DELETE.
CREATE TABLE moderation_log (
  id               object_id PRIMARY KEY,
  -- NULL: the CLI (infliq admin grant|revoke).
  actor_id         object_id,
  action           text NOT NULL,
  target_kind      text NOT NULL,
  target_id        object_id NOT NULL,
  reason           text NOT NULL DEFAULT '',
  detail           text NOT NULL DEFAULT '',
  resolved_reports integer NOT NULL DEFAULT 0,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX moderation_log_target_idx ON moderation_log (target_id, id DESC);
CREATE INDEX moderation_log_actor_idx ON moderation_log (actor_id, id DESC);

-- +goose StatementBegin
CREATE FUNCTION moderation_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'moderation_log is append-only';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER moderation_log_no_change BEFORE UPDATE OR DELETE OR TRUNCATE ON moderation_log
  FOR EACH STATEMENT EXECUTE FUNCTION moderation_log_append_only();

-- Reports on comments, stories and messages (ModerationService.ReportContent).
CREATE TABLE content_reports (
  id          object_id PRIMARY KEY,
  reporter_id object_id NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  target_kind text NOT NULL CHECK (target_kind IN ('comment', 'story', 'message')),
  target_id   object_id NOT NULL,
  -- The content's author at report time (the content may go away).
  author_id   object_id,
  reason      text NOT NULL CHECK (reason <> '' AND length(reason) <= 100),
  details     text NOT NULL DEFAULT '' CHECK (length(details) <= 1000),
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (target_kind, target_id, reporter_id)
);
CREATE INDEX content_reports_reporter_idx ON content_reports (reporter_id, id DESC);

-- One row per resolved report (of any kind): a report is open until it has
-- one. The primary key makes resolving a report happen once, whatever the
-- concurrency.
CREATE TABLE report_outcomes (
  report_kind text NOT NULL CHECK (report_kind IN ('user', 'post', 'comment', 'story', 'message')),
  report_id   object_id NOT NULL,
  target_id   object_id NOT NULL,
  outcome     text NOT NULL,
  log_id      object_id NOT NULL,
  resolved_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (report_kind, report_id)
);
CREATE INDEX report_outcomes_resolved_idx ON report_outcomes (resolved_at);
CREATE INDEX report_outcomes_target_idx ON report_outcomes (target_id, resolved_at DESC);

-- Every report of every kind with its outcome: the admin tier's read model
-- over user_reports (user service), post_reports (post service) and its own
-- content_reports. author_id is who the report is against (the content's
-- author, NULL once a post is deleted; the user for a user report).
CREATE VIEW moderation_reports AS
  SELECT r.kind, r.id, r.target_id, r.reporter_id, r.author_id, r.reason, r.details, r.created_at,
         o.outcome, o.resolved_at
  FROM (
    SELECT 'user'::text AS kind, id, target_id, reporter_id, target_id AS author_id, reason, details, created_at FROM user_reports
    UNION ALL
    SELECT 'post', pr.id, pr.post_id, pr.reporter_id, p.user_id, pr.reason, pr.details, pr.created_at
    FROM post_reports pr LEFT JOIN posts p ON p.id = pr.post_id
    UNION ALL
    SELECT target_kind, id, target_id, reporter_id, author_id, reason, details, created_at FROM content_reports
  ) r
  LEFT JOIN report_outcomes o ON o.report_kind = r.kind AND o.report_id = r.id;

-- Warnings (WarnUser) the user reads through ModerationService.ListMyNotices.
CREATE TABLE user_notices (
  id         object_id PRIMARY KEY,
  user_id    object_id NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  message    text NOT NULL,
  log_id     object_id NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  read_at    timestamptz
);
CREATE INDEX user_notices_user_idx ON user_notices (user_id, id DESC);

-- +goose Down
DROP VIEW moderation_reports;
DROP TABLE user_notices;
DROP TABLE report_outcomes;
DROP TABLE content_reports;
DROP TABLE moderation_log;
DROP FUNCTION moderation_log_append_only();
DROP TABLE admin_roles;
