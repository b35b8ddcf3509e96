package user

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5/pgxpool"

	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	realtimev1 "github.com/infliq/infliq/backend/gen/infliq/realtime/v1"
	userv1 "github.com/infliq/infliq/backend/gen/infliq/user/v1"
	"github.com/infliq/infliq/backend/gen/infliq/user/v1/userv1connect"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/cache/redistest"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/backend/platform/tier"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
)

// rig is a user tier on loopback with a real database.
type rig struct {
	t    *testing.T
	pool *pgxpool.Pool
	url  string
	h2c  *http.Client
}

func newRig(t *testing.T, o Options) *rig {
	t.Helper()
	pool := pgtest.New(t)
	url, h2c, _ := tiertest.Serve(t, NewTier(tiertest.Deps(), pool, o).Handler())
	return &rig{t: t, pool: pool, url: url, h2c: h2c}
}

// client returns a UserService client acting as uid; grpc picks the protocol.
func (r *rig) client(uid id.ID, grpc bool) userv1connect.UserServiceClient {
	opts := []connect.ClientOption{tiertest.Bearer(tiertest.Token(r.t, uid))}
	if grpc {
		opts = append(opts, connect.WithGRPC())
	}
	return userv1connect.NewUserServiceClient(r.h2c, r.url, opts...)
}

// user inserts a profile and returns its id.
func (r *rig) user(name string, loc ...float64) id.ID {
	r.t.Helper()
	uid := id.New()
	var lat, lng *float64
	if len(loc) == 2 {
		lat, lng = &loc[0], &loc[1]
	}
	// A located user reported the position just now (fresh on the map).
	if _, err := r.pool.Exec(context.Background(), `INSERT INTO users (id, name, latitude, longitude, location_updated_at)
		VALUES ($1, $2, $3, $4, CASE WHEN $3::float8 IS NOT NULL THEN now() END)`,
		uid, name, lat, lng); err != nil {
		r.t.Fatal(err)
	}
	return uid
}

func wantCode(t *testing.T, err error, code connect.Code) {
	t.Helper()
	if connect.CodeOf(err) != code {
		t.Fatalf("want %v, got %v", code, err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestProfileReadAndUpdate(t *testing.T) {
	r := newRig(t, Options{})
	ctx := context.Background()
	a, b := r.user("Asha"), r.user("Bo")
	ca := r.client(a, false)

	res, err := ca.UpdateMe(ctx, connect.NewRequest(&userv1.UpdateMeRequest{
		Name: ptr("  Asha K "), Bio: ptr("hi"), Age: ptr(int32(30)), Gender: ptr("f"),
		ProfilePicture: ptr("https://cdn/x.jpg"), Location: &userv1.Location{Latitude: 17.4, Longitude: 78.5},
		Categories: &userv1.Categories{Values: []string{"sports", "sports", "verified"}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	u := res.Msg.User
	// The location is stored coarsened to the grid (issue 18).
	wantLat, wantLng := snapToGrid(17.4, 78.5, DefaultPresence.GridMeters)
	if u.Name != "Asha K" || u.Bio != "hi" || u.Age != 30 || u.Location.GetLatitude() != wantLat ||
		u.Location.GetLongitude() != wantLng || len(u.Categories) != 2 {
		t.Fatalf("updated: %v", u)
	}
	// Unset fields stay; set-but-empty fields clear.
	res, err = ca.UpdateMe(ctx, connect.NewRequest(&userv1.UpdateMeRequest{Bio: ptr(""), Age: ptr(int32(0)), ClearLocation: true,
		Categories: &userv1.Categories{}}))
	if err != nil {
		t.Fatal(err)
	}
	u = res.Msg.User
	if u.Name != "Asha K" || u.Bio != "" || u.Age != 0 || u.Location != nil || len(u.Categories) != 0 || u.ProfilePicture != "https://cdn/x.jpg" {
		t.Fatalf("cleared: %v", u)
	}

	// B reads A.
	g, err := r.client(b, true).GetUser(ctx, connect.NewRequest(&userv1.GetUserRequest{UserId: a.String()}))
	if err != nil || g.Msg.User.Name != "Asha K" || g.Msg.User.IsFollowing {
		t.Fatalf("get: %v %v", g, err)
	}
	me, err := ca.GetMe(ctx, connect.NewRequest(&userv1.GetMeRequest{}))
	if err != nil || me.Msg.User.Id != a.String() {
		t.Fatalf("me: %v %v", me, err)
	}

	// Missing user, bad ids and bad values are clear client errors.
	_, err = ca.GetUser(ctx, connect.NewRequest(&userv1.GetUserRequest{UserId: id.New().String()}))
	wantCode(t, err, connect.CodeNotFound)
	_, err = ca.GetUser(ctx, connect.NewRequest(&userv1.GetUserRequest{UserId: "me'; DROP TABLE users"}))
	wantCode(t, err, connect.CodeInvalidArgument)
	_, err = ca.UpdateMe(ctx, connect.NewRequest(&userv1.UpdateMeRequest{Name: ptr(strings.Repeat("x", 101))}))
	wantCode(t, err, connect.CodeInvalidArgument)
	_, err = ca.UpdateMe(ctx, connect.NewRequest(&userv1.UpdateMeRequest{Location: &userv1.Location{Latitude: 91}}))
	wantCode(t, err, connect.CodeInvalidArgument)
	_, err = ca.UpdateMe(ctx, connect.NewRequest(&userv1.UpdateMeRequest{Categories: &userv1.Categories{Values: []string{"Bad Cat!"}}}))
	wantCode(t, err, connect.CodeInvalidArgument)
	// Unauthenticated.
	_, err = userv1connect.NewUserServiceClient(r.h2c, r.url).GetMe(ctx, connect.NewRequest(&userv1.GetMeRequest{}))
	wantCode(t, err, connect.CodeUnauthenticated)
}

// capture records published events.
type capture struct {
	mu   sync.Mutex
	evs  map[id.ID][]*realtimev1.SubscribeResponse
	recs map[id.ID][]bus.Record
}

func (c *capture) PublishToUser(_ context.Context, uid id.ID, ev *realtimev1.SubscribeResponse) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.evs[uid] = append(c.evs[uid], ev)
	return nil
}

func (c *capture) PublishToUsers(ctx context.Context, uids []id.ID, ev *realtimev1.SubscribeResponse) error {
	for _, u := range uids {
		_ = c.PublishToUser(ctx, u, ev)
	}
	return nil
}

func (c *capture) PublishToChat(context.Context, id.ID, *realtimev1.SubscribeResponse) error {
	return nil
}

// AppendRecords captures records by their first recipient.
func (c *capture) AppendRecords(_ context.Context, recs ...bus.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range recs {
		c.recs[r.To[0]] = append(c.recs[r.To[0]], r)
	}
	return nil
}

func (r *rig) counts(uid id.ID) (followers, following int) {
	r.t.Helper()
	if err := r.pool.QueryRow(context.Background(), `SELECT followers_count, following_count FROM users WHERE id = $1`, uid).
		Scan(&followers, &following); err != nil {
		r.t.Fatal(err)
	}
	return
}

func TestFollowIsIdempotentCountsAndNotifies(t *testing.T) {
	cb := &capture{evs: map[id.ID][]*realtimev1.SubscribeResponse{}, recs: map[id.ID][]bus.Record{}}
	r := newRig(t, Options{Bus: cb})
	ctx := context.Background()
	a, b := r.user("Asha"), r.user("Bo")
	ca := r.client(a, true)
	for i, want := range []bool{true, false} {
		res, err := ca.Follow(ctx, connect.NewRequest(&userv1.FollowRequest{UserId: b.String()}))
		if err != nil || res.Msg.Created != want || res.Msg.FollowersCount != 1 {
			t.Fatalf("follow %d: %v %v", i, res, err)
		}
	}
	if f, g := r.counts(b); f != 1 || g != 0 {
		t.Fatalf("b counts %d %d", f, g)
	}
	if f, g := r.counts(a); f != 0 || g != 1 {
		t.Fatalf("a counts %d %d", f, g)
	}
	// The follow's record for the notify tier (which emits the notification).
	if recs := cb.recs[b]; len(recs) != 1 || recs[0].Kind != bus.RecFollow || recs[0].Actor != a {
		t.Fatalf("records: %v", recs)
	}
	g, _ := r.client(b, false).GetUser(ctx, connect.NewRequest(&userv1.GetUserRequest{UserId: a.String()}))
	if !g.Msg.User.FollowsYou || len(g.Msg.Following) != 1 || g.Msg.Following[0].Id != b.String() {
		t.Fatalf("profile: %v", g.Msg)
	}
	lf, err := r.client(b, false).ListFollowers(ctx, connect.NewRequest(&userv1.ListFollowersRequest{UserId: b.String()}))
	if err != nil || len(lf.Msg.Users) != 1 || lf.Msg.Users[0].Id != a.String() {
		t.Fatalf("followers: %v %v", lf, err)
	}

	_, err = ca.Follow(ctx, connect.NewRequest(&userv1.FollowRequest{UserId: a.String()}))
	wantCode(t, err, connect.CodeInvalidArgument)
	_, err = ca.Follow(ctx, connect.NewRequest(&userv1.FollowRequest{UserId: id.New().String()}))
	wantCode(t, err, connect.CodeNotFound)
	_, err = ca.Follow(ctx, connect.NewRequest(&userv1.FollowRequest{UserId: "x"}))
	wantCode(t, err, connect.CodeInvalidArgument)

	for i, want := range []bool{true, false} {
		res, err := ca.Unfollow(ctx, connect.NewRequest(&userv1.UnfollowRequest{UserId: b.String()}))
		if err != nil || res.Msg.Removed != want || res.Msg.FollowersCount != 0 {
			t.Fatalf("unfollow %d: %v %v", i, res, err)
		}
	}
	if f, g := r.counts(a); f != 0 || g != 0 {
		t.Fatalf("a counts after unfollow %d %d", f, g)
	}
}

func TestConcurrentFollowsKeepCounts(t *testing.T) {
	r := newRig(t, Options{})
	ctx := context.Background()
	star := r.user("Star")
	fans := make([]id.ID, 12)
	for i := range fans {
		fans[i] = r.user(fmt.Sprint("fan", i))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i, f := range fans {
		c := r.client(f, i%2 == 0)
		for range 3 { // repeated follows must stay idempotent
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, err := c.Follow(ctx, connect.NewRequest(&userv1.FollowRequest{UserId: star.String()}))
				errs <- err
			}()
			go func() { // and the reverse direction at the same time (lock order)
				defer wg.Done()
				_, err := r.client(star, false).Follow(ctx, connect.NewRequest(&userv1.FollowRequest{UserId: f.String()}))
				errs <- err
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if f, g := r.counts(star); f != len(fans) || g != len(fans) {
		t.Fatalf("star counts %d %d", f, g)
	}
	var bad int
	if err := r.pool.QueryRow(ctx, `SELECT count(*) FROM users u WHERE
		followers_count <> (SELECT count(*) FROM follows WHERE followee_id = u.id) OR
		following_count <> (SELECT count(*) FROM follows WHERE follower_id = u.id)`).Scan(&bad); err != nil || bad != 0 {
		t.Fatalf("inconsistent counts: %d %v", bad, err)
	}
}

func TestBlocksHideUsersOnEveryReadPath(t *testing.T) {
	r := newRig(t, Options{})
	ctx := context.Background()
	a := r.user("Blocker Anne", 10, 10)
	b := r.user("Blocked Anne", 10.01, 10.01)
	c := r.user("Other Anne", 10.02, 10.02)
	ca, cb := r.client(a, false), r.client(b, true)
	if _, err := cb.Follow(ctx, connect.NewRequest(&userv1.FollowRequest{UserId: a.String()})); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Follow(ctx, connect.NewRequest(&userv1.FollowRequest{UserId: b.String()})); err != nil {
		t.Fatal(err)
	}
	res, err := ca.Block(ctx, connect.NewRequest(&userv1.BlockRequest{UserId: b.String(), Reason: "abusive_user", Details: "from feed"}))
	if err != nil || !res.Msg.Created {
		t.Fatalf("block: %v %v", res, err)
	}
	if res, _ := ca.Block(ctx, connect.NewRequest(&userv1.BlockRequest{UserId: b.String()})); res.Msg.Created {
		t.Fatal("second block created")
	}
	// Follows are gone both ways, with counts.
	for _, u := range []id.ID{a, b} {
		if f, g := r.counts(u); f != 0 || g != 0 {
			t.Fatalf("counts after block %d %d", f, g)
		}
	}
	for name, pair := range map[string][2]id.ID{"blocked sees blocker": {b, a}, "blocker sees blocked": {a, b}} {
		cl := r.client(pair[0], false)
		_, err := cl.GetUser(ctx, connect.NewRequest(&userv1.GetUserRequest{UserId: pair[1].String()}))
		wantCode(t, err, connect.CodeNotFound)
		_, err = cl.Follow(ctx, connect.NewRequest(&userv1.FollowRequest{UserId: pair[1].String()}))
		if c := connect.CodeOf(err); c != connect.CodeNotFound && c != connect.CodeFailedPrecondition {
			t.Fatalf("%s: follow %v", name, err)
		}
		_, err = cl.ListFollowers(ctx, connect.NewRequest(&userv1.ListFollowersRequest{UserId: pair[1].String()}))
		wantCode(t, err, connect.CodeNotFound)
		s, err := cl.SearchUsers(ctx, connect.NewRequest(&userv1.SearchUsersRequest{Query: "anne"}))
		if err != nil || len(s.Msg.Users) != 1 || s.Msg.Users[0].Id != c.String() {
			t.Fatalf("%s: search %v %v", name, s, err)
		}
		n, err := cl.ListNearbyUsers(ctx, connect.NewRequest(&userv1.ListNearbyUsersRequest{Center: &userv1.Location{Latitude: 10, Longitude: 10}}))
		if err != nil || len(n.Msg.Users) != 1 || n.Msg.Users[0].User.Id != c.String() {
			t.Fatalf("%s: nearby %v %v", name, n, err)
		}
		cat, err := cl.ListUsersByCategory(ctx, connect.NewRequest(&userv1.ListUsersByCategoryRequest{Category: "global"}))
		if err != nil || len(cat.Msg.Users) != 1 {
			t.Fatalf("%s: category %v %v", name, cat, err)
		}
	}
	// Only the blocker sees their list; the blocked user's own list is empty.
	lb, err := ca.ListBlocked(ctx, connect.NewRequest(&userv1.ListBlockedRequest{}))
	if err != nil || len(lb.Msg.Users) != 1 || lb.Msg.Users[0].Id != b.String() {
		t.Fatalf("blocked list: %v %v", lb, err)
	}
	if lb, _ := cb.ListBlocked(ctx, connect.NewRequest(&userv1.ListBlockedRequest{})); len(lb.Msg.Users) != 0 {
		t.Fatal("blocked user sees the blocker's list")
	}
	// The block reason became a report.
	var reports int
	_ = r.pool.QueryRow(ctx, `SELECT count(*) FROM user_reports WHERE reporter_id = $1 AND target_id = $2 AND reason = 'abusive_user'`, a, b).Scan(&reports)
	if reports != 1 {
		t.Fatalf("reports %d", reports)
	}
	// The blocked user cannot lift the block; the blocker can.
	if res, _ := cb.Unblock(ctx, connect.NewRequest(&userv1.UnblockRequest{UserId: a.String()})); res.Msg.Removed {
		t.Fatal("blocked user lifted the block")
	}
	if res, _ := ca.Unblock(ctx, connect.NewRequest(&userv1.UnblockRequest{UserId: b.String()})); !res.Msg.Removed {
		t.Fatal("unblock")
	}
	if _, err := cb.GetUser(ctx, connect.NewRequest(&userv1.GetUserRequest{UserId: a.String()})); err != nil {
		t.Fatal(err)
	}
	_, err = ca.Block(ctx, connect.NewRequest(&userv1.BlockRequest{UserId: a.String()}))
	wantCode(t, err, connect.CodeInvalidArgument)
	_, err = ca.Block(ctx, connect.NewRequest(&userv1.BlockRequest{UserId: id.New().String()}))
	wantCode(t, err, connect.CodeNotFound)
}

func TestNearbyMatchesHaversineOracle(t *testing.T) {
	r := newRig(t, Options{})
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	type pt struct {
		id       id.ID
		lat, lng float64
		cats     []string
		verified bool
	}
	centers := [][2]float64{{17.385, 78.4867}, {0.1, 179.9}, {89.8, 10}, {-33.9, -70.6}}
	var pts []pt
	for _, c := range centers {
		for range 60 {
			lat := math.Max(-90, math.Min(90, c[0]+(rng.Float64()-0.5)*1.6))
			lng := c[1] + (rng.Float64()-0.5)*1.6
			if lng > 180 {
				lng -= 360
			}
			if lng < -180 {
				lng += 360
			}
			// Positions are served snapped to the grid: the oracle uses those.
			slat, slng := snapToGrid(lat, lng, DefaultPresence.GridMeters)
			p := pt{lat: slat, lng: slng, verified: rng.IntN(4) == 0}
			if rng.IntN(3) == 0 {
				p.cats = []string{"sports"}
			}
			p.id = r.user("p", lat, lng)
			if _, err := r.pool.Exec(ctx, `UPDATE users SET categories = $2, is_verified = $3 WHERE id = $1`, p.id, append([]string{}, p.cats...), p.verified); err != nil {
				t.Fatal(err)
			}
			pts = append(pts, p)
		}
	}
	r.user("no location") // never returned
	viewer := r.user("viewer")
	cl := r.client(viewer, false)
	for _, c := range centers {
		for _, radius := range []int32{5000, 30000, 50000} {
			for _, cat := range []string{"", "global", "verified", "Sports"} {
				var want []string
				for _, p := range pts {
					d := haversine(c[0], c[1], p.lat, p.lng)
					if math.Abs(d-float64(radius)) < 1 { // too close to the edge to compare
						continue
					}
					ok := d < float64(radius)
					switch cat {
					case "verified":
						ok = ok && p.verified
					case "Sports":
						ok = ok && len(p.cats) > 0
					}
					if ok {
						want = append(want, p.id.String())
					}
				}
				res, err := cl.ListNearbyUsers(ctx, connect.NewRequest(&userv1.ListNearbyUsersRequest{
					Center: &userv1.Location{Latitude: c[0], Longitude: c[1]}, MaxDistanceMeters: radius, Category: cat}))
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				last := -1.0
				for _, u := range res.Msg.Users {
					if u.DistanceMeters < last {
						t.Fatalf("not sorted by distance")
					}
					last = u.DistanceMeters
					if math.Abs(u.DistanceMeters-float64(radius)) >= 1 {
						got = append(got, u.User.Id)
					}
					if u.User.Location == nil {
						t.Fatal("result without location")
					}
				}
				if len(want) > 50 {
					t.Fatalf("oracle set too large for the cap: %d", len(want))
				}
				sort.Strings(want)
				sort.Strings(got)
				if strings.Join(want, ",") != strings.Join(got, ",") {
					t.Fatalf("center %v r=%d cat=%q:\nwant %v\ngot  %v", c, radius, cat, want, got)
				}
			}
		}
	}
	_, err := cl.ListNearbyUsers(ctx, connect.NewRequest(&userv1.ListNearbyUsersRequest{}))
	wantCode(t, err, connect.CodeInvalidArgument)
	_, err = cl.ListNearbyUsers(ctx, connect.NewRequest(&userv1.ListNearbyUsersRequest{Center: &userv1.Location{Latitude: 1, Longitude: 181}}))
	wantCode(t, err, connect.CodeInvalidArgument)
	_, err = cl.ListNearbyUsers(ctx, connect.NewRequest(&userv1.ListNearbyUsersRequest{Center: &userv1.Location{}, MaxDistanceMeters: -1}))
	wantCode(t, err, connect.CodeInvalidArgument)
}

func TestSearchIsLiteralAndCaseInsensitive(t *testing.T) {
	r := newRig(t, Options{})
	ctx := context.Background()
	names := []string{"100% Real", "under_score", "(a+)+$ fan", "Zoë Ångström", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaab", `back\slash`, "plain"}
	ids := map[string]id.ID{}
	for _, n := range names {
		ids[n] = r.user(n)
	}
	cl := r.client(r.user("viewer"), true)
	for q, want := range map[string][]string{
		"%":        {"100% Real"},
		"_":        {"under_score"},
		"(a+)+$":   {"(a+)+$ fan"},
		"ZOË":      {"Zoë Ångström"},
		"ångström": {"Zoë Ångström"},
		`\`:        {`back\slash`},
		"PLAIN":    {"plain"},
		"a+":       {"(a+)+$ fan"},
		"%%%":      nil,
		"nobody":   nil,
	} {
		res, err := cl.SearchUsers(ctx, connect.NewRequest(&userv1.SearchUsersRequest{Query: q}))
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		var got []string
		for _, u := range res.Msg.Users {
			got = append(got, u.Name)
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("%q: got %q want %q", q, got, want)
		}
	}
	// Capped at 20.
	for i := range 25 {
		r.user(fmt.Sprint("many ", i))
	}
	res, err := cl.SearchUsers(ctx, connect.NewRequest(&userv1.SearchUsersRequest{Query: "many"}))
	if err != nil || len(res.Msg.Users) != 20 {
		t.Fatalf("cap: %d %v", len(res.Msg.Users), err)
	}
	_, err = cl.SearchUsers(ctx, connect.NewRequest(&userv1.SearchUsersRequest{Query: strings.Repeat("a", 101)}))
	wantCode(t, err, connect.CodeInvalidArgument)
	_, err = cl.SearchUsers(ctx, connect.NewRequest(&userv1.SearchUsersRequest{}))
	wantCode(t, err, connect.CodeInvalidArgument)
}

func TestReportsAdminOnly(t *testing.T) {
	admin := id.New()
	r := newRig(t, Options{Admins: []string{admin.String()}})
	ctx := context.Background()
	a, b := r.user("A"), r.user("B")
	if _, err := r.pool.Exec(ctx, `INSERT INTO users (id) VALUES ($1)`, admin); err != nil {
		t.Fatal(err)
	}
	rep, err := r.client(a, false).ReportUser(ctx, connect.NewRequest(&userv1.ReportUserRequest{UserId: b.String(), Reason: "abusive_user", Details: "x"}))
	if err != nil || rep.Msg.ReportId == "" {
		t.Fatalf("report: %v %v", rep, err)
	}
	_, err = r.client(a, false).ReportUser(ctx, connect.NewRequest(&userv1.ReportUserRequest{UserId: id.New().String(), Reason: "x"}))
	wantCode(t, err, connect.CodeNotFound)
	_, err = r.client(a, false).ReportUser(ctx, connect.NewRequest(&userv1.ReportUserRequest{UserId: b.String()}))
	wantCode(t, err, connect.CodeInvalidArgument)
	_, err = r.client(a, false).ReportUser(ctx, connect.NewRequest(&userv1.ReportUserRequest{UserId: b.String(), Reason: "   "}))
	wantCode(t, err, connect.CodeInvalidArgument)

	// A reporter (or the target) cannot read reports.
	for _, u := range []id.ID{a, b} {
		_, err = r.client(u, true).ListReports(ctx, connect.NewRequest(&userv1.ListReportsRequest{}))
		wantCode(t, err, connect.CodePermissionDenied)
	}
	for range 3 {
		if _, err := r.client(b, false).ReportUser(ctx, connect.NewRequest(&userv1.ReportUserRequest{UserId: a.String(), Reason: "spam"})); err != nil {
			t.Fatal(err)
		}
	}
	ac := r.client(admin, true)
	var all []*userv1.Report
	cursor := ""
	for {
		res, err := ac.ListReports(ctx, connect.NewRequest(&userv1.ListReportsRequest{Page: &commonv1.PageRequest{Cursor: cursor, Limit: 2}}))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, res.Msg.Reports...)
		if cursor = res.Msg.Page.GetNextCursor(); cursor == "" {
			break
		}
	}
	if len(all) != 4 || all[3].Id != rep.Msg.ReportId || all[0].TargetType != "user" || all[0].Status != "pending" {
		t.Fatalf("reports: %v", all)
	}
	_, err = ac.ListReports(ctx, connect.NewRequest(&userv1.ListReportsRequest{Page: &commonv1.PageRequest{Cursor: "!!"}}))
	wantCode(t, err, connect.CodeInvalidArgument)
	_, err = ac.ListReports(ctx, connect.NewRequest(&userv1.ListReportsRequest{Status: "bogus"}))
	wantCode(t, err, connect.CodeInvalidArgument)
}

func TestListReportsReadsPostReports(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	reporter, target := id.New(), id.New()
	if _, err := pool.Exec(ctx, `INSERT INTO users (id) VALUES ($1), ($2)`, reporter, target); err != nil {
		t.Fatal(err)
	}
	// A post report as the post service writes it (read model only here).
	post := id.New()
	if _, err := pool.Exec(ctx, `INSERT INTO post_reports (id, reporter_id, post_id, reason, created_at) VALUES ($1, $2, $3, 'nsfw', now() - interval '1 hour')`,
		id.New(), reporter, post); err != nil {
		t.Fatal(err)
	}
	s := NewStore(pool)
	if _, err := s.Report(ctx, reporter, target, "spam", ""); err != nil {
		t.Fatal(err)
	}
	rows, _, err := s.Reports(ctx, "", nil, 10)
	if err != nil || len(rows) != 2 || rows[0].TargetType != "user" || rows[1].TargetType != "post" || rows[1].TargetID != post {
		t.Fatalf("reports: %+v %v", rows, err)
	}
	if rows, _, _ := s.Reports(ctx, "actioned", nil, 10); len(rows) != 0 {
		t.Fatalf("status filter: %+v", rows)
	}
}

func TestDeleteAccountRemovesUserFromEveryReadPath(t *testing.T) {
	var purged, revoked []id.ID
	fail := true
	r := newRig(t, Options{
		Purgers: []AccountPurger{PurgerFunc(func(_ context.Context, uid id.ID) error {
			if fail {
				fail = false
				return errors.New("post service down")
			}
			purged = append(purged, uid)
			return nil
		})},
		Sessions: PurgerFunc(func(_ context.Context, uid id.ID) error { revoked = append(revoked, uid); return nil }),
	})
	ctx := context.Background()
	a := r.user("Gone Girl", 5, 5)
	b, c := r.user("Stays"), r.user("Blocker")
	ca := r.client(a, false)
	for _, u := range []id.ID{b, c} {
		if _, err := ca.Follow(ctx, connect.NewRequest(&userv1.FollowRequest{UserId: u.String()})); err != nil {
			t.Fatal(err)
		}
		if _, err := r.client(u, false).Follow(ctx, connect.NewRequest(&userv1.FollowRequest{UserId: a.String()})); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.client(b, false).ReportUser(ctx, connect.NewRequest(&userv1.ReportUserRequest{UserId: a.String(), Reason: "spam"})); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Block(ctx, connect.NewRequest(&userv1.BlockRequest{UserId: c.String()})); err != nil {
		t.Fatal(err)
	}

	// A failing purger stops before anything is deleted; a retry finishes.
	_, err := ca.DeleteAccount(ctx, connect.NewRequest(&userv1.DeleteAccountRequest{}))
	wantCode(t, err, connect.CodeUnavailable)
	if _, err := r.client(b, false).GetUser(ctx, connect.NewRequest(&userv1.GetUserRequest{UserId: a.String()})); err != nil {
		t.Fatal("deleted before purgers finished")
	}
	for range 2 { // idempotent
		if _, err := ca.DeleteAccount(ctx, connect.NewRequest(&userv1.DeleteAccountRequest{})); err != nil {
			t.Fatal(err)
		}
	}
	if len(purged) != 2 || purged[0] != a || len(revoked) != 2 {
		t.Fatalf("purged %v revoked %v", purged, revoked)
	}
	cb := r.client(b, true)
	_, err = cb.GetUser(ctx, connect.NewRequest(&userv1.GetUserRequest{UserId: a.String()}))
	wantCode(t, err, connect.CodeNotFound)
	if s, _ := cb.SearchUsers(ctx, connect.NewRequest(&userv1.SearchUsersRequest{Query: "gone"})); len(s.Msg.Users) != 0 {
		t.Fatal("search still finds the deleted user")
	}
	if n, _ := cb.ListNearbyUsers(ctx, connect.NewRequest(&userv1.ListNearbyUsersRequest{Center: &userv1.Location{Latitude: 5, Longitude: 5}})); len(n.Msg.Users) != 0 {
		t.Fatal("nearby still finds the deleted user")
	}
	if l, _ := cb.ListFollowers(ctx, connect.NewRequest(&userv1.ListFollowersRequest{UserId: b.String()})); len(l.Msg.Users) != 0 {
		t.Fatal("followers still list the deleted user")
	}
	if f, g := r.counts(b); f != 0 || g != 0 {
		t.Fatalf("b counts %d %d", f, g)
	}
	var left int
	_ = r.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM follows) + (SELECT count(*) FROM blocks) + (SELECT count(*) FROM user_reports)`).Scan(&left)
	if left != 0 {
		t.Fatalf("%d graph rows left", left)
	}
	ic := userv1connect.NewUserInternalServiceClient(r.h2c, r.url, tier.InternalClientOptions(tiertest.InternalToken)...)
	rel, err := ic.GetRelationship(ctx, connect.NewRequest(&userv1.GetRelationshipRequest{ViewerId: b.String(), OtherId: a.String()}))
	if err != nil || rel.Msg.OtherExists {
		t.Fatalf("relationship: %v %v", rel, err)
	}
}

func TestInternalRelationshipAndSummaries(t *testing.T) {
	r := newRig(t, Options{})
	ctx := context.Background()
	a, b, c := r.user("A"), r.user("B"), r.user("C")
	if _, err := r.client(a, false).Follow(ctx, connect.NewRequest(&userv1.FollowRequest{UserId: b.String()})); err != nil {
		t.Fatal(err)
	}
	if _, err := r.client(c, false).Block(ctx, connect.NewRequest(&userv1.BlockRequest{UserId: a.String()})); err != nil {
		t.Fatal(err)
	}
	ic := userv1connect.NewUserInternalServiceClient(r.h2c, r.url, append(tier.InternalClientOptions(tiertest.InternalToken), connect.WithGRPC())...)
	for _, tc := range []struct {
		v, o id.ID
		want Relationship
	}{
		{a, b, Relationship{ViewerFollows: true, OtherExists: true}},
		{b, a, Relationship{OtherFollows: true, OtherExists: true}},
		{a, c, Relationship{Blocked: true, OtherExists: true}},
		{c, a, Relationship{Blocked: true, OtherExists: true}},
	} {
		res, err := ic.GetRelationship(ctx, connect.NewRequest(&userv1.GetRelationshipRequest{ViewerId: tc.v.String(), OtherId: tc.o.String()}))
		if err != nil {
			t.Fatal(err)
		}
		m := res.Msg
		if m.Blocked != tc.want.Blocked || m.ViewerFollows != tc.want.ViewerFollows || m.OtherFollows != tc.want.OtherFollows || m.OtherExists != tc.want.OtherExists {
			t.Fatalf("%v→%v: %v", tc.v, tc.o, m)
		}
	}
	res, err := ic.GetUserSummaries(ctx, connect.NewRequest(&userv1.GetUserSummariesRequest{Ids: []string{c.String(), id.New().String(), a.String()}}))
	if err != nil || len(res.Msg.Users) != 2 || res.Msg.Users[0].Name != "C" || res.Msg.Users[1].Name != "A" {
		t.Fatalf("summaries: %v %v", res, err)
	}
	_, err = ic.GetUserSummaries(ctx, connect.NewRequest(&userv1.GetUserSummariesRequest{Ids: []string{"nope"}}))
	wantCode(t, err, connect.CodeInvalidArgument)
	// Users cannot call the internal service with their token.
	uc := userv1connect.NewUserInternalServiceClient(r.h2c, r.url, tiertest.Bearer(tiertest.Token(t, a)))
	_, err = uc.GetRelationship(ctx, connect.NewRequest(&userv1.GetRelationshipRequest{ViewerId: a.String(), OtherId: b.String()}))
	wantCode(t, err, connect.CodePermissionDenied)
}

func TestFollowerPagesWithCursor(t *testing.T) {
	r := newRig(t, Options{})
	ctx := context.Background()
	star := r.user("star")
	want := map[string]bool{}
	for i := range 7 {
		f := r.user(fmt.Sprint("f", i))
		want[f.String()] = true
		if _, err := r.client(f, false).Follow(ctx, connect.NewRequest(&userv1.FollowRequest{UserId: star.String()})); err != nil {
			t.Fatal(err)
		}
	}
	cl := r.client(star, false)
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		res, err := cl.ListFollowers(ctx, connect.NewRequest(&userv1.ListFollowersRequest{UserId: star.String(), Page: &commonv1.PageRequest{Cursor: cursor, Limit: 3}}))
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range res.Msg.Users {
			if seen[u.Id] {
				t.Fatalf("duplicate %s", u.Id)
			}
			seen[u.Id] = true
		}
		if cursor = res.Msg.Page.GetNextCursor(); cursor == "" {
			break
		}
		if pages > 5 {
			t.Fatal("endless paging")
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("saw %d of %d", len(seen), len(want))
	}
	_, err := cl.ListFollowing(ctx, connect.NewRequest(&userv1.ListFollowingRequest{UserId: star.String(), Page: &commonv1.PageRequest{Limit: 101}}))
	wantCode(t, err, connect.CodeInvalidArgument)
	_, err = cl.ListFollowing(ctx, connect.NewRequest(&userv1.ListFollowingRequest{UserId: star.String(), Page: &commonv1.PageRequest{Cursor: "bm9wZQ"}}))
	wantCode(t, err, connect.CodeInvalidArgument)
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add("")
	f.Add(encodeCursor(&Cursor{ID: id.New()}))
	f.Add("MTIzLjY1NjE2YmNk")
	f.Add("!!!")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decodeCursor(s)
		if err == nil && c != nil && encodeCursor(c) == "" {
			t.Fatal("decoded cursor does not re-encode")
		}
	})
}

// FuzzChordCoversRadius checks what the nearby scan relies on: a point
// within the radius (haversine) is within chordFor(radius) of the centre on
// the unit sphere, so neither the index's bounding cube nor its KNN order
// loses it, and chord order agrees with haversine order.
func FuzzChordCoversRadius(f *testing.F) {
	f.Add(17.0, 78.0, 17.3, 78.2, 50000.0)
	f.Add(0.0, 179.99, 0.1, -179.9, 100000.0)
	f.Add(-89.9, -179.0, 89.9, 1.0, 20000000.0)
	f.Add(10.0, 10.0, 10.0, 10.0, 0.0)
	f.Fuzz(func(t *testing.T, lat1, lng1, lat2, lng2, radius float64) {
		for _, v := range []float64{lat1, lng1, lat2, lng2, radius} {
			if math.IsNaN(v) {
				return
			}
		}
		if math.Abs(lat1) > 90 || math.Abs(lat2) > 90 || math.Abs(lng1) > 180 || math.Abs(lng2) > 180 || radius < 0 || radius > 2e7 {
			return
		}
		a, b := unitVector(lat1, lng1), unitVector(lat2, lng2)
		chord := math.Sqrt((a[0]-b[0])*(a[0]-b[0]) + (a[1]-b[1])*(a[1]-b[1]) + (a[2]-b[2])*(a[2]-b[2]))
		d := haversine(lat1, lng1, lat2, lng2)
		if d <= radius && chord > chordFor(radius) {
			t.Fatalf("(%v,%v)-(%v,%v): %v m within %v m, but chord %v > %v", lat1, lng1, lat2, lng2, d, radius, chord, chordFor(radius))
		}
		if d > 1 && math.Abs(chord-2*math.Sin(d/earthRadius/2)) > 1e-9 {
			t.Fatalf("(%v,%v)-(%v,%v): chord %v is not 2 sin(%v m / 2R)", lat1, lng1, lat2, lng2, chord, d)
		}
	})
}

func TestFollowRecordsReachTheRealBus(t *testing.T) {
	b := bus.New(redistest.New(t), redistest.Prefix(), 100)
	r := newRig(t, Options{Bus: b})
	ctx := context.Background()
	a, target := r.user(""), r.user("Target")
	if _, err := r.client(a, false).Follow(ctx, connect.NewRequest(&userv1.FollowRequest{UserId: target.String()})); err != nil {
		t.Fatal(err)
	}
	if _, err := r.client(a, false).Unfollow(ctx, connect.NewRequest(&userv1.UnfollowRequest{UserId: target.String()})); err != nil {
		t.Fatal(err)
	}
	recs, err := b.PeekRecords(ctx)
	if err != nil || len(recs) != 2 {
		t.Fatalf("records: %v %v", recs, err)
	}
	kinds := map[string]bool{}
	for _, rec := range recs {
		if rec.Actor != a || len(rec.To) != 1 || rec.To[0] != target || rec.ID.IsZero() {
			t.Fatalf("record: %+v", rec)
		}
		kinds[rec.Kind] = true
	}
	if !kinds[bus.RecFollow] || !kinds[bus.RecUnfollow] {
		t.Fatalf("kinds: %v", kinds)
	}
	// Nothing is published live: the notify tier emits the notification.
	if evs, _, err := b.Replay(ctx, target, 0, 10); err != nil || len(evs) != 0 {
		t.Fatalf("replay: %v %v", evs, err)
	}
}
