-- +goose Up
-- Uploaded objects, owned by the media service. The S3 key is the identity:
-- `<folder>/<owner_id>/<id>.<ext>`; renditions live beside the original.
CREATE TABLE media_objects (
  key           text PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 1024),
  owner_id      object_id NOT NULL,
  folder        text NOT NULL,
  content_type  text NOT NULL,
  size_bytes    bigint NOT NULL CHECK (size_bytes >= 0),
  display_key   text NOT NULL DEFAULT '',
  thumbnail_key text NOT NULL DEFAULT '',
  created_at    timestamptz NOT NULL DEFAULT now()
);
-- ListMedia: own objects, newest first, keyset on (created_at, key).
CREATE INDEX media_objects_owner_created ON media_objects (owner_id, created_at DESC, key DESC);

-- +goose Down
DROP TABLE media_objects;
