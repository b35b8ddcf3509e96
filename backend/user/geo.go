package user

import (
	"fmt"
	"math"
)

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

// haversineSQL is haversine as a SQL expression (same formula as haversine).
func haversineSQL(lat1, lng1, lat2, lng2 string) string {
	return fmt.Sprintf(`(2 * %v * asin(sqrt(least(1,
		sin(radians(%[3]s - %[2]s) / 2) ^ 2
		+ cos(radians(%[2]s)) * cos(radians(%[3]s)) * sin(radians(%[5]s - %[4]s) / 2) ^ 2))))`,
		earthRadius, lat1, lat2, lng1, lng2)
}

// box is a lat/lng rectangle in degrees.
type box struct{ minLat, minLng, maxLat, maxLng float64 }

// boundingBoxes returns two boxes whose union holds every point within
// radius metres of (lat, lng). Across the antimeridian the two boxes are
// the two sides; otherwise both are the same box.
func boundingBoxes(lat, lng, radius float64) [2]box {
	ang := radius / earthRadius // angular radius, radians
	dLat := ang * 180 / math.Pi
	b := box{minLat: lat - dLat, maxLat: lat + dLat, minLng: -180, maxLng: 180}
	if b.minLat < -90 {
		b.minLat = -90
	}
	if b.maxLat > 90 {
		b.maxLat = 90
	}
	// Near a pole, or for a radius beyond a quarter of the globe, every
	// longitude can be in range.
	if lat-dLat <= -90 || lat+dLat >= 90 || ang >= math.Pi/2 {
		return [2]box{b, b}
	}
	s := math.Sin(ang) / math.Cos(lat*math.Pi/180)
	if s >= 1 {
		return [2]box{b, b}
	}
	dLng := math.Asin(s) * 180 / math.Pi
	lo, hi := lng-dLng, lng+dLng
	switch {
	case lo < -180:
		west, east := b, b
		west.minLng, west.maxLng = lo+360, 180
		east.minLng, east.maxLng = -180, hi
		return [2]box{west, east}
	case hi > 180:
		west, east := b, b
		west.minLng, west.maxLng = lo, 180
		east.minLng, east.maxLng = -180, hi-360
		return [2]box{west, east}
	}
	b.minLng, b.maxLng = lo, hi
	return [2]box{b, b}
}
