package user

import "math"

// earthRadius is the mean Earth radius in metres (IUGG).
const earthRadius = 6371008.8

// haversine is the great-circle distance in metres.
func haversine(lat1, lng1, lat2, lng2 float64) float64 {
	rad := math.Pi / 180
	dLat := (lat2 - lat1) * rad
	dLng := (lng2 - lng1) * rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLng/2)*math.Sin(dLng/2)
	return 2 * earthRadius * math.Asin(math.Sqrt(math.Min(1, a)))
}

// geoSQL is a user's position as a point of the unit sphere in 3-D (a
// cube), the expression users_geo_idx indexes. The straight-line (chord)
// distance between two such points grows monotonically with their
// great-circle distance, so the index's KNN order (<->) is the exact
// nearest-first order.
const geoSQL = `cube(ARRAY[cos(radians(u.latitude)) * cos(radians(u.longitude)),
	cos(radians(u.latitude)) * sin(radians(u.longitude)), sin(radians(u.latitude))])`

// unitVector is (lat, lng) on the unit sphere, as geoSQL computes it.
func unitVector(lat, lng float64) [3]float64 {
	rad := math.Pi / 180
	return [3]float64{math.Cos(lat*rad) * math.Cos(lng*rad), math.Cos(lat*rad) * math.Sin(lng*rad), math.Sin(lat * rad)}
}

// chordFor is the chord length on the unit sphere of a great-circle
// distance of radius metres, padded so that rounding never drops a point on
// the boundary (the exact haversine filter follows).
func chordFor(radius float64) float64 {
	ang := math.Min(radius/earthRadius, math.Pi)
	return 2*math.Sin(ang/2) + 1e-9
}
