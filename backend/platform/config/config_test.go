package config

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	c, err := LoadFrom(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Dev() || c.JWT.Secret != DevJWTSecret {
		t.Fatalf("dev defaults not applied: %+v", c)
	}
	if c.JWT.ExpiresIn.D() != 7*24*time.Hour || c.JWT.RefreshExpiresIn.D() != 30*24*time.Hour {
		t.Fatalf("token lifetimes: %v %v", c.JWT.ExpiresIn.D(), c.JWT.RefreshExpiresIn.D())
	}
	if c.Gateway.RateWindow.D() != time.Minute || c.Gateway.RateMax != 300 {
		t.Fatal("rate limit defaults")
	}
	if c.GatewayListenPort() != 3000 || c.OTP.DefaultCountry != "+91" || len(c.Media.AllowedFolders) != 6 {
		t.Fatal("legacy defaults")
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	cases := map[string]map[string]string{
		"RATE_LIMIT_WINDOW_MS":      {"RATE_LIMIT_WINDOW_MS": "soon"},
		"JWT_EXPIRES_IN":            {"JWT_EXPIRES_IN": "forever"},
		"BCRYPT_ROUNDS":             {"BCRYPT_ROUNDS": "3"},
		"AUTH_SERVICE_URL":          {"AUTH_SERVICE_URL": "localhost:3001"},
		"AWS_REGION":                {"S3_BUCKET": "b", "AWS_REGION": "mars-1"},
		"APP_ENV":                   {"APP_ENV": "prod"},
		"JWT_SECRET":                {"APP_ENV": "production"},
		"OTP_REVIEW_ACCOUNTS":       {"OTP_REVIEW_ACCOUNTS": "+911234567890:12"},
		"TRUSTED_PROXY_CIDRS":       {"TRUSTED_PROXY_CIDRS": "10.0.0.0/33"},
		"CALL_RING_TIMEOUT_SECONDS": {"CALL_RING_TIMEOUT_SECONDS": "abc"},
		"SOCKET_MAX_SESSIONS":       {"SOCKET_MAX_SESSIONS": "-2"},
		"REALTIME_SEND_LINGER":      {"REALTIME_SEND_LINGER": "1s"},
	}
	for name, vars := range cases {
		_, err := LoadFrom(vars)
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v does not name the variable", name, err)
		}
	}
}

func TestStrictProductionRefusesDefaults(t *testing.T) {
	_, err := LoadFrom(map[string]string{"APP_ENV": "production", "STRICT_PRODUCTION_MODE": "true", "JWT_SECRET": DevJWTSecret, "ALLOWED_ORIGINS": "*"})
	if err == nil {
		t.Fatal("strict mode accepted embedded defaults")
	}
	for _, want := range []string{"JWT_SECRET", "DATABASE_URL", "REDIS_URL", "S3_BUCKET", "ALLOWED_ORIGINS", "INTERNAL_API_TOKEN"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("strict error does not mention %s: %v", want, err)
		}
	}
	ok := map[string]string{
		"APP_ENV": "production", "STRICT_PRODUCTION_MODE": "true",
		"JWT_SECRET": strings.Repeat("s", 40), "DATABASE_URL": "postgres://db/infliq", "REDIS_URL": "redis://r:6379",
		"S3_BUCKET": "media", "AWS_REGION": "ap-south-1", "INTERNAL_API_TOKEN": strings.Repeat("i", 32), "ALLOWED_ORIGINS": "https://app.infliq.com",
	}
	if _, err := LoadFrom(ok); err != nil {
		t.Fatalf("valid strict config refused: %v", err)
	}
}

// TestProductionRefusals: APP_ENV=production refuses what would leave a
// deployment open whether or not strict mode is on, naming the variable;
// strict mode adds the embedded defaults.
func TestProductionRefusals(t *testing.T) {
	good := map[string]string{
		"APP_ENV": "production", "JWT_SECRET": strings.Repeat("s", 32), "INTERNAL_API_TOKEN": strings.Repeat("i", 32),
		"ALLOWED_ORIGINS": "https://app.infliq.com", "DATABASE_URL": "postgres://db/infliq", "REDIS_URL": "redis://r:6379",
		"S3_BUCKET": "media", "AWS_REGION": "ap-south-1",
	}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range good {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	cases := []struct {
		name   string
		vars   map[string]string
		refuse string // the variable the error must name; "" means accepted
		strict string // the same for STRICT_PRODUCTION_MODE=true
	}{
		{"valid", with(), "", ""},
		{"dev JWT secret", with("JWT_SECRET", DevJWTSecret), "JWT_SECRET", "JWT_SECRET"},
		{"missing JWT secret", with("JWT_SECRET", ""), "JWT_SECRET", "JWT_SECRET"},
		{"short JWT secret", with("JWT_SECRET", strings.Repeat("s", 31)), "JWT_SECRET", "JWT_SECRET"},
		{"missing internal token", with("INTERNAL_API_TOKEN", ""), "INTERNAL_API_TOKEN", "INTERNAL_API_TOKEN"},
		{"short internal token", with("INTERNAL_API_TOKEN", "t"), "INTERNAL_API_TOKEN", "INTERNAL_API_TOKEN"},
		{"short OTP HMAC key", with("OTP_HMAC_KEY", "k"), "OTP_HMAC_KEY", "OTP_HMAC_KEY"},
		{"wildcard CORS", with("ALLOWED_ORIGINS", "*"), "ALLOWED_ORIGINS", "ALLOWED_ORIGINS"},
		{"wildcard among origins", with("ALLOWED_ORIGINS", "https://app.infliq.com,*"), "ALLOWED_ORIGINS", "ALLOWED_ORIGINS"},
		{"wildcard subdomain", with("ALLOWED_ORIGINS", "https://*.infliq.com"), "ALLOWED_ORIGINS", "ALLOWED_ORIGINS"},
		// Push: empty is Expo's own endpoint; tokens never travel in cleartext.
		{"Expo default", with("EXPO_PUSH_URL", ""), "", ""},
		{"Expo explicit", with("EXPO_PUSH_URL", "https://exp.host/--/api/v2/push/send"), "", ""},
		{"Expo over http", with("EXPO_PUSH_URL", "http://expofake:9000/--/api/v2/push/send"), "EXPO_PUSH_URL", "EXPO_PUSH_URL"},
		{"Expo not a send URL", with("EXPO_PUSH_URL", "https://exp.host/"), "EXPO_PUSH_URL", "EXPO_PUSH_URL"},
		// Embedded defaults are refused by strict mode only.
		{"embedded PostgreSQL", with("DATABASE_URL", ""), "", "DATABASE_URL"},
		{"in-process Redis", with("REDIS_URL", ""), "", "REDIS_URL"},
		{"in-process S3", with("S3_BUCKET", ""), "", "S3_BUCKET"},
	}
	for _, tc := range cases {
		for _, strict := range []bool{false, true} {
			vars, want := tc.vars, tc.refuse
			if strict {
				vars = map[string]string{"STRICT_PRODUCTION_MODE": "true"}
				for k, v := range tc.vars {
					vars[k] = v
				}
				want = tc.strict
			}
			_, err := LoadFrom(vars)
			switch {
			case want == "" && err != nil:
				t.Errorf("%s (strict %v): refused: %v", tc.name, strict, err)
			case want != "" && err == nil:
				t.Errorf("%s (strict %v): accepted", tc.name, strict)
			case want != "" && !strings.Contains(err.Error(), want):
				t.Errorf("%s (strict %v): error does not name %s: %v", tc.name, strict, want, err)
			}
		}
	}
}

func TestTypes(t *testing.T) {
	var d Duration
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "15m": 15 * time.Minute, "3600": time.Hour, "1.5d": 36 * time.Hour} {
		if err := d.UnmarshalText([]byte(in)); err != nil || d.D() != want {
			t.Errorf("%s => %v %v", in, d.D(), err)
		}
	}
	for _, in := range []string{"", "-5", "0", "abc", "-1d"} {
		if err := d.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	var p Prefixes
	if err := p.UnmarshalText([]byte("10.0.0.0/8, 192.168.1.7,::1")); err != nil {
		t.Fatal(err)
	}
	if !p.Contains(netip.MustParseAddr("10.1.2.3")) || !p.Contains(netip.MustParseAddr("::ffff:192.168.1.7")) || p.Contains(netip.MustParseAddr("192.168.1.8")) {
		t.Fatal("prefix matching")
	}
	var c CSV
	_ = c.UnmarshalText([]byte(" a, ,b ,"))
	if len(c) != 2 || c[0] != "a" || c[1] != "b" {
		t.Fatalf("csv = %q", c)
	}
}

func FuzzDuration(f *testing.F) {
	for _, s := range []string{"7d", "15m", "3600", "1.5d", "", "-1", "9999999999999999999d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var d Duration
		if d.UnmarshalText([]byte(s)) == nil && d.D() <= 0 {
			t.Fatalf("%q accepted as non-positive %v", s, d.D())
		}
	})
}

// TestChatSendLimitConfig: the per-user send budget defaults to 20/s with a
// burst of 40, is read from CHAT_SEND_RATE/CHAT_SEND_BURST, and nonsense
// values stop the process naming the variable.
func TestChatSendLimitConfig(t *testing.T) {
	c, err := LoadFrom(map[string]string{})
	if err != nil || c.Realtime.ChatSendRate != 20 || c.Realtime.ChatSendBurst != 40 || c.Realtime.SessionRecheck.D() > 10*time.Second {
		t.Fatalf("defaults: %+v %v", c.Realtime, err)
	}
	if c, err = LoadFrom(map[string]string{"CHAT_SEND_RATE": "5", "CHAT_SEND_BURST": "7"}); err != nil || c.Realtime.ChatSendRate != 5 || c.Realtime.ChatSendBurst != 7 {
		t.Fatalf("set: %+v %v", c.Realtime, err)
	}
	for _, vars := range []map[string]string{{"CHAT_SEND_RATE": "0"}, {"CHAT_SEND_RATE": "50"}, {"CHAT_SEND_RATE": "fast"}} {
		if _, err := LoadFrom(vars); err == nil || !strings.Contains(err.Error(), "CHAT_SEND_") {
			t.Errorf("%v: %v", vars, err)
		}
	}
}
