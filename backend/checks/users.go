package checks

import (
	"context"
	"fmt"
	"strings"
)

// userRoutes are the legacy /api/users/* routes (contract §A.0) with a
// harmless request each.
var userRoutes = []struct{ method, path string }{
	{"GET", "/api/users/me"},
	{"GET", "/api/users/000000000000000000000000"},
	{"GET", "/api/users/profile/000000000000000000000000"},
	{"PUT", "/api/users/profile"},
	{"PUT", "/api/users/000000000000000000000000"},
	{"POST", "/api/users/000000000000000000000000/follow"},
	{"POST", "/api/users/follow/000000000000000000000000"},
	{"DELETE", "/api/users/unfollow/000000000000000000000000"},
	{"DELETE", "/api/users/000000000000000000000000/follow"},
	{"GET", "/api/users/followers/000000000000000000000000"},
	{"GET", "/api/users/following/000000000000000000000000"},
	{"GET", "/api/users/nearby?lat=17.385&lng=78.4867"},
	{"GET", "/api/users/by-category/verified"},
	{"GET", "/api/users/search?q=a"},
	{"POST", "/api/users/000000000000000000000000/block"},
	{"POST", "/api/users/000000000000000000000000/unblock"},
	{"POST", "/api/users/000000000000000000000000/report"},
}

// userAnonymousChecks: every user route exists and demands a token with a
// JSON 401 (no route is public, legacy S20; none is shadowed, legacy B1).
func userAnonymousChecks(ctx context.Context, r *runner, c *client) {
	r.check("user routes require a token (JSON 401)", func() error {
		for _, rt := range userRoutes {
			res, err := c.do(ctx, rt.method, rt.path, nil, nil)
			if err != nil {
				return err
			}
			if res.Status != 401 || res.Body["error"] == nil {
				return fmt.Errorf("%s %s: status %d body %s", rt.method, rt.path, res.Status, truncate(res.Raw))
			}
		}
		return nil
	})
}

// leaksPrivate reports a phone, email or password field in a payload.
func leaksPrivate(raw []byte) bool {
	s := strings.ToLower(string(raw))
	return strings.Contains(s, `"phone"`) || strings.Contains(s, `"email"`) || strings.Contains(s, `"password"`)
}

// userProtectedChecks run with a valid token: /me, /nearby and /search are
// served by their own handlers and never carry private fields.
func userProtectedChecks(ctx context.Context, r *runner, a *client) {
	r.check("users me contract", func() error {
		res, err := a.do(ctx, "GET", "/api/users/me", nil, nil)
		if err != nil {
			return err
		}
		if err := wantStatus(res, 200); err != nil {
			return err
		}
		u, _ := res.Body["user"].(map[string]any)
		if u == nil || u["_id"] == nil || u["id"] != u["_id"] || res.Body["_id"] != u["_id"] {
			return fmt.Errorf("want {user:{_id,id}} and top-level _id: %s", truncate(res.Raw))
		}
		if _, ok := u["profilePicture"]; !ok {
			return fmt.Errorf("user.profilePicture missing")
		}
		if _, ok := u["profilePhoto"]; !ok {
			return fmt.Errorf("user.profilePhoto missing")
		}
		return nil
	})
	for _, chk := range []struct{ name, path string }{
		{"users nearby contract", "/api/users/nearby?lat=17.385&lng=78.4867&category=global"},
		{"users search contract", "/api/users/search?q=a"},
		{"users by-category contract", "/api/users/by-category/verified"},
	} {
		r.check(chk.name, func() error {
			res, err := a.do(ctx, "GET", chk.path, nil, nil)
			if err != nil {
				return err
			}
			if err := wantStatus(res, 200); err != nil {
				return err
			}
			if leaksPrivate(res.Raw) {
				return fmt.Errorf("payload carries phone/email/password")
			}
			return isArray(res.Body, "users")
		})
	}
	r.check("users nearby requires coordinates", func() error {
		res, err := a.do(ctx, "GET", "/api/users/nearby", nil, nil)
		if err != nil {
			return err
		}
		return wantStatus(res, 400)
	})
	r.check("users bad id is a JSON 404", func() error {
		res, err := a.do(ctx, "GET", "/api/users/not-an-id", nil, nil)
		if err != nil {
			return err
		}
		if err := wantStatus(res, 404); err != nil {
			return err
		}
		if res.Body["error"] == nil {
			return fmt.Errorf("body is not {error, code}")
		}
		return nil
	})
	r.check("users report unknown user is 404", func() error {
		res, err := a.do(ctx, "POST", "/api/users/000000000000000000000000/report", map[string]any{"reason": "spam"}, nil)
		if err != nil {
			return err
		}
		return wantStatus(res, 404)
	})
}

// isObjectIDList reports whether v is a JSON array of 24-hex id strings.
func isObjectIDList(v any) error {
	l, ok := v.([]any)
	if !ok {
		return fmt.Errorf("not an array: %v", v)
	}
	for _, x := range l {
		s, ok := x.(string)
		if !ok || len(s) != 24 || strings.Trim(s, "0123456789abcdef") != "" {
			return fmt.Errorf("element %v is not an id string", x)
		}
	}
	return nil
}

// userAppStateChecks cover what the live app reads on its first day
// (issue 18): the Follow buttons' state after a cold start and the map.
// The map check records the smoke user's own (coarsened) position, as the
// app's map screen does on every load; use a test account.
func userAppStateChecks(ctx context.Context, r *runner, a *client) {
	// AuthContext loads the session user from GET /api/users/<me>, and
	// ProfileScreen/FeedScreen call following.includes(id) on it.
	r.check("follow state after restart (following/followers are id strings)", func() error {
		res, err := a.do(ctx, "GET", "/api/users/me", nil, nil)
		if err != nil {
			return err
		}
		if err := wantStatus(res, 200); err != nil {
			return err
		}
		u, _ := res.Body["user"].(map[string]any)
		for _, m := range []map[string]any{res.Body, u} {
			for _, k := range []string{"following", "followers"} {
				if err := isObjectIDList(m[k]); err != nil {
					return fmt.Errorf("%s: %v", k, err)
				}
			}
		}
		return nil
	})
	// MapDiscoveryScreen sends the device position as lat/lng: it becomes
	// the caller's last known position, coarsened to the grid.
	r.check("map presence (nearby records a coarsened position)", func() error {
		const lat, lng = 17.3851234, 78.4867891
		res, err := a.do(ctx, "GET", fmt.Sprintf("/api/users/nearby?lat=%v&lng=%v&category=global", lat, lng), nil, nil)
		if err != nil {
			return err
		}
		if err := wantStatus(res, 200); err != nil {
			return err
		}
		for _, v := range res.Body["users"].([]any) {
			u, _ := v.(map[string]any)
			loc, _ := u["location"].(map[string]any)
			if c, _ := loc["coordinates"].([]any); len(c) != 2 || (c[0] == 0.0 && c[1] == 0.0) {
				return fmt.Errorf("user %v without real coordinates", u["_id"])
			}
		}
		me, err := a.do(ctx, "GET", "/api/users/me", nil, nil)
		if err != nil {
			return err
		}
		if me.Body["showOnMap"] == false {
			r.info("smoke user hides from the map: position not recorded (as designed)")
			return nil
		}
		if me.Body["locationUpdatedAt"] == nil {
			return fmt.Errorf("position not recorded: %s", truncate(me.Raw))
		}
		loc, _ := me.Body["location"].(map[string]any)
		c, _ := loc["coordinates"].([]any)
		if len(c) != 2 || c[0] == lng || c[1] == lat {
			return fmt.Errorf("position missing or not coarsened: %v", me.Body["location"])
		}
		return nil
	})
}
