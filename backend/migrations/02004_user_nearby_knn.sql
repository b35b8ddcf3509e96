-- +goose Up
-- Nearby as a KNN scan: a GiST index over each user's position as a point
-- of the unit sphere (cube) returns users nearest first and the query stops
-- after the result cap, instead of computing haversine for every user in a
-- bounding box (thousands per city) and sorting. Chord distance grows with
-- great-circle distance, so the order is exact and has no antimeridian or
-- pole cases. The expression must stay identical to geoSQL in
-- backend/user/geo.go. INCLUDE covers what the scan filters on
-- (index-only); users without a location are not indexed (never returned).
-- cube is a trusted contrib extension; the index binds its functions by
-- OID, so it does not depend on search_path.
CREATE EXTENSION IF NOT EXISTS cube;
CREATE INDEX users_geo_idx ON users USING gist (cube(ARRAY[cos(radians(latitude)) * cos(radians(longitude)),
    cos(radians(latitude)) * sin(radians(longitude)), sin(radians(latitude))]))
  INCLUDE (id, latitude, longitude, is_verified, categories)
  WHERE latitude IS NOT NULL;
-- "verified" is the one category with its own filter (is_verified or the
-- category); a partial copy keeps that KNN scan from walking past the ~90%
-- of nearby users that are neither. The predicate must match
-- categoryFilter's in backend/user/store.go.
CREATE INDEX users_geo_verified_idx ON users USING gist (cube(ARRAY[cos(radians(latitude)) * cos(radians(longitude)),
    cos(radians(latitude)) * sin(radians(longitude)), sin(radians(latitude))]))
  INCLUDE (id, latitude, longitude)
  WHERE latitude IS NOT NULL AND (is_verified OR categories @> '{verified}');
DROP INDEX users_location_idx;

-- +goose Down
CREATE INDEX users_location_idx ON users USING gist (point(longitude, latitude))
  INCLUDE (id, latitude, longitude, is_verified, categories)
  WHERE latitude IS NOT NULL;
DROP INDEX users_geo_verified_idx;
DROP INDEX users_geo_idx;
