-- +goose Up
-- 24-hour stories, owned by the feed service. Expired rows are hidden on
-- read (expires_at > now()) and deleted by the feed tier's cleanup job.
CREATE TABLE stories (
  id         object_id PRIMARY KEY,
  user_id    object_id NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  media_url  text NOT NULL CHECK (media_url <> ''),
  media_type text NOT NULL DEFAULT 'image' CHECK (media_type IN ('image', 'video')),
  caption    text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
-- Story feed (unexpired stories per author) and the per-user limits.
CREATE INDEX stories_user_idx ON stories (user_id, expires_at DESC);
-- Cleanup job.
CREATE INDEX stories_expires_idx ON stories (expires_at);

CREATE TABLE story_views (
  story_id   object_id NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
  viewer_id  object_id NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (story_id, viewer_id)
);
CREATE INDEX story_views_viewer_idx ON story_views (viewer_id);

-- +goose Down
DROP TABLE story_views;
DROP TABLE stories;
