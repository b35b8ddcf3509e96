// Package rest is the legacy REST edge: it maps the current app's /api/*
// routes (see the legacy contract) onto Connect calls and renders the legacy
// JSON. Routes use Go's pattern mux, where the most specific pattern wins, so
// /api/users/nearby can never be shadowed by /api/users/{id} (legacy B1/B2).
//
// Capability packages add their routes in their own file with a
// register<Domain> function called from New.
package rest

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"connectrpc.com/connect"

	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/httpx"
	"github.com/infliq/infliq/backend/platform/safetext"
)

// Deps are what the legacy routes need.
type Deps struct {
	Log      *slog.Logger
	Verifier *authn.Verifier
	Clients  *Clients
}

// Router serves /api/*.
type Router struct {
	mux *http.ServeMux
	d   Deps
}

// New builds the legacy router.
func New(d Deps) *Router {
	rt := &Router{mux: http.NewServeMux(), d: d}
	rt.registerChats()
	rt.registerCalls()
	rt.registerAuth()
	rt.registerUsers()
	// Unmatched routes and unknown methods get a JSON 404, never an HTML page.
	rt.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, apperr.NotFound("Route not found"))
	})
	rt.registerPosts()
	rt.registerMedia()
	return rt
}

func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) { rt.mux.ServeHTTP(w, r) }

// handle registers a public route.
func (rt *Router) handle(pattern string, h http.HandlerFunc) { rt.mux.HandleFunc(pattern, h) }

// authed registers a route that needs a valid token. The token is checked
// before the body is read; the handler then calls services with it.
func (rt *Router) authed(pattern string, h func(w http.ResponseWriter, r *http.Request, p authn.Principal)) {
	rt.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		raw := authn.BearerToken(r.Header)
		if raw == "" {
			writeLegacy(w, http.StatusUnauthorized, "Access denied", "UNAUTHORIZED")
			return
		}
		p, err := rt.d.Verifier.VerifyAccess(r.Context(), raw)
		if err != nil {
			if errors.Is(err, authn.ErrInvalid) || errors.Is(err, authn.ErrRevoked) {
				writeLegacy(w, http.StatusUnauthorized, "Invalid token", "INVALID_TOKEN")
				return
			}
			writeError(w, apperr.Unavailable(err, "Authentication unavailable"))
			return
		}
		h(w, r.WithContext(authn.WithPrincipal(r.Context(), p)), p)
	})
}

// Forward copies the caller's credentials and request id onto an outgoing
// Connect request, so services authenticate the same caller.
func Forward[T any](r *http.Request, req *connect.Request[T]) *connect.Request[T] {
	if a := r.Header.Get("Authorization"); a != "" {
		req.Header().Set("Authorization", "Bearer "+authn.BearerToken(r.Header))
	}
	if v := r.Header.Get(httpx.RequestIDHeader); v != "" {
		req.Header().Set(httpx.RequestIDHeader, v)
	}
	if v := r.Header.Get(httpx.ClientIPHeader); v != "" {
		req.Header().Set(httpx.ClientIPHeader, v)
	}
	// A legacy GET only reads (or repeats a write that is idempotent, as
	// the map position is): its RPC may be resent when a replica closed the
	// connection before answering, as in a rolling restart (httpx.Balancer
	// and net/http resend requests carrying this header).
	if r.Method == http.MethodGet {
		req.Header().Set(httpx.IdempotencyKeyHeader, "get")
	}
	return req
}

// decodeJSON reads a JSON body into v. An empty body decodes as {} (legacy
// clients send none on many POSTs). Malformed JSON is a 400, an oversized
// body a 413; neither is ever a 500.
func decodeJSON(r *http.Request, v any) error {
	if r.Body == nil {
		return nil
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &apperr.Error{Code: connect.CodeResourceExhausted, Msg: "Request body too large", Reason: "PAYLOAD_TOO_LARGE"}
		}
		return apperr.BadRequest("Could not read request body")
	}
	return decodeJSONBytes(b, v)
}

// decodeJSONBytes is decodeJSON on a body already read.
func decodeJSONBytes(b []byte, v any) error {
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	// Checked on the raw bytes: the decoder would turn invalid UTF-8 into
	// U+FFFD without a word.
	if err := safetext.JSON(b); err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return apperr.BadRequest("Malformed JSON body")
	}
	return nil
}

// writeJSON writes a legacy success body.
func writeJSON(w http.ResponseWriter, status int, v any) { apperr.WriteJSON(w, status, v) }

// writeError renders any error in the legacy {error, code} shape.
func writeError(w http.ResponseWriter, err error) {
	var e *apperr.Error
	if errors.As(err, &e) && e.Reason == "PAYLOAD_TOO_LARGE" {
		writeLegacy(w, http.StatusRequestEntityTooLarge, e.Msg, "PAYLOAD_TOO_LARGE")
		return
	}
	apperr.WriteLegacy(w, err)
}

func writeLegacy(w http.ResponseWriter, status int, msg, code string) {
	apperr.WriteJSON(w, status, apperr.LegacyBody{Error: msg, Code: code})
}
