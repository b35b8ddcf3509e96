package user

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	userv1 "github.com/infliq/infliq/backend/gen/infliq/user/v1"
	"github.com/infliq/infliq/backend/gen/infliq/user/v1/userv1connect"
	"github.com/infliq/infliq/backend/platform/cache/redistest"
	"github.com/infliq/infliq/backend/platform/id"
)

// Issue 18. The legacy app's MapDiscoveryScreen sends the device position
// as the map centre of every GET /api/users/nearby (or its New Delhi
// fallback when it has none); SearchScreenV2 sends whatever is typed.

var hyderabad = &userv1.Location{Latitude: 17.385, Longitude: 78.4867}

func nearbyIDs(t *testing.T, cl interface {
	ListNearbyUsers(context.Context, *connect.Request[userv1.ListNearbyUsersRequest]) (*connect.Response[userv1.ListNearbyUsersResponse], error)
}, at *userv1.Location, share bool) map[string]*userv1.NearbyUser {
	t.Helper()
	res, err := cl.ListNearbyUsers(context.Background(), connect.NewRequest(&userv1.ListNearbyUsersRequest{Center: at, SharePosition: share}))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*userv1.NearbyUser{}
	for _, u := range res.Msg.GetUsers() {
		out[u.GetUser().GetId()] = u
	}
	return out
}

// TestMapPresenceFromNearbyQueries: a user who signed up in the app (no
// stored location) appears on others' maps once their own map has loaded,
// at their coarsened position; the app's fallback centre is never taken
// for a position; stale positions drop off.
func TestMapPresenceFromNearbyQueries(t *testing.T) {
	r := newRig(t, Options{})
	ctx := context.Background()
	a, b := r.user("Asha"), r.user("Bo")
	ca, cb := r.client(a, false), r.client(b, false)
	if got := nearbyIDs(t, cb, hyderabad, false); got[a.String()] != nil {
		t.Fatal("a on the map before sharing a position")
	}
	// The app's fallback centre (no location permission) is not a position.
	nearbyIDs(t, ca, &userv1.Location{Latitude: 28.6139, Longitude: 77.209}, true)
	if got := nearbyIDs(t, cb, &userv1.Location{Latitude: 28.6139, Longitude: 77.209}, false); got[a.String()] != nil {
		t.Fatal("fallback centre recorded as a position")
	}
	nearbyIDs(t, ca, &userv1.Location{Latitude: 17.3851234, Longitude: 78.4867891}, true)
	got := nearbyIDs(t, cb, hyderabad, false)
	n := got[a.String()]
	if n == nil {
		t.Fatalf("a not on b's map: %v", got)
	}
	wantLat, wantLng := snapToGrid(17.3851234, 78.4867891, DefaultPresence.GridMeters)
	if l := n.GetUser().GetLocation(); l.GetLatitude() != wantLat || l.GetLongitude() != wantLng {
		t.Fatalf("position not coarsened: %v want %v,%v", l, wantLat, wantLng)
	}
	me, err := ca.GetMe(ctx, connect.NewRequest(&userv1.GetMeRequest{}))
	if err != nil || me.Msg.GetLocationUpdatedAt() == nil || !me.Msg.GetShowOnMap() || !me.Msg.GetPhoneDiscoverable() {
		t.Fatalf("me: %v %v", me, err)
	}
	// Older than NEARBY_MAX_LOCATION_AGE: gone from the map.
	if _, err := r.pool.Exec(ctx, `UPDATE users SET location_updated_at = now() - interval '8 days' WHERE id = $1`, a); err != nil {
		t.Fatal(err)
	}
	if got := nearbyIDs(t, cb, hyderabad, false); got[a.String()] != nil {
		t.Fatal("stale position still on the map")
	}
	// Deleting the account deletes the position.
	nearbyIDs(t, ca, hyderabad, true)
	if _, err := ca.DeleteAccount(ctx, connect.NewRequest(&userv1.DeleteAccountRequest{})); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := r.pool.QueryRow(ctx, `SELECT count(*) FROM users WHERE id = $1`, a).Scan(&left); err != nil || left != 0 {
		t.Fatalf("position kept after deletion: %d %v", left, err)
	}
	if got := nearbyIDs(t, cb, hyderabad, false); got[a.String()] != nil {
		t.Fatal("deleted user on the map")
	}
}

// TestNearbyMaxAgeIsConfigurable: NEARBY_MAX_LOCATION_AGE reaches the query.
func TestNearbyMaxAgeIsConfigurable(t *testing.T) {
	r := newRig(t, Options{Discovery: Discovery{Presence: Presence{MaxAge: time.Hour}}})
	a, b := r.user("Asha", 17.385, 78.4867), r.user("Bo")
	if _, err := r.pool.Exec(context.Background(), `UPDATE users SET location_updated_at = now() - interval '2 hours' WHERE id = $1`, a); err != nil {
		t.Fatal(err)
	}
	if got := nearbyIDs(t, r.client(b, false), hyderabad, false); got[a.String()] != nil {
		t.Fatal("position older than the configured age shown")
	}
}

// TestHideFromMap: show_on_map=false clears the position, nothing is
// recorded while hidden, and showing again takes the next position.
func TestHideFromMap(t *testing.T) {
	r := newRig(t, Options{})
	ctx := context.Background()
	a, b := r.user("Asha", 17.385, 78.4867), r.user("Bo")
	ca, cb := r.client(a, false), r.client(b, false)
	if nearbyIDs(t, cb, hyderabad, false)[a.String()] == nil {
		t.Fatal("a not shown")
	}
	if _, err := ca.UpdateMe(ctx, connect.NewRequest(&userv1.UpdateMeRequest{ShowOnMap: ptr(false)})); err != nil {
		t.Fatal(err)
	}
	nearbyIDs(t, ca, hyderabad, true)
	res, err := ca.UpdateMyLocation(ctx, connect.NewRequest(&userv1.UpdateMyLocationRequest{Location: hyderabad}))
	if err != nil || res.Msg.GetRecorded() {
		t.Fatalf("recorded while hidden: %v %v", res, err)
	}
	if _, err := ca.UpdateMe(ctx, connect.NewRequest(&userv1.UpdateMeRequest{Location: hyderabad})); err != nil {
		t.Fatal(err)
	}
	var lat *float64
	if err := r.pool.QueryRow(ctx, `SELECT latitude FROM users WHERE id = $1`, a).Scan(&lat); err != nil || lat != nil {
		t.Fatalf("hidden user has a stored position: %v %v", lat, err)
	}
	if nearbyIDs(t, cb, hyderabad, false)[a.String()] != nil {
		t.Fatal("hidden user on the map")
	}
	if _, err := ca.UpdateMe(ctx, connect.NewRequest(&userv1.UpdateMeRequest{ShowOnMap: ptr(true)})); err != nil {
		t.Fatal(err)
	}
	res, err = ca.UpdateMyLocation(ctx, connect.NewRequest(&userv1.UpdateMyLocationRequest{Location: hyderabad}))
	if err != nil || !res.Msg.GetRecorded() || res.Msg.GetUpdatedAt() == nil {
		t.Fatalf("not recorded after showing again: %v %v", res, err)
	}
	if nearbyIDs(t, cb, hyderabad, false)[a.String()] == nil {
		t.Fatal("a not back on the map")
	}
}

// TestBlockedNeverSeeEachOtherOnMap, both directions, with fresh positions.
func TestBlockedNeverSeeEachOtherOnMap(t *testing.T) {
	r := newRig(t, Options{})
	a, b := r.user("Asha", 17.385, 78.4867), r.user("Bo", 17.386, 78.487)
	ca, cb := r.client(a, false), r.client(b, false)
	if _, err := ca.Block(context.Background(), connect.NewRequest(&userv1.BlockRequest{UserId: b.String()})); err != nil {
		t.Fatal(err)
	}
	if nearbyIDs(t, ca, hyderabad, true)[b.String()] != nil || nearbyIDs(t, cb, hyderabad, true)[a.String()] != nil {
		t.Fatal("blocked users see each other on the map")
	}
}

// TestTrilaterationFailsBelowTheGrid plays the dating-app attack: many
// queries from centres around the victim, reading the returned position
// and distances. Two victims at different true positions in one grid cell
// give identical answers to every query, so no number of queries places
// either better than the cell, and the estimate from the distances is the
// cell centre, not the true position.
func TestTrilaterationFailsBelowTheGrid(t *testing.T) {
	r := newRig(t, Options{})
	ctx := context.Background()
	grid := DefaultPresence.GridMeters
	// Two true positions ~120 m apart inside one cell.
	cLat, cLng := snapToGrid(17.4, 78.5, grid)
	dLat := 60 / metresPerDegree
	trueA := [2]float64{cLat - dLat*0.9, cLng}
	trueB := [2]float64{cLat + dLat*0.9, cLng}
	if a, b := [2]float64{}, [2]float64{}; true {
		a[0], a[1] = snapToGrid(trueA[0], trueA[1], grid)
		b[0], b[1] = snapToGrid(trueB[0], trueB[1], grid)
		if a != b {
			t.Fatalf("test setup: not one cell %v %v", a, b)
		}
	}
	victims := [2]id.ID{r.user("VictimA"), r.user("VictimB")}
	for i, p := range [][2]float64{trueA, trueB} {
		if _, err := r.client(victims[i], false).UpdateMyLocation(ctx, connect.NewRequest(&userv1.UpdateMyLocationRequest{
			Location: &userv1.Location{Latitude: p[0], Longitude: p[1]}})); err != nil {
			t.Fatal(err)
		}
	}
	attacker := r.client(r.user("Attacker"), false)
	type obs struct{ x, y, d float64 } // local metres east/north of the cell centre
	var seen [2][]obs
	for k := range 24 {
		ang := float64(k) * math.Pi / 12
		rad := 300 + 150*float64(k%4)
		qLat := cLat + rad*math.Sin(ang)/metresPerDegree
		qLng := cLng + rad*math.Cos(ang)/(metresPerDegree*math.Cos(cLat*math.Pi/180))
		got := nearbyIDs(t, attacker, &userv1.Location{Latitude: qLat, Longitude: qLng}, true)
		var ans [2]*userv1.NearbyUser
		for i, v := range victims {
			if ans[i] = got[v.String()]; ans[i] == nil {
				t.Fatalf("victim %d missing", i)
			}
			seen[i] = append(seen[i], obs{(qLng - cLng) * metresPerDegree * math.Cos(cLat*math.Pi/180), (qLat - cLat) * metresPerDegree, ans[i].GetDistanceMeters()})
		}
		la, lb := ans[0].GetUser().GetLocation(), ans[1].GetUser().GetLocation()
		if la.GetLatitude() != lb.GetLatitude() || la.GetLongitude() != lb.GetLongitude() || ans[0].GetDistanceMeters() != ans[1].GetDistanceMeters() {
			t.Fatalf("query %d tells the victims apart: %v %v", k, ans[0], ans[1])
		}
	}
	// Least-squares trilateration (linearised against the first circle)
	// over the distances: it lands on the cell centre, ~54 m from each
	// true position, never on either.
	for i, o := range seen {
		var a11, a12, a22, b1, b2 float64
		for _, q := range o[1:] {
			ax, ay := 2*(q.x-o[0].x), 2*(q.y-o[0].y)
			rhs := o[0].d*o[0].d - q.d*q.d + q.x*q.x - o[0].x*o[0].x + q.y*q.y - o[0].y*o[0].y
			a11, a12, a22 = a11+ax*ax, a12+ax*ay, a22+ay*ay
			b1, b2 = b1+ax*rhs, b2+ay*rhs
		}
		det := a11*a22 - a12*a12
		ex, ey := (a22*b1-a12*b2)/det, (a11*b2-a12*b1)/det
		trueY := []float64{trueA[0] - cLat, trueB[0] - cLat}[i] * metresPerDegree
		if math.Hypot(ex, ey) > 5 {
			t.Fatalf("victim %d: estimate (%.1f, %.1f) m is not the cell centre", i, ex, ey)
		}
		if miss := math.Hypot(ex, ey-trueY); miss < 50 {
			t.Fatalf("victim %d located within %.1f m of the true position", i, miss)
		}
	}
}

// TestUpdateMyLocationInput: bad coordinates are InvalidArgument; no token
// is Unauthenticated; there is no way to set another user's position (the
// request has no user id: the caller is the subject).
func TestUpdateMyLocationInput(t *testing.T) {
	r := newRig(t, Options{})
	cl := r.client(r.user("Asha"), false)
	ctx := context.Background()
	for _, l := range []*userv1.Location{nil, {Latitude: 95}, {Longitude: -181}, {Latitude: math.NaN()}, {Longitude: math.Inf(1)}} {
		_, err := cl.UpdateMyLocation(ctx, connect.NewRequest(&userv1.UpdateMyLocationRequest{Location: l}))
		wantCode(t, err, connect.CodeInvalidArgument)
	}
	anon := userv1connectClient(r)
	_, err := anon.UpdateMyLocation(ctx, connect.NewRequest(&userv1.UpdateMyLocationRequest{Location: hyderabad}))
	wantCode(t, err, connect.CodeUnauthenticated)
	_, err = anon.FindByPhones(ctx, connect.NewRequest(&userv1.FindByPhonesRequest{Phones: []string{"+919876543210"}}))
	wantCode(t, err, connect.CodeUnauthenticated)
}

// phoneRig is a rig whose users have phones (auth_credentials rows, as the
// auth service writes them) and a lookup budget of max numbers.
func phoneRig(t *testing.T, max int) *rig {
	return newRig(t, Options{Discovery: Discovery{DefaultCC: "+91",
		Lookups: NewPhoneLookups(redistest.New(t), redistest.Prefix(), max, time.Hour)}})
}

func (r *rig) phone(uid id.ID, e164 string) {
	r.t.Helper()
	if _, err := r.pool.Exec(context.Background(), `INSERT INTO auth_credentials (user_id, phone) VALUES ($1, $2)`, uid, e164); err != nil {
		r.t.Fatal(err)
	}
}

// TestSearchByPhone (SearchScreenV2): a whole number in any format the app
// user types finds its holder; partial digits never do; phone discovery
// off, blocks and the caller are left out; no phone or email comes back.
func TestSearchByPhone(t *testing.T) {
	r := phoneRig(t, 100)
	ctx := context.Background()
	a, b, c, me := r.user("Asha"), r.user("Bo"), r.user("Chen"), r.user("Me")
	r.phone(a, "+919876543210")
	r.phone(b, "+919876543211")
	r.phone(c, "+14155550123")
	r.phone(me, "+919876543212")
	cl := r.client(me, false)
	search := func(q string) []string {
		t.Helper()
		res, err := cl.SearchUsers(ctx, connect.NewRequest(&userv1.SearchUsersRequest{Query: q}))
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		var ids []string
		for _, u := range res.Msg.GetUsers() {
			ids = append(ids, u.GetId())
		}
		return ids
	}
	for _, q := range []string{"+919876543210", "98765 43210", "+91 (98765) 43210", "09876543210"} {
		if got := search(q); len(got) != 1 || got[0] != a.String() {
			t.Fatalf("%q: %v", q, got)
		}
	}
	for _, q := range []string{"98765", "9876543", "+9198765432", "987654321", "+919876543212", "+1 415 555 0123x"} {
		if got := search(q); len(got) != 0 {
			t.Fatalf("%q matched %v", q, got)
		}
	}
	if got := search("+1 415-555-0123"); len(got) != 1 || got[0] != c.String() {
		t.Fatalf("international: %v", got)
	}
	if _, err := r.client(b, false).UpdateMe(ctx, connect.NewRequest(&userv1.UpdateMeRequest{PhoneDiscoverable: ptr(false)})); err != nil {
		t.Fatal(err)
	}
	if got := search("9876543211"); len(got) != 0 {
		t.Fatalf("undiscoverable user found: %v", got)
	}
	if _, err := r.client(a, false).Block(ctx, connect.NewRequest(&userv1.BlockRequest{UserId: me.String()})); err != nil {
		t.Fatal(err)
	}
	if got := search("9876543210"); len(got) != 0 {
		t.Fatalf("blocker found: %v", got)
	}
	// Bad bytes are a 4xx or an empty result, never a 5xx.
	for _, q := range []string{"98765\x0043210", "+" + string(make([]byte, 99))} {
		_, err := cl.SearchUsers(ctx, connect.NewRequest(&userv1.SearchUsersRequest{Query: q}))
		if c := connect.CodeOf(err); err != nil && c != connect.CodeInvalidArgument {
			t.Fatalf("%q: %v", q, err)
		}
	}
}

// TestFindByPhones: contact sync, up to 500 numbers, the same rules.
func TestFindByPhones(t *testing.T) {
	r := phoneRig(t, 1000)
	ctx := context.Background()
	a, b, me := r.user("Asha"), r.user("Bo"), r.user("Me")
	r.phone(a, "+919876543210")
	r.phone(b, "+919876543211")
	r.phone(me, "+919876543212")
	if _, err := r.client(b, false).UpdateMe(ctx, connect.NewRequest(&userv1.UpdateMeRequest{PhoneDiscoverable: ptr(false)})); err != nil {
		t.Fatal(err)
	}
	cl := r.client(me, false)
	phones := []string{"98765 43210", "+919876543211", "+919876543212", "98765", "not a number"}
	for len(phones) < 500 {
		phones = append(phones, "+91 70000 "+string(rune('0'+len(phones)%10))+"0000")
	}
	res, err := cl.FindByPhones(ctx, connect.NewRequest(&userv1.FindByPhonesRequest{Phones: phones}))
	if err != nil {
		t.Fatal(err)
	}
	if m := res.Msg.GetMatches(); len(m) != 1 || m[0].GetUser().GetId() != a.String() || m[0].GetE164() != "+919876543210" ||
		m[0].GetPhone() != "98765 43210" || m[0].GetUser().GetLocation() != nil {
		t.Fatalf("matches: %v", m)
	}
	for _, bad := range [][]string{nil, make([]string, 501), {""}, {string(make([]byte, 33))}} {
		_, err := cl.FindByPhones(ctx, connect.NewRequest(&userv1.FindByPhonesRequest{Phones: bad}))
		wantCode(t, err, connect.CodeInvalidArgument)
	}
}

// TestPhoneLookupBudgetUnderConcurrency: 40 parallel lookups against a
// budget of 10 numbers: exactly 10 answer, the rest are ResourceExhausted,
// and a 10-number contact sync no longer fits.
func TestPhoneLookupBudgetUnderConcurrency(t *testing.T) {
	r := phoneRig(t, 10)
	ctx := context.Background()
	a, me := r.user("Asha"), r.user("Me")
	r.phone(a, "+919876543210")
	cl := r.client(me, false)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, limited := 0, 0
	for range 40 {
		wg.Go(func() {
			_, err := cl.SearchUsers(ctx, connect.NewRequest(&userv1.SearchUsersRequest{Query: "+919876543210"}))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case connect.CodeOf(err) == connect.CodeResourceExhausted:
				limited++
			default:
				t.Errorf("lookup: %v", err)
			}
		})
	}
	wg.Wait()
	if ok != 10 || limited != 30 {
		t.Fatalf("ok %d limited %d", ok, limited)
	}
	// Name searches cost nothing; other users have their own budget.
	if _, err := cl.SearchUsers(ctx, connect.NewRequest(&userv1.SearchUsersRequest{Query: "asha"})); err != nil {
		t.Fatal(err)
	}
	_, err := cl.FindByPhones(ctx, connect.NewRequest(&userv1.FindByPhonesRequest{Phones: []string{"+919876543210"}}))
	wantCode(t, err, connect.CodeResourceExhausted)
	if _, err := r.client(a, false).SearchUsers(ctx, connect.NewRequest(&userv1.SearchUsersRequest{Query: "+919876543210"})); err != nil {
		t.Fatal(err)
	}
}

// userv1connectClient is a client without a token.
func userv1connectClient(r *rig) userv1connect.UserServiceClient {
	return userv1connect.NewUserServiceClient(r.h2c, r.url)
}
