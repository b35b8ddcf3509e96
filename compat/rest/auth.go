package rest

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"connectrpc.com/connect"

	authv1 "github.com/infliq/infliq/backend/gen/infliq/auth/v1"
	userv1 "github.com/infliq/infliq/backend/gen/infliq/user/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
)

// registerAuth serves the legacy /api/auth/* routes (contract §A.2, §F).
func (rt *Router) registerAuth() {
	rt.handle("POST /api/auth/send-otp", rt.authSendOTP)
	rt.handle("POST /api/auth/verify-otp", rt.authVerifyOTP)
	rt.handle("POST /api/auth/login", rt.authLogin)
	rt.handle("POST /api/auth/register", rt.authRegister)
	rt.handle("POST /api/auth/refresh", rt.authRefresh)
	rt.handle("POST /api/auth/logout", rt.authLogout)
}

// legacyUser is the auth routes' user payload: the union of what the app
// and the seed's checks read. Profile fields the auth service does not own
// have empty defaults; the app reloads the profile from GET /api/users/:id.
type legacyUser struct {
	ID             string         `json:"_id"`
	IDAlias        string         `json:"id"`
	Name           string         `json:"name"`
	Phone          string         `json:"phone"`
	Email          string         `json:"email"`
	Age            *int32         `json:"age"`
	IsVerified     bool           `json:"isVerified"`
	ProfilePicture *string        `json:"profilePicture"`
	ProfilePhoto   *string        `json:"profilePhoto"`
	Bio            string         `json:"bio"`
	Location       legacyLocation `json:"location"`
	Followers      []string       `json:"followers"`
	Following      []string       `json:"following"`
}

type legacyLocation struct {
	Type        string     `json:"type"`
	Coordinates [2]float64 `json:"coordinates"`
}

func userPayload(a *authv1.Account) legacyUser {
	u := legacyUser{
		ID: a.GetUserId(), IDAlias: a.GetUserId(), Name: a.GetName(), Phone: a.GetPhone(), Email: a.GetEmail(),
		IsVerified: a.GetPhoneVerified(), Location: legacyLocation{Type: "Point"},
		Followers: []string{}, Following: []string{},
	}
	if a.GetAge() > 0 {
		age := a.GetAge()
		u.Age = &age
	}
	return u
}

// field reads a legacy body value that clients send as a string or a number
// (OTPs and phones typed as numbers); anything else counts as missing.
func field(v any) string {
	switch t := v.(type) {
	case string:
		return strings.TrimSpace(t)
	case float64:
		if t >= 0 && t == float64(int64(t)) {
			return strconv.FormatInt(int64(t), 10)
		}
	}
	return ""
}

// anonymous drops the caller's bearer token before forwarding: the public
// auth routes must work even when the app still sends a stale token, which
// the service would otherwise refuse with a 401 (and the app log out).
func anonymous(r *http.Request) *http.Request {
	r.Header.Del("Authorization")
	return r
}

func (rt *Router) authSendOTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Phone any `json:"phone"`
	}
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, err)
		return
	}
	ph := field(body.Phone)
	if ph == "" {
		writeError(w, apperr.BadRequest("Phone number required"))
		return
	}
	if _, err := rt.d.Clients.Auth.SendOtp(r.Context(), Forward(anonymous(r), connect.NewRequest(&authv1.SendOtpRequest{Phone: ph}))); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "message": "OTP sent successfully"})
}

func (rt *Router) authVerifyOTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Phone any    `json:"phone"`
		OTP   any    `json:"otp"`
		Name  any    `json:"name"`
		Age   *int32 `json:"age"`
	}
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, err)
		return
	}
	ph, code := field(body.Phone), field(body.OTP)
	if ph == "" || code == "" {
		writeError(w, apperr.BadRequest("Phone and OTP required"))
		return
	}
	req := &authv1.VerifyOtpRequest{Phone: ph, Otp: code, Name: field(body.Name)}
	if body.Age != nil && *body.Age > 0 && *body.Age <= 150 {
		req.Age = *body.Age
	}
	res, err := rt.d.Clients.Auth.VerifyOtp(r.Context(), Forward(anonymous(r), connect.NewRequest(req)))
	if err != nil {
		writeError(w, err)
		return
	}
	rt.writeSession(w, r, res.Msg.GetSession(), res.Msg.GetAccount())
}

// writeSession answers a login with the session and the user. The user
// comes from the same profile GET /api/users/me returns (an imported
// user's name, picture and verified flag live there, not in the auth
// account), read with the new token; the account alone is the fallback.
// It carries the follow lists as id strings: AuthContext keeps this user,
// and FeedScreen and ProfileScreen decide Follow buttons with
// `user.following.includes(id)`.
func (rt *Router) writeSession(w http.ResponseWriter, r *http.Request, s *authv1.Session, a *authv1.Account) {
	u := userPayload(a)
	if tok := s.GetAccessToken(); tok != "" {
		req := Forward(anonymous(r), connect.NewRequest(&userv1.GetMeRequest{}))
		req.Header().Set("Authorization", "Bearer "+tok)
		if me, err := rt.d.Clients.User.GetMe(r.Context(), req); err == nil {
			p := legacyProfile(me.Msg.GetUser())
			u.Name, u.IsVerified, u.Bio, u.Age = p.Name, p.IsVerified, p.Bio, p.Age
			u.ProfilePicture, u.ProfilePhoto = p.ProfilePicture, p.ProfilePhoto
			if p.Location != nil {
				u.Location = legacyLocation(*p.Location)
			}
			u.Followers, u.Following = orEmpty(me.Msg.GetFollowerIds()), orEmpty(me.Msg.GetFollowingIds())
		} else {
			rt.d.Log.WarnContext(r.Context(), "login with the account's fields only", "err", err)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"success": true, "token": s.GetAccessToken(), "refreshToken": s.GetRefreshToken(), "user": u,
	})
}

func (rt *Router) authLogin(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Email    any `json:"email"`
		Password any `json:"password"`
	}
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, err)
		return
	}
	email, _ := body.Email.(string)
	pwd, _ := body.Password.(string)
	// The legacy empty-body login signed in as the first OTP user (S4).
	if strings.TrimSpace(email) == "" || pwd == "" {
		writeError(w, apperr.BadRequest("Email and password required"))
		return
	}
	res, err := rt.d.Clients.Auth.Login(r.Context(), Forward(anonymous(r), connect.NewRequest(&authv1.LoginRequest{Email: email, Password: pwd})))
	if err != nil {
		if connect.CodeOf(err) == connect.CodeInvalidArgument {
			err = apperr.Unauthorized("Invalid credentials") // never say which part was wrong
		}
		writeError(w, err)
		return
	}
	rt.writeSession(w, r, res.Msg.GetSession(), res.Msg.GetAccount())
}

func (rt *Router) authRegister(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name     any    `json:"name"`
		Email    any    `json:"email"`
		Password any    `json:"password"`
		Phone    any    `json:"phone"`
		Age      *int32 `json:"age"`
	}
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, err)
		return
	}
	name, email, ph := field(body.Name), field(body.Email), field(body.Phone)
	pwd, _ := body.Password.(string)
	if name == "" || email == "" || pwd == "" || ph == "" {
		writeError(w, apperr.BadRequest("All fields required"))
		return
	}
	req := &authv1.RegisterRequest{Name: name, Email: email, Password: pwd, Phone: ph}
	if body.Age != nil && *body.Age > 0 && *body.Age <= 150 {
		req.Age = *body.Age
	}
	res, err := rt.d.Clients.Auth.Register(r.Context(), Forward(anonymous(r), connect.NewRequest(req)))
	if err != nil {
		if connect.CodeOf(err) == connect.CodeAlreadyExists {
			err = apperr.BadRequest("User already exists") // the legacy status
		}
		writeError(w, err)
		return
	}
	rt.writeSession(w, r, res.Msg.GetSession(), res.Msg.GetAccount())
}

func (rt *Router) authRefresh(w http.ResponseWriter, r *http.Request) {
	var body struct {
		RefreshToken any `json:"refreshToken"`
	}
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, err)
		return
	}
	tok, _ := body.RefreshToken.(string)
	if strings.TrimSpace(tok) == "" {
		writeError(w, apperr.BadRequest("Refresh token required"))
		return
	}
	res, err := rt.d.Clients.Auth.Refresh(r.Context(), Forward(anonymous(r), connect.NewRequest(&authv1.RefreshRequest{RefreshToken: tok})))
	if err != nil {
		if c := connect.CodeOf(err); c == connect.CodeInvalidArgument || c == connect.CodeUnauthenticated {
			err = apperr.Unauthorized("Invalid refresh token").WithReason("INVALID_TOKEN")
		}
		writeError(w, err)
		return
	}
	s := res.Msg.GetSession()
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "token": s.GetAccessToken(), "refreshToken": s.GetRefreshToken()})
}

// authLogout is new (the legacy backends had none): it ends the session of
// the refresh token in the body, else the bearer token's session.
func (rt *Router) authLogout(w http.ResponseWriter, r *http.Request) {
	var body struct {
		RefreshToken any `json:"refreshToken"`
	}
	if err := decodeJSON(r, &body); err != nil {
		writeError(w, err)
		return
	}
	tok, _ := body.RefreshToken.(string)
	if _, err := rt.d.Clients.Auth.Logout(r.Context(), Forward(r, connect.NewRequest(&authv1.LogoutRequest{RefreshToken: tok}))); err != nil {
		var ce *connect.Error
		if errors.As(err, &ce) && ce.Code() == connect.CodeInvalidArgument && tok == "" {
			err = apperr.BadRequest("Refresh token required")
		}
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true})
}
