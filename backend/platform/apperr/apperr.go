// Package apperr is the single error type of the backend. An Error carries a
// Connect code and a client-safe message next to the wrapped cause; the cause
// is logged, never sent. The same Error renders as a Connect error on the RPC
// edge and as the legacy {error, code, details?} body on the compat edge.
package apperr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Domain is the ErrorInfo domain of every error this backend raises.
const Domain = "infliq"

// ReasonHeader carries the machine-readable reason of an error.
const ReasonHeader = "Infliq-Error-Reason"

// Error is a client-safe error with a Connect code.
type Error struct {
	Code connect.Code
	// Msg is shown to clients verbatim.
	Msg string
	// Reason is a machine-readable legacy code (e.g. "MEDIA_RATE_LIMIT",
	// "moderation_blocked"); empty means the default for Code.
	Reason string
	// RetryAfter, when set, tells rate-limited clients when to come back.
	RetryAfter time.Duration
	// Violations, for InvalidArgument, name the offending fields
	// (protovalidate's detail); clients fill per-field form errors from it.
	Violations *validatepb.Violations
	// Cause is logged but never shown.
	Cause error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Msg, e.Cause)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Msg)
}

func (e *Error) Unwrap() error { return e.Cause }

// New returns an Error with a client-safe message.
func New(code connect.Code, msg string) *Error { return &Error{Code: code, Msg: msg} }

// Wrap returns an Error that keeps cause for the logs.
func Wrap(cause error, code connect.Code, msg string) *Error {
	return &Error{Code: code, Msg: msg, Cause: cause}
}

// FieldViolation is an InvalidArgument error naming one request field
// (a dotted path such as "phone" or "page.cursor"); it carries the same
// buf.validate.Violations detail protovalidate attaches, so clients see one
// shape for every field error.
func FieldViolation(field, ruleID, msg string) *Error {
	var elems []*validatepb.FieldPathElement
	for _, name := range strings.Split(field, ".") {
		elems = append(elems, &validatepb.FieldPathElement{FieldName: &name})
	}
	return &Error{Code: connect.CodeInvalidArgument, Msg: msg, Violations: &validatepb.Violations{
		Violations: []*validatepb.Violation{{Field: &validatepb.FieldPath{Elements: elems}, RuleId: &ruleID, Message: &msg}},
	}}
}

// WithReason sets the machine-readable reason.
func (e *Error) WithReason(reason string) *Error { e.Reason = reason; return e }

func BadRequest(msg string) *Error   { return New(connect.CodeInvalidArgument, msg) }
func Unauthorized(msg string) *Error { return New(connect.CodeUnauthenticated, msg) }
func Forbidden(msg string) *Error    { return New(connect.CodePermissionDenied, msg) }
func NotFound(msg string) *Error     { return New(connect.CodeNotFound, msg) }
func Conflict(msg string) *Error     { return New(connect.CodeFailedPrecondition, msg) }
func Exists(msg string) *Error       { return New(connect.CodeAlreadyExists, msg) }

// RateLimited returns a ResourceExhausted error with a retry hint.
func RateLimited(msg string, retryAfter time.Duration) *Error {
	return &Error{Code: connect.CodeResourceExhausted, Msg: msg, RetryAfter: retryAfter}
}

// Unavailable marks a failed dependency (database, Redis, Twilio, S3).
func Unavailable(cause error, msg string) *Error {
	return &Error{Code: connect.CodeUnavailable, Msg: msg, Cause: cause}
}

// Internal hides cause behind a generic message. A cause that is a
// transient dependency failure (PostgreSQL out of connections or shutting
// down, a refused connection) becomes Unavailable instead: clients may retry
// it, and it is not a bug.
func Internal(cause error) *Error {
	if transient(cause) {
		return Unavailable(cause, "Service temporarily unavailable")
	}
	return &Error{Code: connect.CodeInternal, Msg: "Internal server error", Cause: cause}
}

// transient reports dependency failures worth a retry: SQLSTATE classes 08
// (connection exception), 53 (insufficient resources), 57P01-57P03 (server
// shutting down or starting), and network errors.
func transient(err error) bool {
	var st interface{ SQLState() string }
	if errors.As(err, &st) {
		c := st.SQLState()
		return strings.HasPrefix(c, "08") || strings.HasPrefix(c, "53") || c == "57P01" || c == "57P02" || c == "57P03"
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// leaky matches message text that is not meant for clients: Go type
// names, parser, driver and network errors.
var leaky = regexp.MustCompile(`\*?\b[a-z][a-z0-9_]*\.[A-Z][A-Za-z0-9_]*\b|unmarshal|proto:|SQLSTATE|pgx|pgconn|redis:|dial tcp|connection refused|i/o timeout|runtime error|goroutine|\.go:\d`)

// plainMessage is the client-safe message of a code whose text leaked.
func plainMessage(c connect.Code) string {
	switch c {
	case connect.CodeInvalidArgument:
		return "Invalid request"
	case connect.CodeUnavailable:
		return "Service unavailable"
	case connect.CodeDeadlineExceeded:
		return "Request timed out"
	case connect.CodeCanceled:
		return "Request canceled"
	case connect.CodeResourceExhausted:
		return "Request too large or too frequent"
	}
	return "Request failed"
}

// From classifies any error. Unknown errors become Internal; context errors
// keep their meaning.
func From(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		out := &Error{Code: ce.Code(), Msg: ce.Message(), Cause: err}
		for _, d := range ce.Details() {
			switch v := mustValue(d).(type) {
			case *errdetails.ErrorInfo:
				out.Reason = v.GetReason()
			case *errdetails.RetryInfo:
				out.RetryAfter = v.GetRetryDelay().AsDuration()
			case *validatepb.Violations:
				out.Violations = v
			}
		}
		if out.Code == connect.CodeInternal || out.Code == connect.CodeUnknown {
			out.Msg = "Internal server error"
		} else if leaky.MatchString(out.Msg) {
			// A client-side failure of a call to a sibling (dial errors,
			// decoding) carries Go and network text: say only what happened.
			out.Msg = plainMessage(out.Code)
		}
		return out
	}
	switch {
	case errors.Is(err, context.Canceled):
		return &Error{Code: connect.CodeCanceled, Msg: "Request canceled", Cause: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: connect.CodeDeadlineExceeded, Msg: "Request timed out", Cause: err}
	}
	return Internal(err)
}

func mustValue(d *connect.ErrorDetail) any {
	v, err := d.Value()
	if err != nil {
		return nil
	}
	return v
}

// ToConnect renders err for the RPC edge: code, safe message, ErrorInfo with
// the reason and RetryInfo for rate limits. Causes never leave the server.
func ToConnect(err error) *connect.Error {
	e := From(err)
	if e == nil {
		return nil
	}
	ce := connect.NewError(e.Code, errors.New(e.Msg))
	reason := e.Reason
	if reason == "" {
		reason = LegacyCode(e.Code)
	}
	if d, derr := connect.NewErrorDetail(&errdetails.ErrorInfo{Reason: reason, Domain: Domain}); derr == nil {
		ce.AddDetail(d)
	}
	if e.Violations != nil {
		if d, derr := connect.NewErrorDetail(e.Violations); derr == nil {
			ce.AddDetail(d)
		}
	}
	// Also as metadata, so clients without the google.rpc types (the TS SDK)
	// can branch on it.
	ce.Meta().Set(ReasonHeader, reason)
	if e.RetryAfter > 0 {
		if d, derr := connect.NewErrorDetail(&errdetails.RetryInfo{RetryDelay: durationpb.New(e.RetryAfter)}); derr == nil {
			ce.AddDetail(d)
		}
		ce.Meta().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	return ce
}

// LegacyCode is the legacy `code` string for a Connect code.
func LegacyCode(c connect.Code) string {
	switch c {
	case connect.CodeInvalidArgument, connect.CodeOutOfRange:
		return "BAD_REQUEST"
	case connect.CodeUnauthenticated:
		return "UNAUTHORIZED"
	case connect.CodePermissionDenied:
		return "FORBIDDEN"
	case connect.CodeNotFound, connect.CodeUnimplemented:
		return "NOT_FOUND"
	case connect.CodeResourceExhausted:
		return "RATE_LIMITED"
	case connect.CodeFailedPrecondition, connect.CodeAlreadyExists, connect.CodeAborted:
		return "CONFLICT"
	case connect.CodeUnavailable:
		return "DEPENDENCY_UNAVAILABLE"
	case connect.CodeDeadlineExceeded:
		return "TIMEOUT"
	case connect.CodeCanceled:
		return "CANCELED"
	default:
		return "INTERNAL_ERROR"
	}
}

// HTTPStatus is the legacy HTTP status for a Connect code.
func HTTPStatus(c connect.Code) int {
	switch c {
	case connect.CodeInvalidArgument, connect.CodeOutOfRange:
		return http.StatusBadRequest
	case connect.CodeUnauthenticated:
		return http.StatusUnauthorized
	case connect.CodePermissionDenied:
		return http.StatusForbidden
	case connect.CodeNotFound, connect.CodeUnimplemented:
		return http.StatusNotFound
	case connect.CodeResourceExhausted:
		return http.StatusTooManyRequests
	case connect.CodeFailedPrecondition, connect.CodeAlreadyExists, connect.CodeAborted:
		return http.StatusConflict
	case connect.CodeUnavailable:
		return http.StatusServiceUnavailable
	case connect.CodeDeadlineExceeded:
		return http.StatusGatewayTimeout
	case connect.CodeCanceled:
		return 499
	default:
		return http.StatusInternalServerError
	}
}
