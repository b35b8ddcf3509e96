package apperr

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// LegacyBody is the error body of the legacy REST edge.
type LegacyBody struct {
	Error   string `json:"error"`
	Code    string `json:"code"`
	Details string `json:"details,omitempty"`
	// Reason carries M2's "moderation_blocked".
	Reason string `json:"reason,omitempty"`
}

// legacyReasons are reasons that the legacy edge sends as `reason` next to
// the default code rather than replacing `code`.
var legacyReasons = map[string]bool{"moderation_blocked": true}

// Legacy converts err into its legacy status and body.
func Legacy(err error) (int, LegacyBody) {
	e := From(err)
	body := LegacyBody{Error: e.Msg, Code: LegacyCode(e.Code)}
	switch {
	case e.Reason == "":
	case legacyReasons[e.Reason]:
		body.Reason = e.Reason
	default:
		body.Code = e.Reason
	}
	return HTTPStatus(e.Code), body
}

// WriteLegacy writes err as a legacy JSON error response.
func WriteLegacy(w http.ResponseWriter, err error) {
	status, body := Legacy(err)
	if e := From(err); e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	WriteJSON(w, status, body)
}

// WriteJSON writes v as a JSON response with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
