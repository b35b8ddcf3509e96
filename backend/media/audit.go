package media

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	mediav1 "github.com/infliq/infliq/backend/gen/infliq/media/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/httpx"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/job"
)

func tooLarge() *apperr.Error {
	return apperr.New(connect.CodeResourceExhausted, "File too large").WithReason("PAYLOAD_TOO_LARGE")
}

// rpcClientIP is the client address of an RPC: the gateway's decision,
// else the peer.
func rpcClientIP(req connect.AnyRequest) string {
	return httpx.ServiceClientIP(&http.Request{Header: req.Header(), RemoteAddr: req.Peer().Addr})
}

func mismatch() *apperr.Error {
	return apperr.BadRequest("File content does not match declared MIME type")
}

// checkRate applies the per-user upload limit.
func (s *Service) checkRate(ctx context.Context, uid id.ID) error {
	ok, reset, err := s.limiter.allow(ctx, uid.String(), s.now())
	if err != nil {
		return apperr.Unavailable(err, "Rate limiter unavailable")
	}
	if !ok {
		return apperr.RateLimited("Upload rate limit exceeded. Please try again later.", reset).WithReason("MEDIA_RATE_LIMIT")
	}
	return nil
}

// newAudit starts an audit entry for a request from ip.
func (s *Service) newAudit(ip string, p authn.Principal, route, action string) *auditEntry {
	e := &auditEntry{Route: route, Action: action, IP: ip}
	if !p.UserID.IsZero() {
		e.UserID = p.UserID.String()
	}
	return e
}

// audit records e with status. It never fails the request: the attempt has
// already happened, and losing one audit row beats failing the upload.
func (s *Service) audit(ctx context.Context, e *auditEntry, status, msg string) {
	if !s.cfg.AuditEnabled {
		return
	}
	e.Status, e.Error = status, msg
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.db.insertAudit(ctx, *e, time.Duration(s.cfg.AuditRetentionDays)*24*time.Hour); err != nil {
		s.log.WarnContext(ctx, "media audit write failed", "err", err)
	}
}

// reject audits a refused attempt and returns err.
func (s *Service) reject(ctx context.Context, e *auditEntry, err error) error {
	s.audit(ctx, e, "rejected", apperr.From(err).Msg)
	return err
}

// fail audits an internal failure (without its cause: that goes to the log)
// and returns the client-safe error.
func (s *Service) fail(ctx context.Context, e *auditEntry, cause error) error {
	s.audit(ctx, e, "error", "Upload failed")
	return apperr.Internal(cause)
}

func auditProto(e auditEntry) *mediav1.AuditLog {
	l := &mediav1.AuditLog{
		Id: e.ID.String(), UserId: e.UserID, Ip: MaskIP(e.IP), Route: e.Route, Action: e.Action,
		MimeType: e.MimeType, SizeBytes: e.Size, Folder: e.Folder, Key: e.Key, Error: e.Error,
		CreatedAt: timestamppb.New(e.CreatedAt),
	}
	for k, v := range auditStatusNames {
		if v == e.Status {
			l.Status = k
		}
	}
	if e.Metadata != nil {
		b, _ := json.Marshal(e.Metadata)
		l.MetadataJson = string(b)
	}
	return l
}

// RunRetention deletes expired audit rows every interval until ctx ends.
func (s *Service) RunRetention(ctx context.Context, interval time.Duration) {
	s.sweepAudit(ctx)
	job.Every(ctx, interval, s.sweepAudit)
}

func (s *Service) sweepAudit(ctx context.Context) {
	n, err := s.db.deleteExpiredAudit(ctx, s.now())
	if err != nil {
		if ctx.Err() == nil {
			s.log.WarnContext(ctx, "media audit retention failed", "err", err)
		}
		return
	}
	if n > 0 {
		s.log.InfoContext(ctx, "media audit retention", "deleted", n)
	}
}
