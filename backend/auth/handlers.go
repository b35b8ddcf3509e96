package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"strings"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/infliq/infliq/backend/auth/otp"
	"github.com/infliq/infliq/backend/auth/phone"
	authv1 "github.com/infliq/infliq/backend/gen/infliq/auth/v1"
	userv1 "github.com/infliq/infliq/backend/gen/infliq/user/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/id"
)

func deriveKey(secret, label string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(label))
	return m.Sum(nil)
}

// issuer mints access tokens (JWT, typ "access", with the session id) and
// sets the refresh lifetime.
type issuer struct {
	access     *authn.Issuer
	refreshTTL time.Duration
}

func newIssuer(c config.JWT) *issuer {
	return &issuer{access: authn.NewIssuer(c.Secret, c.Issuer, c.Audience, c.ExpiresIn.D()), refreshTTL: c.RefreshExpiresIn.D()}
}

// Legacy-compatible messages (contract §A.2).
var (
	errBadPhone   = apperr.FieldViolation("phone", "phone.e164", "Invalid phone number")
	errBadOTP     = apperr.BadRequest("Invalid or expired OTP")
	errBurntOTP   = apperr.BadRequest("Too many incorrect attempts. Please request a new OTP.")
	errBadLogin   = apperr.Unauthorized("Invalid credentials")
	errBadRefresh = apperr.Unauthorized("Invalid refresh token").WithReason("INVALID_TOKEN")
)

func (s *Service) normalize(raw string) (string, error) {
	p, err := phone.Normalize(raw, s.o.OTP.DefaultCountry)
	if err != nil {
		return "", errBadPhone
	}
	return p, nil
}

// SendOtp stores a fresh code and sends it. The answer does not depend on
// whether the number has an account.
func (s *Service) SendOtp(ctx context.Context, req *connect.Request[authv1.SendOtpRequest]) (*connect.Response[authv1.SendOtpResponse], error) {
	ph, err := s.normalize(req.Msg.GetPhone())
	if err != nil {
		return nil, err
	}
	code, review := s.review[ph]
	switch {
	case review:
	case s.o.SMS.Delegated():
		code = otp.DelegatedCode
	default:
		if code, err = otp.Code(); err != nil {
			return nil, apperr.Internal(err)
		}
	}
	lim, retry, err := s.codes.Send(ctx, ph, clientIP(req), code)
	if err != nil {
		return nil, apperr.Unavailable(err, "Failed to send OTP")
	}
	if lim != otp.NotLimited {
		return nil, apperr.RateLimited("Too many OTP requests. Please try again later.", retry)
	}
	if !review {
		if err := s.o.SMS.Send(ctx, ph, code); err != nil {
			// The stored code is useless without the SMS; the client may retry.
			_ = s.codes.Consume(ctx, ph)
			return nil, apperr.Unavailable(err, "Failed to send OTP").WithReason("DEPENDENCY_UNAVAILABLE")
		}
	}
	return connect.NewResponse(&authv1.SendOtpResponse{ExpiresInSeconds: int32(s.o.OTP.TTLSeconds)}), nil
}

// VerifyOtp consumes the code and opens a session, creating the account on
// the number's first verification.
func (s *Service) VerifyOtp(ctx context.Context, req *connect.Request[authv1.VerifyOtpRequest]) (*connect.Response[authv1.VerifyOtpResponse], error) {
	m := req.Msg
	ph, err := s.normalize(m.GetPhone())
	if err != nil {
		return nil, err
	}
	code := strings.TrimSpace(m.GetOtp())
	if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
		return nil, errBadOTP
	}
	out, err := s.codes.Verify(ctx, ph, code)
	if err != nil {
		return nil, apperr.Unavailable(err, "Verification failed")
	}
	switch out {
	case otp.Match:
	case otp.Delegated:
		ok, err := s.o.SMS.Check(ctx, ph, code)
		if err != nil {
			return nil, apperr.Unavailable(err, "Verification failed").WithReason("DEPENDENCY_UNAVAILABLE")
		}
		if !ok {
			return nil, errBadOTP
		}
		if err := s.codes.Consume(ctx, ph); err != nil {
			return nil, apperr.Unavailable(err, "Verification failed")
		}
	case otp.Burnt:
		return nil, errBurntOTP
	default:
		return nil, errBadOTP
	}

	// The common case, a returning verified user, is one statement.
	now := time.Now()
	sid := id.New()
	rt, rh := newRefreshToken()
	rexp := now.Add(s.issuer.refreshTTL)
	c, opened, err := s.store.phoneLogin(ctx, ph, sid, rh, rexp)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	if opened {
		sess, err := s.session(authn.AccessToken{UserID: c.UserID, Phone: c.Phone, SessionID: sid.String()}, now, rt, rexp)
		if err != nil {
			return nil, err
		}
		acc := &authv1.Account{UserId: c.UserID.String(), Phone: c.Phone, Email: c.Email, PhoneVerified: true}
		return connect.NewResponse(&authv1.VerifyOtpResponse{Session: sess, Account: acc}), nil
	}

	c, created, err := s.store.phoneAccount(ctx, id.New(), ph)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	if err := suspended(c, now); err != nil {
		return nil, err
	}
	if !c.PhoneVerified {
		// Registered with this number before its owner proved it: the owner
		// takes the account over and the registrant's sessions end.
		if err := s.store.claimPhone(ctx, c.UserID); err != nil {
			return nil, apperr.Internal(err)
		}
		if _, err := s.revokeAll(ctx, c.UserID, "phone verified by its owner"); err != nil {
			return nil, err
		}
		c.PhoneVerified = true
	}
	acc := &authv1.Account{UserId: c.UserID.String(), Phone: c.Phone, Email: c.Email, PhoneVerified: true}
	if created {
		acc.Name, acc.Age = m.GetName(), m.GetAge()
	}
	if err := s.ensureProfile(ctx, c, acc.Name, acc.Age, true); err != nil {
		return nil, err
	}
	sess, err := s.openSession(ctx, c, authn.AccessToken{UserID: c.UserID, Phone: c.Phone})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.VerifyOtpResponse{Session: sess, Account: acc, Created: created}), nil
}

// ensureProfile creates the user-service profile until it is known to exist.
func (s *Service) ensureProfile(ctx context.Context, c cred, name string, age int32, verified bool) error {
	if c.ProfileReady {
		return nil
	}
	if _, err := s.o.Users.CreateUser(ctx, connect.NewRequest(&userv1.CreateUserRequest{
		Id: c.UserID.String(), Name: name, Age: age, IsVerified: verified,
	})); err != nil {
		return apperr.Unavailable(err, "User service unavailable").WithReason("DEPENDENCY_UNAVAILABLE")
	}
	if err := s.store.profileReady(ctx, c.UserID); err != nil {
		return apperr.Internal(err)
	}
	return nil
}

// openSession starts a refresh-token family and mints its first tokens.
func (s *Service) openSession(ctx context.Context, c cred, at authn.AccessToken) (*authv1.Session, error) {
	now := time.Now()
	sid := id.New()
	rt, rh := newRefreshToken()
	rexp := now.Add(s.issuer.refreshTTL)
	if err := s.store.openSession(ctx, c.UserID, sid, rh, rexp); err != nil {
		return nil, apperr.Internal(err)
	}
	at.SessionID = sid.String()
	return s.session(at, now, rt, rexp)
}

func (s *Service) session(at authn.AccessToken, now time.Time, rt string, rexp time.Time) (*authv1.Session, error) {
	tok, exp, err := s.issuer.access.IssueAccess(at, now)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	return &authv1.Session{
		AccessToken: tok, AccessExpiresAt: timestamppb.New(exp),
		RefreshToken: rt, RefreshExpiresAt: timestamppb.New(rexp),
		SessionId: at.SessionID,
	}, nil
}

// Register creates a password account. The phone stays unverified until an
// OTP proves it.
func (s *Service) Register(ctx context.Context, req *connect.Request[authv1.RegisterRequest]) (*connect.Response[authv1.RegisterResponse], error) {
	m := req.Msg
	name, email := strings.TrimSpace(m.GetName()), strings.TrimSpace(m.GetEmail())
	if name == "" || email == "" || m.GetPassword() == "" || m.GetPhone() == "" {
		return nil, apperr.BadRequest("All fields required")
	}
	if !validEmail(email) {
		return nil, apperr.BadRequest("Invalid email address")
	}
	ph, err := s.normalize(m.GetPhone())
	if err != nil {
		return nil, err
	}
	key := s.o.Prefix + "register:ip:" + clientIP(req)
	pipe := s.o.Redis.TxPipeline()
	n := pipe.Incr(ctx, key)
	pipe.ExpireNX(ctx, key, s.o.RegisterWindow)
	ttl := pipe.PTTL(ctx, key)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, apperr.Unavailable(err, "Registration failed")
	}
	if n.Val() > int64(s.o.RegisterMaxPerIP) {
		return nil, apperr.RateLimited("Too many registrations. Please try again later.", max(ttl.Val(), time.Second))
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(m.GetPassword()), s.o.JWT.BcryptRounds)
	if err != nil {
		return nil, apperr.BadRequest("Invalid password")
	}
	c := cred{UserID: id.New(), Phone: ph, Email: email}
	if err := s.store.createPasswordAccount(ctx, c.UserID, ph, email, string(hash)); err != nil {
		if errors.Is(err, errExists) {
			return nil, apperr.Exists("User already exists")
		}
		return nil, apperr.Internal(err)
	}
	if err := s.ensureProfile(ctx, c, name, m.GetAge(), false); err != nil {
		return nil, err
	}
	sess, err := s.openSession(ctx, c, authn.AccessToken{UserID: c.UserID, Email: email})
	if err != nil {
		return nil, err
	}
	acc := &authv1.Account{UserId: c.UserID.String(), Phone: ph, Email: email, Name: name, Age: m.GetAge()}
	return connect.NewResponse(&authv1.RegisterResponse{Session: sess, Account: acc}), nil
}

func validEmail(e string) bool {
	local, domain, ok := strings.Cut(e, "@")
	return ok && local != "" && strings.Contains(domain, ".") && !strings.ContainsAny(e, " \t\r\n<>,;") &&
		!strings.Contains(domain, "@") && len(e) <= 254
}

// Login checks email and password. Every failure is the same 401, and
// failures are throttled per email and client IP.
func (s *Service) Login(ctx context.Context, req *connect.Request[authv1.LoginRequest]) (*connect.Response[authv1.LoginResponse], error) {
	email, pwd := strings.TrimSpace(req.Msg.GetEmail()), req.Msg.GetPassword()
	if email == "" || pwd == "" {
		return nil, apperr.BadRequest("Email and password required")
	}
	// The attempt is reserved before bcrypt runs: a check here and a count
	// after the comparison would let parallel guesses all through.
	ip := clientIP(req)
	refused, retry, err := s.logins.reserve(ctx, email, ip)
	if err != nil {
		return nil, apperr.Unavailable(err, "Login failed")
	}
	if refused != loginAllowed {
		return nil, apperr.RateLimited("Too many login attempts. Please try again later.", retry)
	}
	c, found, err := s.store.byEmail(ctx, email)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	hash := s.dummyPwd
	if found && c.PasswordHash != "" && !c.NeedsReset {
		hash = []byte(c.PasswordHash)
	}
	// bcrypt verifies the legacy bcryptjs $2a$ hashes as well as $2b$/$2y$.
	if bcrypt.CompareHashAndPassword(hash, []byte(pwd)) != nil || !found || c.PasswordHash == "" || c.NeedsReset {
		return nil, errBadLogin // the reservation stays as the failure
	}
	if err := s.logins.release(ctx, email, ip); err != nil {
		s.log.WarnContext(ctx, "login throttle not released", "err", err)
	}
	// Told only after the password matched, so it reveals nothing to guessers.
	if err := suspended(c, time.Now()); err != nil {
		return nil, err
	}
	if err := s.ensureProfile(ctx, c, "", 0, false); err != nil {
		return nil, err
	}
	sess, err := s.openSession(ctx, c, authn.AccessToken{UserID: c.UserID, Email: c.Email})
	if err != nil {
		return nil, err
	}
	acc := &authv1.Account{UserId: c.UserID.String(), Phone: c.Phone, Email: c.Email, PhoneVerified: c.PhoneVerified}
	return connect.NewResponse(&authv1.LoginResponse{Session: sess, Account: acc}), nil
}

// Refresh rotates a refresh token. Presenting an already exchanged token
// revokes its whole session: one of the two holders is not the user.
func (s *Service) Refresh(ctx context.Context, req *connect.Request[authv1.RefreshRequest]) (*connect.Response[authv1.RefreshResponse], error) {
	raw := strings.TrimSpace(req.Msg.GetRefreshToken())
	if raw == "" {
		return nil, apperr.BadRequest("Refresh token required")
	}
	now := time.Now()
	next, nextHash := newRefreshToken()
	nextExp := now.Add(s.issuer.refreshTTL)
	r, err := s.store.rotate(ctx, hashToken(raw), nextHash, now, nextExp)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	if r.Reused {
		if err := s.o.Revocations.RevokeSessions(ctx, r.UserID.String(), r.SessionID.String()); err != nil {
			return nil, apperr.Unavailable(err, "Refresh failed")
		}
		s.log.WarnContext(ctx, "refresh token reused: session revoked", "session_id", r.SessionID.String())
		return nil, errBadRefresh
	}
	if r.Invalid {
		return nil, errBadRefresh
	}
	c := r.Cred
	if err := suspended(c, now); err != nil {
		return nil, err
	}
	at := authn.AccessToken{UserID: c.UserID, Phone: c.Phone, Email: c.Email, SessionID: r.SessionID.String()}
	if c.PhoneVerified || c.Email == "" {
		at.Email = ""
	} else {
		at.Phone = ""
	}
	sess, err := s.session(at, now, next, nextExp)
	if err != nil {
		return nil, err
	}
	acc := &authv1.Account{UserId: c.UserID.String(), Phone: c.Phone, Email: c.Email, PhoneVerified: c.PhoneVerified}
	return connect.NewResponse(&authv1.RefreshResponse{Session: sess, Account: acc}), nil
}

// Logout revokes the session of the refresh token given, else the caller's.
// A legacy token names no session, so it ends all of the caller's sessions.
func (s *Service) Logout(ctx context.Context, req *connect.Request[authv1.LogoutRequest]) (*connect.Response[authv1.LogoutResponse], error) {
	p, authed := authn.FromContext(ctx)
	if raw := strings.TrimSpace(req.Msg.GetRefreshToken()); raw != "" {
		sid, uid, ok, err := s.store.sessionOfToken(ctx, hashToken(raw))
		if err != nil {
			return nil, apperr.Internal(err)
		}
		if !ok || (authed && uid != p.UserID) {
			return nil, errBadRefresh
		}
		if err := s.endSession(ctx, uid, sid); err != nil {
			return nil, err
		}
		return connect.NewResponse(&authv1.LogoutResponse{}), nil
	}
	if !authed {
		return nil, apperr.BadRequest("Refresh token required")
	}
	if p.SessionID == "" {
		if _, err := s.revokeAll(ctx, p.UserID, "logout (legacy token)"); err != nil {
			return nil, err
		}
		return connect.NewResponse(&authv1.LogoutResponse{}), nil
	}
	sid, err := id.Parse(p.SessionID)
	if err != nil {
		return nil, apperr.BadRequest("Invalid session")
	}
	if err := s.endSession(ctx, p.UserID, sid); err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.LogoutResponse{}), nil
}

func (s *Service) endSession(ctx context.Context, uid, sid id.ID) error {
	if err := s.store.revokeSession(ctx, uid, sid, "logout"); err != nil {
		return apperr.Internal(err)
	}
	if err := s.o.Revocations.RevokeSessions(ctx, uid.String(), sid.String()); err != nil {
		return apperr.Unavailable(err, "Logout failed")
	}
	return nil
}

// revokeAll ends every session of uid and refuses its earlier access tokens.
func (s *Service) revokeAll(ctx context.Context, uid id.ID, reason string) (int, error) {
	sids, err := s.store.revokeUser(ctx, uid, reason)
	if err != nil {
		return 0, apperr.Internal(err)
	}
	if err := s.o.Revocations.RevokeSessions(ctx, uid.String(), sids...); err != nil {
		return 0, apperr.Unavailable(err, "Revocation failed")
	}
	// Tokens of this second that name a session were revoked by id above;
	// the per-user mark catches earlier ones, legacy tokens included.
	if err := s.o.Revocations.RevokeUser(ctx, uid.String(), time.Now()); err != nil {
		return 0, apperr.Unavailable(err, "Revocation failed")
	}
	return len(sids), nil
}

// GetSession describes the caller's access token.
func (s *Service) GetSession(ctx context.Context, _ *connect.Request[authv1.GetSessionRequest]) (*connect.Response[authv1.GetSessionResponse], error) {
	p, ok := authn.FromContext(ctx)
	if !ok {
		return nil, apperr.Unauthorized("No token provided")
	}
	resp := &authv1.GetSessionResponse{UserId: p.UserID.String(), LegacyToken: p.Legacy, SessionId: p.SessionID}
	if !p.IssuedAt.IsZero() {
		resp.IssuedAt = timestamppb.New(p.IssuedAt)
	}
	if !p.ExpiresAt.IsZero() {
		resp.ExpiresAt = timestamppb.New(p.ExpiresAt)
	}
	return connect.NewResponse(resp), nil
}

// suspended refuses a login or refresh of a suspended or banned account
// with a message the app can show as is.
func suspended(c cred, now time.Time) error {
	if c.SuspendedUntil == nil || !c.SuspendedUntil.After(now) {
		return nil
	}
	if c.SuspendedUntil.Year() >= 9999 {
		return apperr.Forbidden("Your account has been banned for violating the community guidelines.").WithReason("ACCOUNT_BANNED")
	}
	return apperr.Forbidden("Your account is suspended until " + c.SuspendedUntil.UTC().Format("2006-01-02 15:04 UTC") +
		" for violating the community guidelines.").WithReason("ACCOUNT_SUSPENDED")
}
