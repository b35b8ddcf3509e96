-- +goose Up
-- Every entity id is an ObjectId-compatible value: 24 lowercase hex characters
-- (4-byte seconds timestamp + 8 bytes). Legacy MongoDB ids keep their value.
CREATE DOMAIN object_id AS text
  CHECK (VALUE ~ '^[0-9a-f]{24}$');

-- The creation time encoded in an object_id (second precision).
CREATE FUNCTION object_id_time(id object_id) RETURNS timestamptz
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN to_timestamp(('x' || substr(id, 1, 8))::bit(32)::bigint);

-- +goose Down
DROP FUNCTION object_id_time(object_id);
DROP DOMAIN object_id;
