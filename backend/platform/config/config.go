// Package config reads the one typed configuration of every tier from the
// environment. env.sample at the repository root lists every variable with its
// default; a bad value fails at start and names the variable.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// Config is the whole configuration. Tiers read the sections they need.
type Config struct {
	// AppEnv is development, test or production (NODE_ENV is read as a fallback).
	AppEnv string `env:"APP_ENV"`
	// Strict refuses embedded defaults, wildcard CORS and a missing Redis.
	Strict bool `env:"STRICT_PRODUCTION_MODE" envDefault:"false"`

	// debug | info | warn | error.
	LogLevel string `env:"LOG_LEVEL" envDefault:"info"`
	// auto (JSON unless on a terminal) | json | text.
	LogFormat string `env:"LOG_FORMAT" envDefault:"auto"`

	// DatabaseURL is empty in dev mode: devstack starts a private PostgreSQL.
	DatabaseURL string `env:"DATABASE_URL"`
	// PostgreSQL pool size per tier process.
	DBMaxConns int32 `env:"DB_MAX_CONNS" envDefault:"16"`
	// DATABASE_URL points at PgBouncer in transaction mode: no named prepared statements (pgx describe-cache mode) and no session state.
	DBPgBouncer bool `env:"DB_PGBOUNCER" envDefault:"false"`
	// Apply pending migrations when a tier starts (always on for the embedded dev stack).
	MigrateOnStart bool `env:"MIGRATE_ON_START"`
	// RedisURL is empty in dev mode: devstack runs miniredis in-process.
	// One server: redis://[user:pass@]host:6379/0 (rediss:// with TLS). A Redis
	// Cluster: redis-cluster://[user:pass@]h1:6379,h2:6379,h3:6379 (rediss-cluster://).
	RedisURL string `env:"REDIS_URL"`
	// Dial, read and write deadline of every Redis command; a breaker then fails calls at once while Redis is down.
	RedisTimeout Duration `env:"REDIS_TIMEOUT" envDefault:"500ms"`
	// DevDataDir keeps the embedded stack's data across restarts.
	DevDataDir string `env:"DEV_DATA_DIR" envDefault:".devstack"`

	// InternalToken authenticates service-to-service calls of *InternalService RPCs.
	InternalToken string `env:"INTERNAL_API_TOKEN"`
	// ListenHost is the interface every tier binds.
	ListenHost string `env:"LISTEN_HOST" envDefault:"0.0.0.0"`
	// ShutdownGrace is how long SIGTERM waits for in-flight requests.
	ShutdownGrace Duration `env:"SHUTDOWN_GRACE" envDefault:"20s"`

	JWT       JWT
	Services  Services
	Gateway   Gateway
	OTP       OTP
	Twilio    Twilio
	S3        S3
	Media     Media
	Stories   Stories
	Content   Content
	Discovery Discovery
	Calls     Calls
	Notify    Notify
	Realtime  Realtime
	Push      Push
	Telemetry Telemetry
}

// JWT configures access and refresh tokens.
type JWT struct {
	// HS256 secret for every token; must equal the legacy backend's so issued tokens keep working. Required outside development.
	Secret string `env:"JWT_SECRET"`
	// Access token lifetime (15m, 12h, 7d or seconds).
	ExpiresIn Duration `env:"JWT_EXPIRES_IN" envDefault:"7d"`
	// Refresh token lifetime.
	RefreshExpiresIn Duration `env:"JWT_REFRESH_EXPIRES_IN" envDefault:"30d"`
	// iss claim of new tokens.
	Issuer string `env:"JWT_ISSUER" envDefault:"infliq"`
	// aud claim of new tokens.
	Audience string `env:"JWT_AUDIENCE" envDefault:"infliq-app"`
	// LegacyAccepted accepts tokens minted by the Node backend ({userId, phone|email}, no typ).
	LegacyAccepted bool `env:"LEGACY_TOKENS_ACCEPTED" envDefault:"true"`
	// bcrypt cost for new password hashes (4-31).
	BcryptRounds int `env:"BCRYPT_ROUNDS" envDefault:"10"`
}

// Services are the upstream URLs; each tier listens on its URL's port.
type Services struct {
	// Gateway port; overrides PORT.
	GatewayPort int `env:"GATEWAY_PORT"`
	// Gateway port when GATEWAY_PORT is unset.
	Port int `env:"PORT" envDefault:"3000"`
	// Auth tier URL (the tier listens on its port). Any *_SERVICE_URL may list several
	// replicas, comma-separated: callers spread requests over them and skip one that
	// refuses connections; a replica listens on the port of the first URL of its list.
	Auth string `env:"AUTH_SERVICE_URL" envDefault:"http://localhost:3001"`
	// User tier URL.
	User string `env:"USER_SERVICE_URL" envDefault:"http://localhost:3002"`
	// Post tier URL.
	Post string `env:"POST_SERVICE_URL" envDefault:"http://localhost:3003"`
	// Feed tier URL.
	Feed string `env:"FEED_SERVICE_URL" envDefault:"http://localhost:3004"`
	// Chat tier URL.
	Chat string `env:"CHAT_SERVICE_URL" envDefault:"http://localhost:3005"`
	// Call tier URL.
	Call string `env:"CALL_SERVICE_URL" envDefault:"http://localhost:3006"`
	// Realtime (connection) tier URL.
	Realtime string `env:"REALTIME_SERVICE_URL" envDefault:"http://localhost:3007"`
	// Media tier URL.
	Media string `env:"MEDIA_SERVICE_URL" envDefault:"http://localhost:3008"`
	// Notify (notifications and push) tier URL.
	Notify string `env:"NOTIFY_SERVICE_URL" envDefault:"http://localhost:3009"`
	// Admin tier URL (moderation console API).
	Admin string `env:"ADMIN_SERVICE_URL" envDefault:"http://localhost:3010"`
}

// Gateway is the edge policy.
type Gateway struct {
	// CSV of browser origins allowed by CORS; empty means * outside strict mode.
	AllowedOrigins CSV `env:"ALLOWED_ORIGINS"`
	// Per-IP rate-limit window in milliseconds (shared by all gateway replicas through Redis).
	RateWindow Millis `env:"RATE_LIMIT_WINDOW_MS" envDefault:"60000"`
	// Requests per IP per window.
	RateMax int `env:"RATE_LIMIT_MAX" envDefault:"300"`
	// CSV of proxy CIDRs whose X-Forwarded-For is believed; empty trusts none.
	TrustedProxies Prefixes `env:"TRUSTED_PROXY_CIDRS"`
	// MaxBodyBytes bounds JSON and RPC bodies (media uploads have their own limit).
	MaxBodyBytes int64 `env:"MAX_BODY_BYTES" envDefault:"1048576"`
	// Timeout of legacy REST calls to the tiers.
	UpstreamTimeout Duration `env:"UPSTREAM_TIMEOUT" envDefault:"30s"`
	// BodyReadTimeout is how long a JSON or RPC request body may take to arrive whole.
	BodyReadTimeout Duration `env:"BODY_READ_TIMEOUT" envDefault:"20s"`
	// UploadReadWindow: each further MiB of an upload body must arrive within it (a minimum rate).
	UploadReadWindow Duration `env:"UPLOAD_READ_WINDOW" envDefault:"30s"`
	// MetricsAddr is the internal listener of /metrics and the detailed /health ("off" disables); never public.
	MetricsAddr string `env:"METRICS_ADDR" envDefault:"127.0.0.1:9464"`
}

// OTP configures phone verification.
type OTP struct {
	// OTP lifetime in seconds.
	TTLSeconds int `env:"OTP_TTL_SECONDS" envDefault:"300"`
	// OTP send-limit window in milliseconds.
	Window Millis `env:"OTP_WINDOW_MS" envDefault:"600000"`
	// OTP sends per phone per window.
	MaxPerWindow int `env:"OTP_MAX_PER_WINDOW" envDefault:"5"`
	// OTP sends per client IP per window.
	MaxPerIPPerWindow int `env:"OTP_MAX_PER_IP_PER_WINDOW" envDefault:"30"`
	// Wrong codes before an OTP is burned.
	MaxVerifyAttempts int `env:"OTP_MAX_VERIFY_ATTEMPTS" envDefault:"5"`
	// Country code given to bare 10-digit numbers.
	DefaultCountry string `env:"OTP_DEFAULT_COUNTRY_CODE" envDefault:"+91"`
	// ReviewAccounts is phone:code,… for app-store review logins; off by default.
	ReviewAccounts CSV `env:"OTP_REVIEW_ACCOUNTS"`
	// HMACKey keys the stored OTP digests; defaults to a key derived from JWT_SECRET.
	HMACKey string `env:"OTP_HMAC_KEY"`
	// DevSinkFile, dev mode only, appends "phone code" lines for automated tests.
	DevSinkFile string `env:"OTP_DEV_SINK_FILE"`
}

// Twilio configures SMS and Video tokens.
type Twilio struct {
	// Twilio account SID (SMS and Video).
	AccountSID string `env:"TWILIO_ACCOUNT_SID"`
	// Twilio auth token.
	AuthToken string `env:"TWILIO_AUTH_TOKEN"`
	// Twilio sender number for SMS.
	PhoneNumber string `env:"TWILIO_PHONE_NUMBER"`
	// When set, OTPs go through Twilio Verify instead of plain SMS.
	VerifyServiceSID string `env:"TWILIO_VERIFY_SERVICE_SID"`
	// Twilio API key SID for Video tokens (falls back to the account SID).
	APIKeySID string `env:"TWILIO_API_KEY_SID"`
	// Twilio API key secret for Video tokens (falls back to the auth token).
	APIKeySecret string `env:"TWILIO_API_KEY_SECRET"`
	// Twilio Video token lifetime in seconds.
	TokenTTLSeconds int `env:"TWILIO_TOKEN_TTL_SECONDS" envDefault:"3600"`
	// BaseURL overrides the Twilio API host (tests point it at a local fake).
	BaseURL string `env:"TWILIO_API_BASE_URL"`
}

// SMSConfigured reports whether real SMS can be sent.
func (t Twilio) SMSConfigured() bool {
	return t.AccountSID != "" && t.AuthToken != "" && (t.PhoneNumber != "" || t.VerifyServiceSID != "")
}

// S3 configures object storage; empty Bucket in dev mode starts gofakes3.
type S3 struct {
	// AWS access key id.
	AccessKeyID string `env:"AWS_ACCESS_KEY_ID"`
	// AWS secret access key.
	SecretAccessKey string `env:"AWS_SECRET_ACCESS_KEY"`
	// AWS region; validated only when S3_BUCKET is set.
	Region string `env:"AWS_REGION"`
	// S3 bucket for media; empty in development starts an in-process S3.
	Bucket string `env:"S3_BUCKET"`
	// S3-compatible endpoint (MinIO, etc.); empty for AWS.
	Endpoint string `env:"S3_ENDPOINT"`
	// Path-style S3 addressing (MinIO).
	ForcePathStyle bool `env:"S3_FORCE_PATH_STYLE"`
	// CDN host for media URLs; empty serves /api/media/proxy URLs.
	CloudFrontDomain string `env:"CLOUDFRONT_DOMAIN"`
	// PublicBaseURL is the gateway's public origin, used for /api/media/proxy URLs.
	PublicBaseURL string `env:"PUBLIC_BASE_URL"`
	// PostEndpoint, set by the development stack only (no variable), is
	// where clients POST uploads when Endpoint is a loopback address a
	// phone cannot reach: the gateway's /_devstack/s3 proxy, absolute under
	// PUBLIC_BASE_URL or gateway-relative.
	PostEndpoint string
}

// Configured reports whether a real bucket is set.
func (s S3) Configured() bool { return s.Bucket != "" }

// Media configures uploads.
type Media struct {
	// Largest upload in bytes.
	MaxFileSize int64 `env:"MAX_FILE_SIZE" envDefault:"52428800"`
	// Upload folders.
	AllowedFolders CSV `env:"MEDIA_ALLOWED_FOLDERS" envDefault:"general,posts,profiles,covers,reels,stories"`
	// Files per /api/media/upload-multiple request.
	MaxMultipleFiles int `env:"MAX_MULTIPLE_UPLOAD_FILES" envDefault:"10"`
	// Shortest signed URL lifetime.
	SignedURLMinSeconds int `env:"SIGNED_URL_EXPIRES_MIN" envDefault:"60"`
	// Longest signed URL lifetime.
	SignedURLMaxSeconds int `env:"SIGNED_URL_EXPIRES_MAX" envDefault:"3600"`
	// Per-user upload rate-limit window in milliseconds.
	UploadWindow Millis `env:"USER_UPLOAD_WINDOW_MS" envDefault:"60000"`
	// Uploads per user per window.
	UploadMaxInWindow int `env:"USER_UPLOAD_MAX_IN_WINDOW" envDefault:"30"`
	// Redis key prefix of the upload rate limit.
	RateLimitPrefix string `env:"MEDIA_RATE_LIMIT_PREFIX" envDefault:"media:rate"`
	// Refuse uploads whose sniffed family (image/video) differs from the declared type; the sniffed type is what gets stored either way.
	StrictSignature bool `env:"MEDIA_STRICT_SIGNATURE_CHECK" envDefault:"true"`
	// Record every upload attempt in the audit log.
	AuditEnabled bool `env:"MEDIA_AUDIT_LOG_ENABLED" envDefault:"true"`
	// Days audit rows are kept before the cleanup job deletes them.
	AuditRetentionDays int `env:"MEDIA_AUDIT_LOG_RETENTION_DAYS" envDefault:"30"`
	// Largest page of the audit-log listing.
	AuditReadMaxLimit int `env:"MEDIA_AUDIT_READ_MAX_LIMIT" envDefault:"100"`
	// CSV of user ids with admin rights (audit logs, reports).
	AdminUserIDs CSV `env:"MEDIA_ADMIN_USER_IDS"`
	// Folder of legacy uploads/ files served read-only; empty disables.
	LegacyUploadsDir string `env:"LEGACY_UPLOADS_DIR"`
}

// Stories configures 24-hour stories.
type Stories struct {
	// Unexpired stories per user.
	MaxPerUser int `env:"MAX_STORIES_PER_USER" envDefault:"50"`
	// Story creation window in milliseconds.
	CreateWindow Millis `env:"STORY_CREATE_WINDOW_MS" envDefault:"600000"`
	// Stories per user per window.
	CreateMax int `env:"STORY_CREATE_MAX_IN_WINDOW" envDefault:"5"`
	// Story caption length.
	CaptionMaxLen int `env:"STORY_CAPTION_MAX_LEN" envDefault:"300"`
	// CSV of hosts a story mediaUrl may use; empty derives them from the S3/CDN settings.
	MediaAllowHosts CSV `env:"STORY_MEDIA_ALLOWED_HOSTS"`
}

// Content configures posts, comments and moderation.
type Content struct {
	// ModerationBlocklist is a comma-separated word list matched on whole words.
	ModerationBlocklist CSV `env:"MODERATION_BLOCKLIST" envDefault:"hate,harass,harassment,abuse,abusive,spam,scam,nsfw,nudity,porn,kill,threat,violent"`
}

// Discovery configures the map and finding people by phone number.
type Discovery struct {
	// Map positions older than this are not shown.
	MaxLocationAge Duration `env:"NEARBY_MAX_LOCATION_AGE" envDefault:"7d"`
	// Positions are stored and returned snapped to a grid of this many metres.
	GridMeters float64 `env:"NEARBY_GRID_METERS" envDefault:"200"`
	// Phone numbers one user may look up (search and contact sync) per window.
	PhoneLookupMax int `env:"PHONE_LOOKUP_MAX" envDefault:"1000"`
	// Window of PHONE_LOOKUP_MAX.
	PhoneLookupWindow Duration `env:"PHONE_LOOKUP_WINDOW" envDefault:"1h"`
}

// Calls configures the call lifecycle.
type Calls struct {
	// Seconds a call rings before it becomes missed.
	RingTimeoutSeconds int `env:"CALL_RING_TIMEOUT_SECONDS" envDefault:"45"`
}

// Notify configures the notify tier's inbox (its push side is Push).
type Notify struct {
	// How long a notification group stays open for joining after it started (follows group by the local day).
	GroupWindow Duration `env:"NOTIFY_GROUP_WINDOW" envDefault:"12h"`
}

// Realtime configures the connection tier.
type Realtime struct {
	// Engine.IO ping interval.
	PingInterval Duration `env:"SOCKET_PING_INTERVAL" envDefault:"25s"`
	// Engine.IO ping timeout.
	PingTimeout Duration `env:"SOCKET_PING_TIMEOUT" envDefault:"20s"`
	// Largest Engine.IO/Socket.IO packet in bytes.
	MaxPayload int64 `env:"SOCKET_MAX_PAYLOAD" envDefault:"1000000"`
	// Websocket session layer: native (ours, on gorilla/websocket) or melody
	// (kept to re-run the comparison in BENCHMARKS.md).
	SocketTransport string `env:"SOCKET_TRANSPORT" envDefault:"native"`
	// Under load, how long a socket's send-message may wait for others to
	// share its call to chat (0: each batch leaves when the previous call
	// returns). A send with no call under way always leaves at once.
	SendLinger Duration `env:"REALTIME_SEND_LINGER" envDefault:"5ms"`
	// Engine.IO sessions one process holds; more handshakes get 503 with
	// Retry-After. 0: the open-file limit less 1,024 descriptors kept for
	// the tier's own connections; -1: no cap.
	MaxSessions int `env:"SOCKET_MAX_SESSIONS" envDefault:"0"`
	// Heartbeat interval of idle RealtimeService streams.
	Heartbeat Duration `env:"STREAM_HEARTBEAT" envDefault:"25s"`
	// Events kept per user for stream replay.
	EventLogLen int64 `env:"REALTIME_EVENT_LOG_LEN" envDefault:"1000"`
	// How often open sockets re-check their session.
	SessionRecheck Duration `env:"REALTIME_SESSION_RECHECK" envDefault:"5s"`
	// Messages a user may send per second, shared by the socket, the
	// typed SDK and ChatService.SendMessage (a token bucket in Redis).
	ChatSendRate int `env:"CHAT_SEND_RATE" envDefault:"20"`
	// Messages a user may send in one burst.
	ChatSendBurst int `env:"CHAT_SEND_BURST" envDefault:"40"`
}

// Push configures push notifications through Expo (backend/notify/push).
type Push struct {
	// Expo push send endpoint; the receipts endpoint is derived from it (…/getReceipts). Empty: Expo's own
	// (https://exp.host/--/api/v2/push/send), except in development, where a local fake Expo server records and logs pushes.
	ExpoPushURL string `env:"EXPO_PUSH_URL"`
	// Expo access token (enhanced push security); empty sends without one. Never logged.
	ExpoAccessToken string `env:"EXPO_ACCESS_TOKEN"`
	// Non-urgent pushes to one user with the same collapse key within this window become one push with a count.
	BurstWindow Duration `env:"PUSH_BURST_WINDOW" envDefault:"3s"`
	// Concurrent push jobs (flush, send, receipts) per process.
	Workers int `env:"PUSH_WORKERS" envDefault:"8"`
	// Delay before Expo push receipts are fetched.
	ReceiptDelay Duration `env:"PUSH_RECEIPT_DELAY" envDefault:"15m"`
}

// Telemetry configures tracing.
type Telemetry struct {
	// OTLP endpoint for tracing; empty disables.
	OTLPEndpoint string `env:"OTEL_EXPORTER_OTLP_ENDPOINT"`
	// Fraction of new traces sampled (0-1); a sampled caller's decision is always followed.
	SampleRatio float64 `env:"OTEL_TRACES_SAMPLER_ARG" envDefault:"1"`
}

// DevJWTSecret is the embedded development secret; strict mode refuses it.
const DevJWTSecret = "infliq-dev-secret-do-not-use-in-production"

var awsRegion = regexp.MustCompile(`^(?:us|eu|ap|sa|ca|me|af|cn|us-gov|il|mx)-[a-z0-9-]+-\d$`)

// Load reads and validates the configuration from the environment.
func Load() (*Config, error) { return LoadFrom(envMap()) }

// LoadFrom reads the configuration from the given variables (tests).
func LoadFrom(vars map[string]string) (*Config, error) {
	var c Config
	opts := env.Options{Environment: vars}
	if err := env.ParseWithOptions(&c, opts); err != nil {
		return nil, explain(&c, err)
	}
	if c.AppEnv == "" {
		c.AppEnv = vars["NODE_ENV"]
	}
	if c.AppEnv == "" {
		c.AppEnv = "development"
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func envMap() map[string]string {
	m := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// explain rewrites the env library's errors so each names its variable
// rather than the Go field.
func explain(c *Config, err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return fmt.Errorf("config: %w", err)
	}
	keys := map[string][]string{}
	fieldKeys(reflect.TypeOf(*c), keys)
	var msgs []string
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) && len(keys[pe.Name]) > 0 {
			msgs = append(msgs, fmt.Sprintf("%s: %v", strings.Join(keys[pe.Name], "|"), pe.Err))
			continue
		}
		msgs = append(msgs, e.Error())
	}
	return fmt.Errorf("config: %s", strings.Join(msgs, "; "))
}

// fieldKeys maps Go field names to their env tags, through nested sections.
func fieldKeys(t reflect.Type, out map[string][]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("env"), ","); tag != "" {
			out[f.Name] = append(out[f.Name], tag)
		} else if f.Type.Kind() == reflect.Struct {
			fieldKeys(f.Type, out)
		}
	}
}

// Dev reports whether embedded defaults may be used.
func (c *Config) Dev() bool { return c.AppEnv == "development" || c.AppEnv == "test" }

// Production reports whether this is a production deployment.
func (c *Config) Production() bool { return c.AppEnv == "production" }

func (c *Config) validate() error {
	var errs []string
	bad := func(name, format string, a ...any) {
		errs = append(errs, name+": "+fmt.Sprintf(format, a...))
	}
	switch c.AppEnv {
	case "development", "test", "production", "staging":
	default:
		bad("APP_ENV", "must be development, test, staging or production, got %q", c.AppEnv)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("LOG_LEVEL", "must be debug, info, warn or error")
	}
	switch c.LogFormat {
	case "auto", "json", "text":
	default:
		bad("LOG_FORMAT", "must be auto, json or text")
	}
	if c.JWT.Secret == "" {
		if !c.Dev() {
			bad("JWT_SECRET", "is required outside development")
		}
		c.JWT.Secret = DevJWTSecret
	}
	if c.Production() || c.Strict {
		c.productionRules(bad)
	}
	if c.Strict {
		if c.DatabaseURL == "" {
			bad("DATABASE_URL", "strict production mode refuses the embedded PostgreSQL")
		}
		if c.RedisURL == "" {
			bad("REDIS_URL", "strict production mode refuses the in-process Redis")
		}
		if !c.S3.Configured() {
			bad("S3_BUCKET", "strict production mode refuses the in-process S3")
		}
	}
	if c.JWT.BcryptRounds < 4 || c.JWT.BcryptRounds > 31 {
		bad("BCRYPT_ROUNDS", "must be between 4 and 31")
	}
	if c.DBMaxConns < 1 {
		bad("DB_MAX_CONNS", "must be at least 1")
	}
	for name, u := range map[string]string{
		"AUTH_SERVICE_URL": c.Services.Auth, "USER_SERVICE_URL": c.Services.User,
		"POST_SERVICE_URL": c.Services.Post, "FEED_SERVICE_URL": c.Services.Feed,
		"CHAT_SERVICE_URL": c.Services.Chat, "CALL_SERVICE_URL": c.Services.Call,
		"REALTIME_SERVICE_URL": c.Services.Realtime, "MEDIA_SERVICE_URL": c.Services.Media,
		"NOTIFY_SERVICE_URL": c.Services.Notify,
		"ADMIN_SERVICE_URL":  c.Services.Admin,
	} {
		// A list names several replicas of the tier (comma-separated).
		for _, u := range strings.Split(u, ",") {
			if p, err := url.Parse(strings.TrimSpace(u)); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
				bad(name, "must be an http(s) URL or a comma-separated list of them, got %q", u)
			}
		}
	}
	if w := c.Notify.GroupWindow.D(); w < time.Minute || w > 7*24*time.Hour {
		bad("NOTIFY_GROUP_WINDOW", "must be between 1m and 7d")
	}
	if c.RedisTimeout.D() < 10*time.Millisecond || c.RedisTimeout.D() > 10*time.Second {
		bad("REDIS_TIMEOUT", "must be between 10ms and 10s")
	}
	if c.Telemetry.SampleRatio < 0 || c.Telemetry.SampleRatio > 1 {
		bad("OTEL_TRACES_SAMPLER_ARG", "must be between 0 and 1")
	}
	if c.Gateway.RateMax < 1 {
		bad("RATE_LIMIT_MAX", "must be at least 1")
	}
	if c.Gateway.MaxBodyBytes < 1024 {
		bad("MAX_BODY_BYTES", "must be at least 1024")
	}
	if c.OTP.TTLSeconds < 30 || c.OTP.TTLSeconds > 3600 {
		bad("OTP_TTL_SECONDS", "must be between 30 and 3600")
	}
	if c.OTP.MaxPerWindow < 1 || c.OTP.MaxPerIPPerWindow < 1 || c.OTP.MaxVerifyAttempts < 1 {
		bad("OTP_MAX_*", "limits must be at least 1")
	}
	if !regexp.MustCompile(`^\+[1-9]\d{0,3}$`).MatchString(c.OTP.DefaultCountry) {
		bad("OTP_DEFAULT_COUNTRY_CODE", "must look like +91")
	}
	for _, a := range c.OTP.ReviewAccounts {
		phone, code, ok := strings.Cut(a, ":")
		if !ok || phone == "" || !regexp.MustCompile(`^\d{6}$`).MatchString(code) {
			bad("OTP_REVIEW_ACCOUNTS", "entries must be phone:6-digit-code")
			break
		}
	}
	if c.S3.Configured() && !awsRegion.MatchString(c.S3.Region) && c.S3.Endpoint == "" {
		bad("AWS_REGION", "must be a valid AWS region when S3_BUCKET is set, got %q", c.S3.Region)
	}
	if c.Media.MaxFileSize < 1 {
		bad("MAX_FILE_SIZE", "must be positive")
	}
	if len(c.Media.AllowedFolders) == 0 {
		bad("MEDIA_ALLOWED_FOLDERS", "must list at least one folder")
	}
	for i, f := range c.Media.AllowedFolders {
		f = strings.ToLower(f)
		if !regexp.MustCompile(`^[a-z0-9_-]{1,32}$`).MatchString(f) {
			bad("MEDIA_ALLOWED_FOLDERS", "invalid folder %q", f)
		}
		c.Media.AllowedFolders[i] = f
	}
	if c.Media.SignedURLMinSeconds < 1 || c.Media.SignedURLMaxSeconds < c.Media.SignedURLMinSeconds || c.Media.SignedURLMaxSeconds > 7*24*3600 {
		bad("SIGNED_URL_EXPIRES_MIN/MAX", "need 1 <= MIN <= MAX <= 604800")
	}
	if c.Media.AuditRetentionDays < 1 {
		bad("MEDIA_AUDIT_LOG_RETENTION_DAYS", "must be at least 1")
	}
	if c.Media.MaxMultipleFiles < 1 || c.Media.UploadMaxInWindow < 1 || c.Media.AuditReadMaxLimit < 1 {
		bad("MEDIA_*", "limits must be at least 1")
	}
	if c.Realtime.ChatSendRate < 1 || c.Realtime.ChatSendBurst < c.Realtime.ChatSendRate {
		bad("CHAT_SEND_RATE", "must be at least 1, and CHAT_SEND_BURST at least CHAT_SEND_RATE")
	}
	if c.Stories.MaxPerUser < 1 || c.Stories.CreateMax < 1 || c.Stories.CaptionMaxLen < 1 {
		bad("STORY_*", "limits must be at least 1")
	}
	if c.Discovery.MaxLocationAge.D() < time.Minute {
		bad("NEARBY_MAX_LOCATION_AGE", "must be at least 1m")
	}
	if !(c.Discovery.GridMeters >= 10 && c.Discovery.GridMeters <= 100_000) {
		bad("NEARBY_GRID_METERS", "must be between 10 and 100000")
	}
	if c.Discovery.PhoneLookupMax < 1 || c.Discovery.PhoneLookupWindow.D() < time.Second {
		bad("PHONE_LOOKUP_*", "PHONE_LOOKUP_MAX must be at least 1 and PHONE_LOOKUP_WINDOW at least 1s")
	}
	if c.Calls.RingTimeoutSeconds < 5 || c.Calls.RingTimeoutSeconds > 600 {
		bad("CALL_RING_TIMEOUT_SECONDS", "must be between 5 and 600")
	}
	if c.Twilio.TokenTTLSeconds < 60 || c.Twilio.TokenTTLSeconds > 24*3600 {
		bad("TWILIO_TOKEN_TTL_SECONDS", "must be between 60 and 86400")
	}
	if c.Realtime.MaxPayload < 1024 {
		bad("SOCKET_MAX_PAYLOAD", "must be at least 1024")
	}
	if l := c.Realtime.SendLinger.D(); l < 0 || l > 100*time.Millisecond {
		bad("REALTIME_SEND_LINGER", "must be between 0 and 100ms")
	}
	if c.Realtime.MaxSessions < -1 {
		bad("SOCKET_MAX_SESSIONS", "must be -1 (no cap), 0 (from the open-file limit) or a number of sessions")
	}
	if t := c.Realtime.SocketTransport; t != "native" && t != "melody" {
		bad("SOCKET_TRANSPORT", "must be native or melody")
	}
	if u, err := url.Parse(c.Push.ExpoPushURL); c.Push.ExpoPushURL != "" && (err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || !strings.HasSuffix(u.Path, "/send")) {
		bad("EXPO_PUSH_URL", "must be an http(s) URL ending in /send (Expo's …/--/api/v2/push/send)")
	}
	if c.Push.BurstWindow.D() < 0 || c.Push.BurstWindow.D() > time.Hour {
		bad("PUSH_BURST_WINDOW", "must be between 0 and 1h")
	}
	if c.Push.Workers < 1 || c.Push.Workers > 256 {
		bad("PUSH_WORKERS", "must be between 1 and 256")
	}
	if d := c.Push.ReceiptDelay.D(); d < time.Second || d > 24*time.Hour {
		bad("PUSH_RECEIPT_DELAY", "must be between 1s and 24h")
	}
	if len(errs) > 0 {
		return fmt.Errorf("config: %s", strings.Join(errs, "; "))
	}
	return nil
}

// minSecretBytes is the shortest secret production accepts (256 bits).
const minSecretBytes = 32

// productionRules refuse, in production whether or not strict mode is on,
// what would leave a deployment open: the development JWT secret, short
// secrets, no service-to-service token, and wildcard CORS.
func (c *Config) productionRules(bad func(name, format string, a ...any)) {
	if c.JWT.Secret == DevJWTSecret {
		bad("JWT_SECRET", "production refuses the embedded development secret")
	}
	if c.InternalToken == "" {
		bad("INTERNAL_API_TOKEN", "is required in production (the token of *InternalService calls between tiers)")
	}
	for _, s := range []struct{ name, v string }{
		{"JWT_SECRET", c.JWT.Secret}, {"INTERNAL_API_TOKEN", c.InternalToken}, {"OTP_HMAC_KEY", c.OTP.HMACKey},
	} {
		if s.v != "" && len(s.v) < minSecretBytes {
			bad(s.name, "production needs at least %d bytes, got %d", minSecretBytes, len(s.v))
		}
	}
	for _, o := range c.Gateway.AllowedOrigins {
		if strings.Contains(o, "*") {
			bad("ALLOWED_ORIGINS", "production refuses a wildcard origin (%q)", o)
		}
	}
	// Push tokens and previews leave the host: never in cleartext.
	if u := c.Push.ExpoPushURL; u != "" && !strings.HasPrefix(strings.ToLower(u), "https://") {
		bad("EXPO_PUSH_URL", "production sends pushes over https only (empty: Expo's endpoint)")
	}
}

// GatewayListenPort is the gateway's port (GATEWAY_PORT, else PORT).
func (c *Config) GatewayListenPort() int {
	if c.Services.GatewayPort != 0 {
		return c.Services.GatewayPort
	}
	return c.Services.Port
}
