// Package authn verifies bearer tokens in HTTP middleware, before any Connect
// decoding, and puts the caller's Principal in the request context. HS256 is
// pinned. Tokens minted by the legacy Node backend ({userId, phone|email}, no
// typ) are accepted while LEGACY_TOKENS_ACCEPTED is on, so nobody is logged
// out at cutover.
package authn

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/infliq/infliq/backend/platform/id"
)

// Token types carried in the typ claim.
const (
	TypeAccess  = "access"
	TypeRefresh = "refresh"
)

// Claims are the JWT claims this backend issues and accepts.
type Claims struct {
	jwt.RegisteredClaims
	// UserID is the legacy claim; new tokens carry it next to sub.
	UserID string `json:"userId,omitempty"`
	// LegacyID is the `_id` claim some legacy services accepted.
	LegacyID string `json:"_id,omitempty"`
	Phone    string `json:"phone,omitempty"`
	Email    string `json:"email,omitempty"`
	Type     string `json:"typ,omitempty"`
	// SessionID is the refresh-token family this access token belongs to.
	SessionID string `json:"sid,omitempty"`
	Role      string `json:"role,omitempty"`
	Admin     bool   `json:"admin,omitempty"`
}

// Principal is the authenticated caller.
type Principal struct {
	UserID    id.ID
	SessionID string
	Legacy    bool
	Admin     bool
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Errors a verifier returns; all surface as 401 Unauthenticated.
var (
	ErrMissing = errors.New("authn: missing token")
	ErrInvalid = errors.New("authn: invalid token")
	ErrRevoked = errors.New("authn: session revoked")
)

// Revocations lets the auth tier refuse tokens of revoked sessions and
// deleted accounts. It is optional.
type Revocations interface {
	Revoked(ctx context.Context, p Principal) (bool, error)
}

// ManyRevocations are Revocations that answer for many principals in one
// round trip (RecheckMany uses it when present).
type ManyRevocations interface {
	RevokedMany(ctx context.Context, ps []Principal) ([]bool, error)
}

// clockSkew tolerates small clock differences between the tiers that issue
// and verify tokens; larger values would keep expired tokens alive.
const clockSkew = 5 * time.Second

// Verifier checks tokens.
type Verifier struct {
	secret       []byte
	acceptLegacy bool
	strict       *jwt.Validator
	legacyParser *jwt.Parser
	Revocations  Revocations
	verified     verifiedCache
	now          func() time.Time // for tests
}

// NewVerifier builds a verifier for HS256 tokens signed with secret.
func NewVerifier(secret, issuer, audience string, acceptLegacy bool) *Verifier {
	v := &Verifier{secret: []byte(secret), acceptLegacy: acceptLegacy, now: time.Now}
	clock := jwt.WithTimeFunc(func() time.Time { return v.now() })
	v.strict = jwt.NewValidator(jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(clockSkew),
		jwt.WithIssuer(issuer), jwt.WithAudience(audience), clock)
	v.legacyParser = jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithLeeway(clockSkew), clock)
	return v
}

func (v *Verifier) key(*jwt.Token) (any, error) { return v.secret, nil }

// parse checks the signature (HS256 only) and, when present, the time
// claims; then tokens of ours (typ set) must also pass the strict checks
// (exp, iat, iss, aud). One decode and one HMAC per token.
func (v *Verifier) parse(raw string) (*Claims, error) {
	var c Claims
	if _, err := v.legacyParser.ParseWithClaims(raw, &c, v.key); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if c.Type != "" {
		if err := v.strict.Validate(&c); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	return &c, nil
}

// VerifyAccess accepts an access token, or a legacy token when allowed.
func (v *Verifier) VerifyAccess(ctx context.Context, raw string) (Principal, error) {
	p, err := v.verifyToken(raw)
	if err != nil {
		return Principal{}, err
	}
	if v.Revocations != nil {
		revoked, err := v.Revocations.Revoked(ctx, p)
		if err != nil {
			return Principal{}, err
		}
		if revoked {
			return Principal{}, ErrRevoked
		}
	}
	return p, nil
}

// verifyToken is VerifyAccess without the revocation check.
func (v *Verifier) verifyToken(raw string) (Principal, error) {
	if raw == "" {
		return Principal{}, ErrMissing
	}
	p, ok := v.verified.get(raw, v.now())
	if !ok {
		var err error
		if p, err = v.principal(raw); err != nil {
			return Principal{}, err
		}
		v.verified.put(raw, p)
	}
	return p, nil
}

// RecheckMany re-checks principals verified earlier (a socket's, whose
// token cannot change): expiry, then revocation, with the revocation checks
// in one round trip when Revocations is a ManyRevocations. errs[i] is
// ps[i]'s outcome. No token is parsed again: at 17,000 sockets per process
// the re-parse every 5 s (HMAC and JSON per token) came in bursts of about
// 200 ms of CPU, and the verified-token cache (16,384 entries) could not
// hold them all.
func (v *Verifier) RecheckMany(ctx context.Context, ps []Principal) []error {
	errs := make([]error, len(ps))
	live := make([]Principal, 0, len(ps))
	at := make([]int, 0, len(ps))
	now := v.now()
	for i, p := range ps {
		if !p.ExpiresAt.IsZero() && !now.Before(p.ExpiresAt.Add(clockSkew)) {
			errs[i] = fmt.Errorf("%w: token is expired", ErrInvalid)
			continue
		}
		live = append(live, p)
		at = append(at, i)
	}
	if v.Revocations == nil || len(live) == 0 {
		return errs
	}
	mr, ok := v.Revocations.(ManyRevocations)
	if !ok {
		for j, p := range live {
			if revoked, err := v.Revocations.Revoked(ctx, p); err != nil {
				errs[at[j]] = err
			} else if revoked {
				errs[at[j]] = ErrRevoked
			}
		}
		return errs
	}
	revoked, err := mr.RevokedMany(ctx, live)
	for j := range live {
		switch {
		case err != nil:
			errs[at[j]] = err
		case revoked[j]:
			errs[at[j]] = ErrRevoked
		}
	}
	return errs
}

// principal verifies raw and maps its claims to a Principal.
func (v *Verifier) principal(raw string) (Principal, error) {
	c, err := v.parse(raw)
	if err != nil {
		return Principal{}, err
	}
	var p Principal
	switch c.Type {
	case TypeAccess:
		uid, err := id.Parse(c.Subject)
		if err != nil {
			return Principal{}, fmt.Errorf("%w: bad sub", ErrInvalid)
		}
		p = Principal{UserID: uid, SessionID: c.SessionID, Admin: c.Admin || c.Role == "admin"}
	case "":
		// Legacy Node tokens. Access tokens always carried phone or email;
		// legacy refresh tokens ({userId} only) are refused as access tokens.
		if !v.acceptLegacy {
			return Principal{}, fmt.Errorf("%w: legacy tokens are no longer accepted", ErrInvalid)
		}
		if c.Phone == "" && c.Email == "" {
			return Principal{}, fmt.Errorf("%w: legacy token without phone or email", ErrInvalid)
		}
		raw := c.UserID
		if raw == "" {
			raw = c.LegacyID
		}
		uid, err := id.Parse(raw)
		if err != nil {
			return Principal{}, fmt.Errorf("%w: bad userId", ErrInvalid)
		}
		p = Principal{UserID: uid, Legacy: true, Admin: c.Admin || c.Role == "admin"}
	default:
		return Principal{}, fmt.Errorf("%w: %s token used as access token", ErrInvalid, c.Type)
	}
	if c.IssuedAt != nil {
		p.IssuedAt = c.IssuedAt.Time
	}
	if c.ExpiresAt != nil {
		p.ExpiresAt = c.ExpiresAt.Time
	}
	return p, nil
}

// Issuer mints tokens with the same secret the verifier checks.
type Issuer struct {
	secret   []byte
	issuer   string
	audience string
	lifetime time.Duration
}

// NewIssuer returns an issuer of access tokens living for lifetime.
func NewIssuer(secret, issuer, audience string, lifetime time.Duration) *Issuer {
	return &Issuer{secret: []byte(secret), issuer: issuer, audience: audience, lifetime: lifetime}
}

// AccessToken describes who a new access token is for.
type AccessToken struct {
	UserID    id.ID
	Phone     string
	Email     string
	SessionID string
	Admin     bool
}

// IssueAccess signs an access token and returns it with its expiry.
func (is *Issuer) IssueAccess(t AccessToken, now time.Time) (string, time.Time, error) {
	exp := now.Add(is.lifetime)
	jti := make([]byte, 12)
	_, _ = rand.Read(jti)
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   t.UserID.String(),
			Issuer:    is.issuer,
			Audience:  jwt.ClaimStrings{is.audience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
			ID:        hex.EncodeToString(jti),
		},
		UserID:    t.UserID.String(),
		Phone:     t.Phone,
		Email:     t.Email,
		Type:      TypeAccess,
		SessionID: t.SessionID,
		Admin:     t.Admin,
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(is.secret)
	return s, exp, err
}
