package media

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	mediav1 "github.com/infliq/infliq/backend/gen/infliq/media/v1"
	"github.com/infliq/infliq/backend/gen/infliq/media/v1/mediav1connect"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/mediaurl"
	"github.com/infliq/infliq/backend/platform/tier"
)

// ContentTypes are the types accepted, sniffed from the bytes.
var ContentTypes = []string{
	"image/jpeg", "image/png", "image/gif", "image/webp", "image/heic", "image/heif",
	"video/mp4", "video/quicktime", "video/x-msvideo",
}

// ProxyPath is the gateway route that redirects to a fresh signed URL.
const ProxyPath = mediaurl.ProxyPath

// uploadTTL is how long a presigned POST stays usable.
const uploadTTL = 15 * time.Minute

// Service implements mediav1connect.MediaServiceHandler and the legacy
// non-RPC routes.
type Service struct {
	cfg      config.Media
	policy   *mediav1.GetUploadPolicyResponse
	st       *Storage
	db       *store
	urls     *mediaurl.Resolver
	limiter  *uploadLimiter
	log      *slog.Logger
	verifier *authn.Verifier
	decoders chan struct{}
	ffmpeg   string
	now      func() time.Time
	// minRateWindow: see minRateBody.
	minRateWindow time.Duration
}

// Deps are the media tier's explicit dependencies.
type Deps struct {
	Media   config.Media
	S3      config.S3
	Storage *Storage
	DB      *pgxpool.Pool
	Redis   redis.UniversalClient
	// FFmpeg overrides the ffmpeg lookup ("-" disables thumbnails).
	FFmpeg string
}

// New builds the service.
func New(d tier.Deps, m Deps) *Service {
	ff := m.FFmpeg
	if ff == "" {
		ff, _ = exec.LookPath("ffmpeg")
	} else if ff == "-" {
		ff = ""
	}
	return &Service{
		cfg: m.Media,
		policy: &mediav1.GetUploadPolicyResponse{
			AllowedFolders:      append([]string(nil), m.Media.AllowedFolders...),
			AllowedContentTypes: ContentTypes,
			MaxFileSizeBytes:    m.Media.MaxFileSize,
			MaxFilesPerUpload:   int32(m.Media.MaxMultipleFiles),
		},
		st: m.Storage, db: &store{db: m.DB}, urls: mediaurl.New(m.S3),
		limiter:  &uploadLimiter{rdb: m.Redis, prefix: m.Media.RateLimitPrefix, window: m.Media.UploadWindow.D(), max: int64(m.Media.UploadMaxInWindow)},
		log:      d.Log,
		verifier: d.Verifier,
		decoders: make(chan struct{}, 2),
		ffmpeg:   ff,
		now:      time.Now,

		minRateWindow: minRateWindow,
	}
}

// RetentionInterval is how often expired audit rows are deleted.
const RetentionInterval = time.Hour

// NewTier assembles the media tier. The audit retention job runs until ctx
// ends (process shutdown).
func NewTier(ctx context.Context, d tier.Deps, m Deps) *tier.Tier {
	t := tier.New("media", d)
	s := New(d, m)
	if m.S3.PublicBaseURL == "" && m.S3.CloudFrontDomain == "" {
		d.Log.Warn("media URLs will be gateway-relative; set PUBLIC_BASE_URL (or CLOUDFRONT_DOMAIN) so the app gets absolute URLs")
	}
	// Also when auditing is off: rows written before still expire.
	go s.RunRetention(ctx, RetentionInterval)
	path, h := mediav1connect.NewMediaServiceHandler(s, t.ConnectOptions()...)
	t.Mount(path, h, mediav1connect.MediaServiceName, mediav1connect.MediaServiceGetUploadPolicyProcedure)
	t.Handle("/api/media/upload", s.uploadHandler(false))
	t.Handle("/api/media/upload-multiple", s.uploadHandler(true))
	t.Handle("/api/media/proxy/", http.HandlerFunc(s.serveProxy))
	// The monoliths' static /uploads/<file> URLs (M1 embedded them whole).
	t.Handle("/uploads/", http.HandlerFunc(s.serveUploads))
	t.Check("s3", m.Storage.Ping)
	return t
}

// GetUploadPolicy returns what an upload may contain.
func (s *Service) GetUploadPolicy(context.Context, *connect.Request[mediav1.GetUploadPolicyRequest]) (*connect.Response[mediav1.GetUploadPolicyResponse], error) {
	return connect.NewResponse(s.policy), nil
}

func caller(ctx context.Context) authn.Principal {
	p, _ := authn.FromContext(ctx)
	return p
}

// CreateUpload signs a presigned POST for one file.
func (s *Service) CreateUpload(ctx context.Context, req *connect.Request[mediav1.CreateUploadRequest]) (*connect.Response[mediav1.CreateUploadResponse], error) {
	p := caller(ctx)
	m := req.Msg
	a := s.newAudit(rpcClientIP(req), p, "/"+mediav1connect.MediaServiceName+"/CreateUpload", "create-upload")
	a.MimeType, a.Size = m.GetContentType(), m.GetSizeBytes()
	folder, err := cleanFolder(m.GetFolder(), s.cfg.AllowedFolders)
	if err != nil {
		return nil, s.reject(ctx, a, err)
	}
	a.Folder = folder
	ct := NormalizeDeclared(m.GetContentType())
	if ct == "" {
		return nil, s.reject(ctx, a, apperr.BadRequest("Unsupported file MIME type"))
	}
	if m.GetSizeBytes() > s.cfg.MaxFileSize {
		return nil, s.reject(ctx, a, tooLarge())
	}
	if err := s.checkRate(ctx, p.UserID); err != nil {
		return nil, s.reject(ctx, a, err)
	}
	k, _ := KindOf(ct)
	key := newKey(folder, p.UserID, k.Ext)
	pp, err := s.st.PresignPost(ctx, PostPolicyInput{
		Key: key, ContentType: ct, MinSize: m.GetSizeBytes(), MaxSize: m.GetSizeBytes(), TTL: uploadTTL, DeclaredSize: m.GetSizeBytes(),
	}, s.now())
	if err != nil {
		return nil, s.fail(ctx, a, err)
	}
	a.Key = key
	s.audit(ctx, a, "success", "")
	return connect.NewResponse(&mediav1.CreateUploadResponse{
		Url: pp.URL, Fields: pp.Fields, Key: key, ExpiresAt: timestamppb.New(pp.Expires), MaxSizeBytes: m.GetSizeBytes(),
	}), nil
}

// CompleteUpload verifies and records an object uploaded with CreateUpload.
func (s *Service) CompleteUpload(ctx context.Context, req *connect.Request[mediav1.CompleteUploadRequest]) (*connect.Response[mediav1.CompleteUploadResponse], error) {
	p := caller(ctx)
	key := cleanKey(req.Msg.GetKey())
	a := s.newAudit(rpcClientIP(req), p, "/"+mediav1connect.MediaServiceName+"/CompleteUpload", "complete-upload")
	a.Key = key
	if !ownedBy(key, p.UserID, s.cfg.AllowedFolders) {
		return nil, s.reject(ctx, a, apperr.NotFound("Upload not found"))
	}
	a.Folder, _, _ = strings.Cut(key, "/")
	info, found, err := s.st.Stat(ctx, key)
	if err != nil {
		return nil, s.fail(ctx, a, err)
	}
	if !found {
		return nil, s.reject(ctx, a, apperr.NotFound("Upload not found"))
	}
	size, declared := info.Size, info.ContentType
	a.Size, a.MimeType = size, declared
	if info.DeclaredSize > 0 && size != info.DeclaredSize {
		// A truncated or padded upload: the policy pinned the exact size
		// (S3 enforces it; stores that do not are caught here).
		_ = s.st.Delete(ctx, key)
		return nil, s.reject(ctx, a, apperr.BadRequest("Uploaded file size does not match the declared size"))
	}
	if size > s.cfg.MaxFileSize || size == 0 {
		_ = s.st.Delete(ctx, key)
		return nil, s.reject(ctx, a, tooLarge())
	}
	head, err := s.st.ReadPrefix(ctx, key, SniffLen)
	if err != nil {
		return nil, s.fail(ctx, a, err)
	}
	k, ok := Sniff(head)
	// The policy pinned the declared type and the key's extension came from
	// it, so the bytes must be exactly that type.
	if !ok || k.ContentType != NormalizeDeclared(declared) || !strings.HasSuffix(key, "."+k.Ext) {
		_ = s.st.Delete(ctx, key)
		return nil, s.reject(ctx, a, mismatch())
	}
	if k.ContentType == "image/jpeg" || k.ContentType == "image/png" {
		if size, err = s.restrip(ctx, k, key, size); err != nil {
			_ = s.st.Delete(ctx, key)
			if errors.Is(err, errBadImage) {
				return nil, s.reject(ctx, a, mismatch())
			}
			return nil, s.fail(ctx, a, err)
		}
	}
	if size, err = s.scrubStored(ctx, k, key, size); err != nil {
		_ = s.st.Delete(ctx, key)
		if errors.Is(err, errBadImage) {
			return nil, s.reject(ctx, a, mismatch())
		}
		return nil, s.fail(ctx, a, err)
	}
	o, err := s.finish(ctx, p.UserID, k, key, a.Folder, size)
	if err != nil {
		_ = s.st.Delete(ctx, key)
		if errors.Is(err, errBadImage) {
			return nil, s.reject(ctx, a, mismatch())
		}
		return nil, s.fail(ctx, a, err)
	}
	s.audit(ctx, a, "success", "")
	return connect.NewResponse(&mediav1.CompleteUploadResponse{Object: s.toProto(o)}), nil
}

// restrip rewrites a directly uploaded JPEG/PNG without its metadata.
func (s *Service) restrip(ctx context.Context, k Kind, key string, size int64) (int64, error) {
	body, err := s.st.Open(ctx, key)
	if err != nil {
		return 0, err
	}
	defer body.Close()
	stripped := stripMetadata(k, body)
	defer stripped.Close()
	return s.st.Upload(ctx, key, k.ContentType, stripped, size)
}

// finish produces renditions and records the object.
func (s *Service) finish(ctx context.Context, owner id.ID, k Kind, key, folder string, size int64) (object, error) {
	o := object{Key: key, Owner: owner, Folder: folder, ContentType: k.ContentType, Size: size, CreatedAt: s.now()}
	var err error
	if k.IsImage() {
		if o.DisplayKey, err = s.makeDisplay(ctx, k, key, size); err != nil {
			return o, err
		}
	} else if o.ThumbnailKey, err = s.makeThumbnail(ctx, key); err != nil {
		s.log.WarnContext(ctx, "video thumbnail failed", "err", err)
		o.ThumbnailKey = ""
	}
	if err := s.db.insertObject(ctx, o); err != nil {
		_ = s.st.Delete(ctx, o.DisplayKey, o.ThumbnailKey)
		return o, err
	}
	return o, nil
}

func (s *Service) toProto(o object) *mediav1.MediaObject {
	m := &mediav1.MediaObject{
		Key: o.Key, Url: s.urls.KeyURL(o.Key), ContentType: o.ContentType, SizeBytes: o.Size,
		Folder: o.Folder, CreatedAt: timestamppb.New(o.CreatedAt), OwnerId: o.Owner.String(),
		DisplayUrl: s.urls.KeyURL(o.DisplayKey), ThumbnailUrl: s.urls.KeyURL(o.ThumbnailKey),
	}
	return m
}

// signedTTL clamps a requested lifetime (0 = the maximum) to the config.
func (s *Service) signedTTL(sec int32) time.Duration {
	v := int(sec)
	if v == 0 {
		v = s.cfg.SignedURLMaxSeconds
	}
	v = min(max(v, s.cfg.SignedURLMinSeconds), s.cfg.SignedURLMaxSeconds)
	return time.Duration(v) * time.Second
}

// GetSignedUrl signs a GET for one of the caller's keys.
func (s *Service) GetSignedUrl(ctx context.Context, req *connect.Request[mediav1.GetSignedUrlRequest]) (*connect.Response[mediav1.GetSignedUrlResponse], error) {
	p := caller(ctx)
	key := cleanKey(req.Msg.GetKey())
	if !ownedBy(key, p.UserID, s.cfg.AllowedFolders) {
		return nil, apperr.Forbidden("Not authorized to access this file")
	}
	ttl := s.signedTTL(req.Msg.GetExpiresSeconds())
	u, err := s.st.PresignGet(ctx, key, ttl)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	return connect.NewResponse(&mediav1.GetSignedUrlResponse{Url: u, ExpiresAt: timestamppb.New(s.now().Add(ttl))}), nil
}

// ListMedia pages the caller's objects, newest first.
func (s *Service) ListMedia(ctx context.Context, req *connect.Request[mediav1.ListMediaRequest]) (*connect.Response[mediav1.ListMediaResponse], error) {
	p := caller(ctx)
	m := req.Msg
	folder := strings.ToLower(strings.TrimSpace(m.GetFolder()))
	if folder != "" && !slices.Contains(s.cfg.AllowedFolders, folder) {
		return nil, apperr.BadRequest("Invalid folder. Allowed: " + strings.Join(s.cfg.AllowedFolders, ", "))
	}
	var after *listCursor
	if cur := m.GetPage().GetCursor(); cur != "" {
		c, ok := decodeCursor(cur)
		if !ok {
			return nil, apperr.BadRequest("Invalid cursor")
		}
		after = &c
	}
	limit := int(m.GetPage().GetLimit())
	if limit == 0 {
		limit = 50
	}
	rows, err := s.db.listObjects(ctx, p.UserID, folder, after, limit+1)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	res := &mediav1.ListMediaResponse{Page: &commonv1.PageResponse{}}
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[len(rows)-1]
		res.Page.NextCursor = encodeCursor(listCursor{T: last.CreatedAt.UnixMicro(), K: last.Key})
	}
	for _, o := range rows {
		res.Objects = append(res.Objects, s.toProto(o))
	}
	return connect.NewResponse(res), nil
}

// DeleteMedia deletes one of the caller's objects and its renditions.
func (s *Service) DeleteMedia(ctx context.Context, req *connect.Request[mediav1.DeleteMediaRequest]) (*connect.Response[mediav1.DeleteMediaResponse], error) {
	p := caller(ctx)
	key := cleanKey(req.Msg.GetKey())
	if !ownedBy(key, p.UserID, s.cfg.AllowedFolders) {
		return nil, apperr.Forbidden("Not authorized to delete this file")
	}
	o, found, err := s.db.deleteObject(ctx, key, p.UserID)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	// Objects the legacy service wrote have no row; their key shape proves
	// ownership, as it did there.
	if err := s.st.Delete(ctx, key, o.DisplayKey, o.ThumbnailKey); err != nil {
		return nil, apperr.Internal(err)
	}
	return connect.NewResponse(&mediav1.DeleteMediaResponse{Deleted: found}), nil
}

// isAdmin: an admin role claim or MEDIA_ADMIN_USER_IDS.
func (s *Service) isAdmin(p authn.Principal) bool {
	return p.Admin || slices.Contains(s.cfg.AdminUserIDs, p.UserID.String())
}

var auditStatusNames = map[mediav1.AuditStatus]string{
	mediav1.AuditStatus_AUDIT_STATUS_SUCCESS:  "success",
	mediav1.AuditStatus_AUDIT_STATUS_REJECTED: "rejected",
	mediav1.AuditStatus_AUDIT_STATUS_ERROR:    "error",
}

// ListAuditLogs pages the audit log for admins, IPs masked.
func (s *Service) ListAuditLogs(ctx context.Context, req *connect.Request[mediav1.ListAuditLogsRequest]) (*connect.Response[mediav1.ListAuditLogsResponse], error) {
	p := caller(ctx)
	if !s.cfg.AuditEnabled {
		return nil, apperr.Forbidden("Media audit logging is disabled")
	}
	if !s.isAdmin(p) {
		return nil, apperr.Forbidden("Admin access required")
	}
	res, err := ReadAuditLogs(ctx, s.db.db, s.cfg.AuditReadMaxLimit, req.Msg)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(res), nil
}

// ReadAuditLogs pages the upload audit log (IPs masked) for ListAuditLogs
// and the admin tier's console, which reads media_audit_logs as a
// documented read model. The caller checked the caller's role.
func ReadAuditLogs(ctx context.Context, pool *pgxpool.Pool, maxLimit int, m *mediav1.ListAuditLogsRequest) (*mediav1.ListAuditLogsResponse, error) {
	if m == nil { // the admin tier's query field may be absent: no filter
		m = &mediav1.ListAuditLogsRequest{}
	}
	db := &store{db: pool}
	page, limit := max(int(m.GetPage()), 1), int(m.GetLimit())
	if limit == 0 {
		limit = 20
	}
	limit = min(limit, maxLimit)
	f := auditFilter{Status: auditStatusNames[m.GetStatus()], Action: m.GetAction(), UserID: m.GetUserId()}
	if m.From != nil {
		t := m.GetFrom().AsTime()
		f.From = &t
	}
	if m.To != nil {
		t := m.GetTo().AsTime()
		f.To = &t
	}
	if f.From != nil && f.To != nil && f.From.After(*f.To) {
		return nil, apperr.BadRequest("from must not be after to")
	}
	rows, total, err := db.listAudit(ctx, f, (page-1)*limit, limit)
	if err != nil {
		return nil, apperr.Unavailable(err, "Audit store unavailable")
	}
	res := &mediav1.ListAuditLogsResponse{Page: int32(page), Limit: int32(limit), Total: total, HasMore: int64(page*limit) < total}
	for _, e := range rows {
		res.Logs = append(res.Logs, auditProto(e))
	}
	return res, nil
}
