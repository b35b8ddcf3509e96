-- +goose Up
-- Posts and reels, owned by the post service. The feed service reads posts,
-- post_likes and users in its documented read model (backend/post/view).
CREATE TABLE posts (
  id              object_id PRIMARY KEY,
  user_id         object_id NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  type            text NOT NULL DEFAULT 'post' CHECK (type IN ('post', 'reel')),
  content         text NOT NULL DEFAULT '',
  media_url       text NOT NULL DEFAULT '',
  media_type      text NOT NULL DEFAULT '' CHECK (media_type IN ('', 'image', 'video')),
  thumbnail_url   text NOT NULL DEFAULT '',
  -- Maintained in the same transaction as the like/comment/view rows.
  likes_count     integer NOT NULL DEFAULT 0 CHECK (likes_count >= 0),
  comments_count  integer NOT NULL DEFAULT 0 CHECK (comments_count >= 0),
  views_count     bigint NOT NULL DEFAULT 0 CHECK (views_count >= 0),
  shares_count    integer NOT NULL DEFAULT 0 CHECK (shares_count >= 0),
  -- Client retry key of CreatePost; unique per author.
  idempotency_key text,
  created_at      timestamptz NOT NULL DEFAULT now()
);
-- Profile grids and the home feed (newest posts per followed author).
CREATE INDEX posts_user_id_idx ON posts (user_id, id DESC);
-- Reels feed. The global feed walks the primary key backwards.
CREATE INDEX posts_type_id_idx ON posts (type, id DESC);
CREATE UNIQUE INDEX posts_idempotency_idx ON posts (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- One row per like; posts.likes_count mirrors count(*).
CREATE TABLE post_likes (
  post_id    object_id NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
  user_id    object_id NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (post_id, user_id)
);
CREATE INDEX post_likes_user_idx ON post_likes (user_id, post_id);

CREATE TABLE post_comments (
  id         object_id PRIMARY KEY,
  post_id    object_id NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
  user_id    object_id NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  text       text NOT NULL CHECK (text <> ''),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX post_comments_post_idx ON post_comments (post_id, id DESC);
CREATE INDEX post_comments_user_idx ON post_comments (user_id);

-- One row per (post, viewer): a view is counted once per user.
CREATE TABLE post_views (
  post_id    object_id NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
  viewer_id  object_id NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (post_id, viewer_id)
);
CREATE INDEX post_views_viewer_idx ON post_views (viewer_id);

-- Moderation reports on posts. The user service's admin ListReports reads
-- this table; the post service is its only writer. Reports outlive the post
-- (no foreign key on post_id) so admins still see what was reported.
CREATE TABLE post_reports (
  id          object_id PRIMARY KEY,
  reporter_id object_id NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  post_id     object_id NOT NULL,
  reason      text NOT NULL CHECK (reason <> ''),
  details     text NOT NULL DEFAULT '',
  status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'reviewed', 'actioned')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (post_id, reporter_id)
);
CREATE INDEX post_reports_status_idx ON post_reports (status, id DESC);
CREATE INDEX post_reports_reporter_idx ON post_reports (reporter_id);

-- +goose Down
DROP TABLE post_reports;
DROP TABLE post_views;
DROP TABLE post_comments;
DROP TABLE post_likes;
DROP TABLE posts;
