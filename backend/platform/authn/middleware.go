package authn

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"connectrpc.com/connect"

	"github.com/infliq/infliq/backend/platform/logx"
)

type ctxKey struct{}

// WithPrincipal stores p in ctx.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the caller, if authenticated.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}

// InternalHeader carries the service-to-service token.
const InternalHeader = "X-Infliq-Internal-Token"

// BearerToken extracts the token the way the legacy backend did: the second
// word of the Authorization header, whatever the scheme word.
func BearerToken(h http.Header) string {
	a := strings.TrimSpace(h.Get("Authorization"))
	_, tok, ok := strings.Cut(a, " ")
	if !ok {
		return ""
	}
	return strings.TrimSpace(tok)
}

// Policy says which procedures of a tier need what.
type Policy struct {
	// Public procedures (full "/pkg.Service/Method" paths) need no token; a
	// token that is present is still verified.
	Public map[string]bool
	// InternalToken is required on *InternalService procedures; when empty
	// they are refused.
	InternalToken string
}

// Middleware authenticates every request before the Connect handler decodes
// it, so unauthenticated callers cost no decoding and streams are covered too.
func Middleware(v *Verifier, pol Policy, log *slog.Logger, next http.Handler) http.Handler {
	errw := connect.NewErrorWriter()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proc := r.URL.Path
		if isInternal(proc) {
			got := r.Header.Get(InternalHeader)
			// Refused without the right token, always: a tier configured
			// without one (a wiring mistake) serves no internal procedure.
			if pol.InternalToken == "" || subtle.ConstantTimeCompare([]byte(got), []byte(pol.InternalToken)) != 1 {
				_ = errw.Write(w, r, connect.NewError(connect.CodePermissionDenied, errors.New("internal procedure")))
				return
			}
		}
		raw := BearerToken(r.Header)
		if raw == "" {
			if pol.Public[proc] || isInternal(proc) {
				next.ServeHTTP(w, r)
				return
			}
			_ = errw.Write(w, r, connect.NewError(connect.CodeUnauthenticated, errors.New("No token provided")))
			return
		}
		p, err := v.VerifyAccess(r.Context(), raw)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrRevoked) && !errors.Is(err, ErrMissing) {
				log.WarnContext(r.Context(), "token check failed", "err", err)
				_ = errw.Write(w, r, connect.NewError(connect.CodeUnavailable, errors.New("Authentication unavailable")))
				return
			}
			_ = errw.Write(w, r, connect.NewError(connect.CodeUnauthenticated, errors.New("Invalid token")))
			return
		}
		ctx := WithPrincipal(r.Context(), p)
		ctx = logx.WithUserID(ctx, p.UserID.String())
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// isInternal reports a procedure of an *InternalService, which the gateway
// never routes and which only sibling services call.
func isInternal(path string) bool {
	svc, _, ok := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return ok && strings.HasSuffix(svc, "InternalService")
}

// IsInternalPath reports whether path names an internal procedure.
func IsInternalPath(path string) bool { return isInternal(path) }
