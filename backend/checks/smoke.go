package checks

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/infliq/infliq/compat/socketio/sioclient"
)

// socketRefusesAnonymous checks that a websocket-only Socket.IO client
// without a token gets connect_error (legacy S2: M2 let anyone in).
func socketRefusesAnonymous(base string) error {
	c, err := sioclient.Dial(base, "/socket.io/", "")
	if err == nil {
		c.Close()
		return fmt.Errorf("connected without a token")
	}
	if !strings.Contains(err.Error(), "Unauthorized") {
		return fmt.Errorf("want connect_error Unauthorized, got %v", err)
	}
	return nil
}

// SmokeConfig is read from SMOKE_* variables.
type SmokeConfig struct {
	BaseURL  string
	Timeout  time.Duration
	JWT      string
	AdminJWT string
	UserID   string
	// PeerJWT is a second user's token: it enables the notification
	// round trip (the peer likes the SMOKE_JWT user's post).
	PeerJWT string
}

// SmokeConfigFromEnv reads SMOKE_BASE_URL, SMOKE_TIMEOUT_MS, SMOKE_JWT,
// SMOKE_ADMIN_JWT, SMOKE_USER_ID and SMOKE_PEER_JWT.
func SmokeConfigFromEnv() SmokeConfig {
	return SmokeConfig{
		BaseURL:  envOr("SMOKE_BASE_URL", "http://localhost:3000"),
		Timeout:  envDuration("SMOKE_TIMEOUT_MS", 10*time.Second),
		JWT:      envOr("SMOKE_JWT", ""),
		AdminJWT: envOr("SMOKE_ADMIN_JWT", ""),
		UserID:   envOr("SMOKE_USER_ID", ""),
		PeerJWT:  envOr("SMOKE_PEER_JWT", ""),
	}
}

// Smoke runs the smoke checks and returns the number of failures.
func Smoke(ctx context.Context, cfg SmokeConfig, out io.Writer) int {
	r := &runner{out: out}
	c := newClient(cfg.BaseURL, cfg.Timeout, "")
	r.check("gateway health", func() error {
		rid := fmt.Sprintf("smoke-%d", time.Now().UnixMilli())
		res, err := c.do(ctx, "GET", "/health", nil, map[string]string{"x-request-id": rid})
		if err != nil {
			return err
		}
		if err := wantStatus(res, 200); err != nil {
			return err
		}
		if res.Body["service"] != "api-gateway" {
			return fmt.Errorf("service = %v", res.Body["service"])
		}
		if got := res.Header.Get("x-request-id"); got != rid {
			return fmt.Errorf("x-request-id echoed %q, want %q", got, rid)
		}
		return nil
	})
	r.check("auth route proxy", func() error {
		res, err := c.do(ctx, "POST", "/api/auth/send-otp", map[string]any{"phone": "+10000000000"}, nil)
		if err != nil {
			return err
		}
		return statusIn(res.Status, 200, 400, 401, 404, 429)
	})
	for _, path := range []string{"/socket-chat.io/", "/socket.io/"} {
		name := "chat socket path reachability"
		if path == "/socket.io/" {
			name = "call socket path reachability"
		}
		r.check(name, func() error {
			res, err := c.do(ctx, "GET", fmt.Sprintf("%s?EIO=4&transport=polling&t=%d", path, time.Now().UnixMilli()), nil, nil)
			if err != nil {
				return err
			}
			if err := wantStatus(res, 200); err != nil {
				return err
			}
			if !strings.HasPrefix(string(res.Raw), "0") {
				return fmt.Errorf("body is not an Engine.IO open packet: %s", truncate(res.Raw))
			}
			return nil
		})
	}
	r.check("socket refuses a missing token", func() error { return socketRefusesAnonymous(cfg.BaseURL) })
	// Legacy S10: the call token is minted only for an authenticated participant.
	r.check("call token route requires a token", func() error {
		res, err := c.do(ctx, "POST", "/api/calls/token", map[string]any{"roomName": "smoke"}, nil)
		if err != nil {
			return err
		}
		if err := wantStatus(res, 401); err != nil {
			return err
		}
		if res.Body["code"] != "UNAUTHORIZED" {
			return fmt.Errorf("code = %v", res.Body["code"])
		}
		return nil
	})
	if cfg.JWT != "" {
		r.check("socket websocket connect (app mode)", func() error {
			c, err := sioclient.Dial(cfg.BaseURL, "/socket.io/", cfg.JWT)
			if err != nil {
				return err
			}
			return c.Close()
		})
		a := newClient(cfg.BaseURL, cfg.Timeout, cfg.JWT)
		for _, chk := range []struct{ name, path, key string }{
			{"protected posts feed", "/api/posts/feed?page=1&limit=1", "posts"},
			{"protected reels feed", "/api/reels/feed?page=1&limit=1", "reels"},
			{"protected chats list", "/api/chats", "chats"},
			{"protected call history", "/api/calls/history", "calls"},
		} {
			r.check(chk.name, func() error {
				res, err := a.do(ctx, "GET", chk.path, nil, nil)
				if err != nil {
					return err
				}
				if err := wantStatus(res, 200); err != nil {
					return err
				}
				return isArray(res.Body, chk.key)
			})
		}
		postSmoke(ctx, r, a)
		userProtectedChecks(ctx, r, a)
		userAppStateChecks(ctx, r, a)
		if cfg.UserID != "" {
			r.check("protected user profile contract", func() error {
				res, err := a.do(ctx, "GET", "/api/users/"+cfg.UserID, nil, nil)
				if err != nil {
					return err
				}
				if err := wantStatus(res, 200); err != nil {
					return err
				}
				u, _ := res.Body["user"].(map[string]any)
				if u == nil || u["_id"] == nil || u["_id"] == "" {
					return fmt.Errorf("body.user._id missing")
				}
				return nil
			})
		}
		mediaSmoke(ctx, r, a)
		if cfg.PeerJWT != "" {
			notifySmoke(ctx, r, a, newClient(cfg.BaseURL, cfg.Timeout, cfg.PeerJWT), cfg.Timeout)
		} else {
			r.info("Notification round trip skipped (set SMOKE_PEER_JWT, a second user's token, to enable).")
		}
	} else {
		r.info("Protected route checks skipped (set SMOKE_JWT to enable).")
	}
	if cfg.AdminJWT != "" {
		a := newClient(cfg.BaseURL, cfg.Timeout, cfg.AdminJWT)
		r.check("admin media audit logs route", func() error {
			res, err := a.do(ctx, "GET", "/api/admin/media/audit-logs?page=1&limit=1", nil, nil)
			if err != nil {
				return err
			}
			if err := wantStatus(res, 200); err != nil {
				return err
			}
			return isArray(res.Body, "logs")
		})
	} else {
		r.info("Admin audit check skipped (set SMOKE_ADMIN_JWT to enable).")
	}
	return r.summary()
}
