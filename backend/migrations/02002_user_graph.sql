-- +goose Up
-- The social graph, owned by the user service. Feed, chat and call read these
-- tables in documented read models (one indexed query, never an RPC fan-out);
-- only the user service writes them.
CREATE TABLE follows (
  follower_id object_id NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  followee_id object_id NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (follower_id, followee_id),
  CHECK (follower_id <> followee_id)
);
-- "Who follows X" (followers lists, counts).
CREATE INDEX follows_followee_idx ON follows (followee_id, follower_id);

-- A block hides both users from each other on every read path.
CREATE TABLE blocks (
  blocker_id object_id NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  blocked_id object_id NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (blocker_id, blocked_id),
  CHECK (blocker_id <> blocked_id)
);
CREATE INDEX blocks_blocked_idx ON blocks (blocked_id, blocker_id);

-- +goose Down
DROP TABLE blocks;
DROP TABLE follows;
