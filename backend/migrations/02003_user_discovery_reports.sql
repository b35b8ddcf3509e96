-- +goose Up
-- Name search: a trigram GIN index serves case-insensitive substring
-- matches (ILIKE with an escaped pattern). pg_trgm is a trusted extension.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX users_name_trgm_idx ON users USING gin (name gin_trgm_ops);

-- Nearby: a GiST index on the (longitude, latitude) point answers the
-- bounding-box prefilter; the exact haversine distance filters and sorts the
-- few candidates. It covers what the prefilter reads, so candidates come
-- from an index-only scan. Users without a location are not indexed (never
-- returned).
CREATE INDEX users_location_idx ON users USING gist (point(longitude, latitude))
  INCLUDE (id, latitude, longitude, is_verified, categories)
  WHERE latitude IS NOT NULL;

-- Category lists and the nearby category filter (categories @> ARRAY[c]).
CREATE INDEX users_categories_idx ON users USING gin (categories);

-- Follower/following/blocked lists page newest first.
CREATE INDEX follows_followee_created_idx ON follows (followee_id, created_at DESC, follower_id DESC);
CREATE INDEX follows_follower_created_idx ON follows (follower_id, created_at DESC, followee_id DESC);
CREATE INDEX blocks_blocker_created_idx ON blocks (blocker_id, created_at DESC, blocked_id DESC);

-- Reports on users, owned by the user service. Post reports live in the post
-- service's post_reports; admins list both (ListReports reads post_reports as
-- a documented read model).
CREATE TABLE user_reports (
  id          object_id PRIMARY KEY,
  reporter_id object_id NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  target_id   object_id NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  reason      text NOT NULL CHECK (reason <> '' AND length(reason) <= 100),
  details     text NOT NULL DEFAULT '' CHECK (length(details) <= 1000),
  status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'reviewed', 'actioned')),
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX user_reports_created_idx ON user_reports (created_at DESC, id DESC);
CREATE INDEX user_reports_reporter_idx ON user_reports (reporter_id);
CREATE INDEX user_reports_target_idx ON user_reports (target_id);

-- +goose Down
DROP TABLE user_reports;
DROP INDEX blocks_blocker_created_idx;
DROP INDEX follows_follower_created_idx;
DROP INDEX follows_followee_created_idx;
DROP INDEX users_categories_idx;
DROP INDEX users_location_idx;
DROP INDEX users_name_trgm_idx;
