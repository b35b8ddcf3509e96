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

// metresPerDegree is the length of one degree of latitude (and of longitude
// on the equator).
const metresPerDegree = earthRadius * math.Pi / 180

// snapToGrid is (lat, lng) moved to the centre of its grid cell. Rows of
// cells are cellMetres tall; each row is cut into whole cells about
// cellMetres wide at its centre latitude, so cells stay square-ish up to
// the poles and never straddle the antimeridian. Everyone in a cell gets
// the same position, so distances measured from anywhere (the
// trilateration attack known from dating apps) locate a user no better
// than their cell. Results are rounded to 1e-7° so a re-snap is exact.
func snapToGrid(lat, lng, cellMetres float64) (float64, float64) {
	dLat := cellMetres / metresPerDegree
	rows := math.Max(1, math.Floor(180/dLat))
	dLat = 180 / rows
	row := math.Min(rows-1, math.Floor((lat+90)/dLat))
	cLat := -90 + (row+0.5)*dLat
	cols := math.Max(1, math.Floor(360*math.Cos(cLat*math.Pi/180)*metresPerDegree/cellMetres))
	dLng := 360 / cols
	col := math.Mod(math.Floor((lng+180)/dLng), cols)
	if col < 0 {
		col += cols
	}
	cLng := -180 + (col+0.5)*dLng
	return round7(cLat), round7(cLng)
}

func round7(v float64) float64 { return math.Round(v*1e7) / 1e7 }
