package checks

import (
	"context"
	"fmt"
	"io"
	"time"
)

// ContractConfig is read from CONTRACT_* variables.
type ContractConfig struct {
	BaseURL  string
	Timeout  time.Duration
	Email    string
	Password string
	Phone    string
	OTP      string
	// JWT, when set, authenticates the payload checks directly.
	JWT string
}

// ContractConfigFromEnv reads CONTRACT_BASE_URL, CONTRACT_TIMEOUT_MS,
// CONTRACT_EMAIL/CONTRACT_PASSWORD and CONTRACT_PHONE/CONTRACT_OTP.
func ContractConfigFromEnv() ContractConfig {
	return ContractConfig{
		BaseURL:  envOr("CONTRACT_BASE_URL", "http://localhost:3000"),
		Timeout:  envDuration("CONTRACT_TIMEOUT_MS", 10*time.Second),
		Email:    envOr("CONTRACT_EMAIL", ""),
		Password: envOr("CONTRACT_PASSWORD", ""),
		Phone:    envOr("CONTRACT_PHONE", ""),
		OTP:      envOr("CONTRACT_OTP", ""),
		JWT:      envOr("CONTRACT_JWT", ""),
	}
}

// Contracts runs the contract checks and returns the number of failures.
func Contracts(ctx context.Context, cfg ContractConfig, out io.Writer) int {
	r := &runner{out: out}
	c := newClient(cfg.BaseURL, cfg.Timeout, "")
	r.check("gateway health contract", func() error {
		res, err := c.do(ctx, "GET", "/health", nil, nil)
		if err != nil {
			return err
		}
		if err := wantStatus(res, 200); err != nil {
			return err
		}
		if res.Body["service"] != "api-gateway" {
			return fmt.Errorf("service = %v", res.Body["service"])
		}
		return nil
	})
	r.check("auth send-otp contract", func() error {
		phone := cfg.Phone
		if phone == "" {
			phone = "+10000000000"
		}
		res, err := c.do(ctx, "POST", "/api/auth/send-otp", map[string]any{"phone": phone}, nil)
		if err != nil {
			return err
		}
		if err := statusIn(res.Status, 200, 400, 401, 429); err != nil {
			return err
		}
		if res.Status == 200 && res.Body["testOTP"] != nil && res.Body["testOTP"] != false && res.Body["testOTP"] != "" {
			return fmt.Errorf("testOTP leaked in response")
		}
		return nil
	})
	r.check("unknown legacy route is a JSON 404", func() error {
		res, err := c.do(ctx, "GET", "/api/definitely-not-a-route", nil, nil)
		if err != nil {
			return err
		}
		if err := wantStatus(res, 404); err != nil {
			return err
		}
		if res.Body["code"] != "NOT_FOUND" || res.Body["error"] == nil {
			return fmt.Errorf("body is not {error, code}: %s", truncate(res.Raw))
		}
		return nil
	})
	mediaContracts(ctx, r, c)
	authContracts(ctx, r, c, cfg)
	postContracts(ctx, r, c, postClient(ctx, c, cfg))
	if cfg.Email == "" && cfg.Phone == "" {
		r.info("Authenticated contract checks skipped (set CONTRACT_EMAIL/CONTRACT_PASSWORD or CONTRACT_PHONE/CONTRACT_OTP).")
	}
	return r.summary()
}
