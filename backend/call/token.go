package call

import (
	"fmt"
	"time"

	twjwt "github.com/twilio/twilio-go/client/jwt"

	"github.com/infliq/infliq/backend/platform/config"
)

// Development signing key, used only when no Twilio credentials are
// configured (health says "twilio: dev-key"; strict production refuses it).
// Twilio rejects these tokens, which is the point: they only exercise the
// app's flow locally.
const (
	devAccountSID = "ACdevelopment0000000000000000000"
	devKeySID     = "SKdevelopment0000000000000000000"
	devKeySecret  = "infliq-development-twilio-signing-key"
)

// signer mints Twilio Video access tokens offline with twilio-go's jwt.
type signer struct {
	accountSID, keySID, secret string
	ttl                        time.Duration
	configured                 bool
}

// newSigner picks the signing key like the legacy backend: the API key pair
// when both halves are set, else the account SID with its auth token, else
// the development key.
func newSigner(tw config.Twilio) *signer {
	s := &signer{accountSID: tw.AccountSID, ttl: time.Duration(tw.TokenTTLSeconds) * time.Second}
	switch {
	case tw.AccountSID != "" && tw.APIKeySID != "" && tw.APIKeySecret != "":
		s.keySID, s.secret, s.configured = tw.APIKeySID, tw.APIKeySecret, true
	case tw.AccountSID != "" && tw.AuthToken != "":
		s.keySID, s.secret, s.configured = tw.AccountSID, tw.AuthToken, true
	default:
		s.accountSID, s.keySID, s.secret = devAccountSID, devKeySID, devKeySecret
	}
	if s.ttl <= 0 {
		s.ttl = time.Hour
	}
	return s
}

// sign returns a token for identity limited to room. twilio-go clamps Ttl
// to at least an hour, so the expiry is always given as ValidUntil.
func (s *signer) sign(identity, room string, now time.Time) (string, time.Time, error) {
	exp := now.Add(s.ttl).Truncate(time.Second)
	tok := twjwt.CreateAccessToken(twjwt.AccessTokenParams{
		AccountSid:    s.accountSID,
		SigningKeySid: s.keySID,
		Secret:        s.secret,
		Identity:      identity,
		Nbf:           float64(now.Unix()),
		ValidUntil:    float64(exp.Unix()),
	})
	tok.AddGrant(&twjwt.VideoGrant{Room: room})
	jwt, err := tok.ToJwt()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("call: sign video token: %w", err)
	}
	return jwt, exp, nil
}
