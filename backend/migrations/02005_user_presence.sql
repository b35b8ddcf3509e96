-- +goose Up
-- Map presence and discovery settings (issue 18).
--
-- location_updated_at: when the position was last reported. The map lists
-- only positions fresher than NEARBY_MAX_LOCATION_AGE. Positions are stored
-- already coarsened to the NEARBY_GRID_METERS grid (backend/user/geo.go).
-- show_on_map: false hides the user from the map; their position is cleared
-- and no longer recorded.
-- phone_discoverable: false keeps others from finding the user by phone
-- number (search and FindByPhones).
ALTER TABLE users
  ADD COLUMN location_updated_at timestamptz,
  ADD COLUMN show_on_map boolean NOT NULL DEFAULT true,
  ADD COLUMN phone_discoverable boolean NOT NULL DEFAULT true,
  -- Hiding from the map leaves no position behind.
  ADD CONSTRAINT users_hidden_no_location CHECK (show_on_map OR latitude IS NULL);
-- Positions set before this migration date from the profile's last change.
UPDATE users SET location_updated_at = updated_at WHERE latitude IS NOT NULL;

-- The KNN indexes of 02004 again, with location_updated_at covered so the
-- freshness filter keeps the scan index-only. The expressions and the
-- verified predicate must stay identical to geoSQL and verifiedFilter in
-- backend/user.
DROP INDEX users_geo_idx;
DROP INDEX users_geo_verified_idx;
CREATE INDEX users_geo_idx ON users USING gist (cube(ARRAY[cos(radians(latitude)) * cos(radians(longitude)),
    cos(radians(latitude)) * sin(radians(longitude)), sin(radians(latitude))]))
  INCLUDE (id, latitude, longitude, is_verified, categories, location_updated_at)
  WHERE latitude IS NOT NULL;
CREATE INDEX users_geo_verified_idx ON users USING gist (cube(ARRAY[cos(radians(latitude)) * cos(radians(longitude)),
    cos(radians(latitude)) * sin(radians(longitude)), sin(radians(latitude))]))
  INCLUDE (id, latitude, longitude, location_updated_at)
  WHERE latitude IS NOT NULL AND (is_verified OR categories @> '{verified}');

-- +goose Down
DROP INDEX users_geo_verified_idx;
DROP INDEX users_geo_idx;
CREATE INDEX users_geo_idx ON users USING gist (cube(ARRAY[cos(radians(latitude)) * cos(radians(longitude)),
    cos(radians(latitude)) * sin(radians(longitude)), sin(radians(latitude))]))
  INCLUDE (id, latitude, longitude, is_verified, categories)
  WHERE latitude IS NOT NULL;
CREATE INDEX users_geo_verified_idx ON users USING gist (cube(ARRAY[cos(radians(latitude)) * cos(radians(longitude)),
    cos(radians(latitude)) * sin(radians(longitude)), sin(radians(latitude))]))
  INCLUDE (id, latitude, longitude)
  WHERE latitude IS NOT NULL AND (is_verified OR categories @> '{verified}');
ALTER TABLE users DROP CONSTRAINT users_hidden_no_location, DROP COLUMN phone_discoverable, DROP COLUMN show_on_map, DROP COLUMN location_updated_at;
