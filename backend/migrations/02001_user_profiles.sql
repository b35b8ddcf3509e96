-- +goose Up
-- Profiles are owned by the user service. Credentials (phone, email,
-- password hash) live with the auth service, never here.
CREATE TABLE users (
  id              object_id PRIMARY KEY,
  name            text NOT NULL DEFAULT '',
  bio             text NOT NULL DEFAULT '',
  age             integer CHECK (age IS NULL OR (age >= 0 AND age <= 150)),
  gender          text NOT NULL DEFAULT '',
  profile_picture text NOT NULL DEFAULT '',
  cover_photo     text NOT NULL DEFAULT '',
  -- WGS84; both NULL when the user shared no location.
  latitude        double precision CHECK (latitude IS NULL OR latitude BETWEEN -90 AND 90),
  longitude       double precision CHECK (longitude IS NULL OR longitude BETWEEN -180 AND 180),
  categories      text[] NOT NULL DEFAULT '{}',
  is_verified     boolean NOT NULL DEFAULT false,
  followers_count integer NOT NULL DEFAULT 0,
  following_count integer NOT NULL DEFAULT 0,
  posts_count     integer NOT NULL DEFAULT 0,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CHECK ((latitude IS NULL) = (longitude IS NULL))
);

-- +goose Down
DROP TABLE users;
