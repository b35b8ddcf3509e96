-- +goose Up
-- Like counts as sharded deltas. A like used to add to posts.likes_count,
-- so every like of a hot post queued on that one row's lock until the
-- previous like's commit was flushed to the WAL. Each like now adds ±1 to
-- one of a few shard rows of its post in the same statement as the
-- post_likes row, so concurrent likes lock different rows and their commits
-- share WAL flushes. The count is exact:
--   posts.likes_count (imported base) + sum(post_like_counts.n).
CREATE TABLE post_like_counts (
  post_id object_id NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
  shard   smallint NOT NULL CHECK (shard >= 0),
  -- One shard's net delta; it may be negative (liked on one shard, unliked on another).
  n       integer NOT NULL,
  PRIMARY KEY (post_id, shard)
);
COMMENT ON COLUMN posts.likes_count IS 'Imported base; the live count adds sum(post_like_counts.n) for the post.';

-- +goose Down
UPDATE posts p SET likes_count = p.likes_count + s.n
FROM (SELECT post_id, sum(n)::int AS n FROM post_like_counts GROUP BY post_id) s WHERE p.id = s.post_id;
DROP TABLE post_like_counts;
COMMENT ON COLUMN posts.likes_count IS NULL;
