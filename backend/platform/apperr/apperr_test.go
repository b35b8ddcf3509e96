package apperr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
)

func TestLegacyMapping(t *testing.T) {
	cases := []struct {
		err    error
		status int
		code   string
		msg    string
	}{
		{BadRequest("Phone number required"), 400, "BAD_REQUEST", "Phone number required"},
		{Unauthorized("Invalid token"), 401, "UNAUTHORIZED", "Invalid token"},
		{Forbidden("Admin access required"), 403, "FORBIDDEN", "Admin access required"},
		{NotFound("User not found"), 404, "NOT_FOUND", "User not found"},
		{Conflict("Call is not ringing"), 409, "CONFLICT", "Call is not ringing"},
		{RateLimited("Too many requests", time.Second), 429, "RATE_LIMITED", "Too many requests"},
		{Unavailable(errors.New("dial tcp: refused"), "Upstream service unavailable"), 503, "DEPENDENCY_UNAVAILABLE", "Upstream service unavailable"},
		{errors.New("pq: secret driver detail"), 500, "INTERNAL_ERROR", "Internal server error"},
		{fmt.Errorf("wrapped: %w", NotFound("Post not found")), 404, "NOT_FOUND", "Post not found"},
		{context.DeadlineExceeded, 504, "TIMEOUT", "Request timed out"},
	}
	for _, c := range cases {
		status, body := Legacy(c.err)
		if status != c.status || body.Code != c.code || body.Error != c.msg {
			t.Errorf("%v: got %d %+v", c.err, status, body)
		}
		if strings.Contains(body.Error, "driver") || strings.Contains(body.Details, "driver") {
			t.Errorf("cause leaked: %+v", body)
		}
	}
}

func TestReasonsSurviveTheRPCHop(t *testing.T) {
	// A service error crosses the Connect edge and is rendered by compat/rest.
	orig := RateLimited("Upload rate limit exceeded. Please try again later.", 30*time.Second).WithReason("MEDIA_RATE_LIMIT")
	ce := ToConnect(orig)
	if ce.Code() != connect.CodeResourceExhausted || ce.Meta().Get("Retry-After") != "30" {
		t.Fatalf("connect error = %v meta=%v", ce, ce.Meta())
	}
	back := From(ce)
	if back.Reason != "MEDIA_RATE_LIMIT" || back.RetryAfter != 30*time.Second || back.Msg != orig.Msg {
		t.Fatalf("round trip lost data: %+v", back)
	}
	rec := httptest.NewRecorder()
	WriteLegacy(rec, ce)
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "30" || !strings.Contains(rec.Body.String(), `"code":"MEDIA_RATE_LIMIT"`) {
		t.Fatalf("legacy render: %d %s", rec.Code, rec.Body)
	}

	mod := BadRequest("Content contains objectionable language").WithReason("moderation_blocked")
	status, body := Legacy(From(ToConnect(mod)))
	if status != http.StatusBadRequest || body.Code != "BAD_REQUEST" || body.Reason != "moderation_blocked" {
		t.Fatalf("moderation: %d %+v", status, body)
	}
}

func TestInternalNeverLeaks(t *testing.T) {
	ce := ToConnect(errors.New("ERROR: relation \"users\" does not exist (SQLSTATE 42P01)"))
	if ce.Code() != connect.CodeInternal || strings.Contains(ce.Message(), "relation") {
		t.Fatalf("leaked: %v", ce)
	}
	// An upstream internal error with a detailed message is scrubbed too.
	up := connect.NewError(connect.CodeInternal, errors.New("panic: runtime error at foo.go:12"))
	if From(up).Msg != "Internal server error" {
		t.Fatalf("upstream internal leaked: %q", From(up).Msg)
	}
}

func TestReasonHeader(t *testing.T) {
	ce := ToConnect(NotFound("Post not found"))
	if ce.Meta().Get(ReasonHeader) != "NOT_FOUND" {
		t.Fatalf("reason header: %v", ce.Meta())
	}
}

type sqlStateErr string

func (e sqlStateErr) Error() string    { return "pg: " + string(e) }
func (e sqlStateErr) SQLState() string { return string(e) }

func TestTransientDependencyFailuresAreUnavailable(t *testing.T) {
	for _, c := range []string{"53300", "08006", "57P01"} {
		if e := Internal(fmt.Errorf("query: %w", sqlStateErr(c))); e.Code != connect.CodeUnavailable {
			t.Errorf("SQLSTATE %s: %v", c, e.Code)
		}
	}
	if e := Internal(sqlStateErr("23505")); e.Code != connect.CodeInternal {
		t.Errorf("a constraint violation is a bug, not a retry: %v", e.Code)
	}
	if e := From(&net.OpError{Op: "dial", Err: errors.New("connection refused")}); e.Code != connect.CodeUnavailable {
		t.Errorf("refused connection: %v", e.Code)
	}
}
