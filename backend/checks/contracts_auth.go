package checks

import (
	"context"
	"errors"
	"fmt"
)

// errNoCredentials means no CONTRACT_EMAIL/PASSWORD or CONTRACT_PHONE/OTP.
var errNoCredentials = errors.New("no contract credentials")

// contractLogin is the login helper of the legacy contract script (§H.2 3):
// email and password when set, else phone and OTP. It checks the auth user
// payload carries both _id and id and returns the body.
func contractLogin(ctx context.Context, c *client, cfg ContractConfig) (*response, error) {
	var res *response
	var err error
	switch {
	case cfg.Email != "" && cfg.Password != "":
		res, err = c.do(ctx, "POST", "/api/auth/login", map[string]any{"email": cfg.Email, "password": cfg.Password}, nil)
	case cfg.Phone != "" && cfg.OTP != "":
		// Codes are single use: each login asks for one first (the fixed
		// code of a review account still needs a send-otp).
		if _, err := c.do(ctx, "POST", "/api/auth/send-otp", map[string]any{"phone": cfg.Phone}, nil); err != nil {
			return nil, err
		}
		res, err = c.do(ctx, "POST", "/api/auth/verify-otp", map[string]any{"phone": cfg.Phone, "otp": cfg.OTP}, nil)
	default:
		return nil, errNoCredentials
	}
	if err != nil {
		return nil, err
	}
	if err := wantStatus(res, 200); err != nil {
		return nil, err
	}
	if tok, _ := res.Body["token"].(string); tok == "" {
		return nil, fmt.Errorf("no token in login response")
	}
	u, _ := res.Body["user"].(map[string]any)
	if u == nil || u["_id"] == nil || u["_id"] == "" || u["id"] == nil || u["id"] == "" {
		return nil, fmt.Errorf("Auth user payload missing _id/id")
	}
	return res, nil
}

// authContracts checks the legacy auth routes: the input rules that close
// legacy flaws (B37 missing phone, S4 empty-body login) and, with
// credentials, login, the session it opens and refresh rotation.
func authContracts(ctx context.Context, r *runner, c *client, cfg ContractConfig) {
	r.check("auth send-otp without phone is 400", func() error {
		res, err := c.do(ctx, "POST", "/api/auth/send-otp", map[string]any{}, nil)
		if err != nil {
			return err
		}
		if err := wantStatus(res, 400); err != nil {
			return err
		}
		if res.Body["code"] != "BAD_REQUEST" {
			return fmt.Errorf("code = %v", res.Body["code"])
		}
		return nil
	})
	r.check("auth empty-body login is refused", func() error {
		res, err := c.do(ctx, "POST", "/api/auth/login", map[string]any{}, nil)
		if err != nil {
			return err
		}
		if res.Body["token"] != nil {
			return fmt.Errorf("empty login returned a token")
		}
		return statusIn(res.Status, 400, 401)
	})
	mode := "email"
	if cfg.Email == "" || cfg.Password == "" {
		mode = "phone+OTP"
	}
	r.check("auth login contract ("+mode+")", func() error {
		res, err := contractLogin(ctx, c, cfg)
		if errors.Is(err, errNoCredentials) {
			r.info("Auth login check skipped (set CONTRACT_EMAIL/CONTRACT_PASSWORD or CONTRACT_PHONE/CONTRACT_OTP).")
			return nil
		}
		if err != nil {
			return err
		}
		tok, _ := res.Body["token"].(string)
		me := newClient(c.base, c.hc.Timeout, tok)
		sres, err := me.do(ctx, "POST", "/infliq.auth.v1.AuthService/GetSession", map[string]any{}, nil)
		if err != nil {
			return err
		}
		if err := wantStatus(sres, 200); err != nil {
			return fmt.Errorf("GetSession with the new token: %w", err)
		}
		u, _ := res.Body["user"].(map[string]any)
		if sres.Body["userId"] != u["_id"] {
			return fmt.Errorf("session user %v, login user %v", sres.Body["userId"], u["_id"])
		}
		// Rotation: a refresh token works once.
		rt, _ := res.Body["refreshToken"].(string)
		if rt == "" {
			return nil
		}
		ref, err := c.do(ctx, "POST", "/api/auth/refresh", map[string]any{"refreshToken": rt}, nil)
		if err != nil {
			return err
		}
		if err := wantStatus(ref, 200); err != nil {
			return fmt.Errorf("refresh: %w", err)
		}
		again, err := c.do(ctx, "POST", "/api/auth/refresh", map[string]any{"refreshToken": rt}, nil)
		if err != nil {
			return err
		}
		if again.Status != 401 {
			return fmt.Errorf("reused refresh token: status %d, want 401", again.Status)
		}
		return nil
	})
}
