-- +goose Up
-- Posts and comments hidden by moderation: 'removed' (RemoveContent) or
-- 'author' (the author is suspended). A row per cause, so restoring one
-- cause keeps the other. Every read of posts and comments skips hidden
-- rows with a primary-key probe here; the table stays small.
CREATE TABLE post_hidden (
  post_id    object_id NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
  cause      text NOT NULL CHECK (cause IN ('removed', 'author')),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (post_id, cause)
);

CREATE TABLE comment_hidden (
  comment_id object_id NOT NULL REFERENCES post_comments (id) ON DELETE CASCADE,
  cause      text NOT NULL CHECK (cause IN ('removed', 'author')),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (comment_id, cause)
);

-- The moderation queue groups post reports by post.
CREATE INDEX post_reports_post_idx ON post_reports (post_id);

-- +goose Down
DROP INDEX post_reports_post_idx;
DROP TABLE comment_hidden;
DROP TABLE post_hidden;
