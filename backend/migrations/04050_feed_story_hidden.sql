-- +goose Up
-- Stories hidden by moderation ('removed' or 'author' suspended), as post_hidden.
CREATE TABLE story_hidden (
  story_id   object_id NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
  cause      text NOT NULL CHECK (cause IN ('removed', 'author')),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (story_id, cause)
);

-- +goose Down
DROP TABLE story_hidden;
