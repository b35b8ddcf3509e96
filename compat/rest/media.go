package rest

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	mediav1 "github.com/infliq/infliq/backend/gen/infliq/media/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/authn"
)

// registerMedia adds the legacy /api/media/* routes served through
// MediaService. The streamed uploads and /api/media/proxy/ are routed by the
// gateway straight to the media tier.
func (rt *Router) registerMedia() {
	rt.authed("DELETE /api/media/{key...}", rt.mediaDelete)
	rt.authed("GET /api/media/signed-url/{key...}", rt.mediaSignedURL)
	rt.authed("GET /api/media/list", rt.mediaList)
	rt.authed("GET /api/media/audit-logs", rt.mediaAuditLogs)
	rt.authed("GET /api/admin/media/audit-logs", rt.mediaAuditLogs)
}

func (rt *Router) mediaDelete(w http.ResponseWriter, r *http.Request, _ authn.Principal) {
	_, err := rt.d.Clients.Media.DeleteMedia(r.Context(), Forward(r, connect.NewRequest(&mediav1.DeleteMediaRequest{Key: r.PathValue("key")})))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "message": "File deleted successfully"})
}

func (rt *Router) mediaSignedURL(w http.ResponseWriter, r *http.Request, _ authn.Principal) {
	var exp int32
	if v := r.URL.Query().Get("expires"); v != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		if err != nil || n < 0 {
			// Legacy parseInt gave NaN and a broken URL (B22).
			writeError(w, apperr.BadRequest("expires must be a non-negative number of seconds"))
			return
		}
		exp = int32(n)
		if exp == 0 {
			exp = 1 // an explicit 0 means "as short as allowed", not the default
		}
	}
	res, err := rt.d.Clients.Media.GetSignedUrl(r.Context(), Forward(r, connect.NewRequest(&mediav1.GetSignedUrlRequest{Key: r.PathValue("key"), ExpiresSeconds: exp})))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "url": res.Msg.GetUrl()})
}

// maxLegacyListFiles bounds GET /api/media/list (legacy: one S3 listing of
// up to 1000 keys per folder).
const maxLegacyListFiles = 1000

// mediaList returns the caller's newest objects, paging the RPC internally.
func (rt *Router) mediaList(w http.ResponseWriter, r *http.Request, _ authn.Principal) {
	folder := r.URL.Query().Get("folder")
	files := []map[string]any{}
	cursor := ""
	for len(files) < maxLegacyListFiles {
		res, err := rt.d.Clients.Media.ListMedia(r.Context(), Forward(r, connect.NewRequest(&mediav1.ListMediaRequest{Folder: folder, Page: &commonv1.PageRequest{Limit: 100, Cursor: cursor}})))
		if err != nil {
			writeError(w, err)
			return
		}
		for _, o := range res.Msg.GetObjects() {
			files = append(files, map[string]any{
				"key": o.GetKey(), "size": o.GetSizeBytes(), "lastModified": o.GetCreatedAt().AsTime().UTC().Format(time.RFC3339Nano),
				"url": o.GetUrl(), "contentType": o.GetContentType(),
			})
		}
		if cursor = res.Msg.GetPage().GetNextCursor(); cursor == "" {
			break
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "files": files})
}

var auditStatuses = map[string]mediav1.AuditStatus{
	"success":  mediav1.AuditStatus_AUDIT_STATUS_SUCCESS,
	"rejected": mediav1.AuditStatus_AUDIT_STATUS_REJECTED,
	"error":    mediav1.AuditStatus_AUDIT_STATUS_ERROR,
}

// mediaAuditLogs parses the query into typed filters; a query-string object
// (status[$ne]=x) or a bad date is a 400, never an operator (S19).
func (rt *Router) mediaAuditLogs(w http.ResponseWriter, r *http.Request, _ authn.Principal) {
	q := r.URL.Query()
	for k := range q {
		if strings.ContainsAny(k, "[]$") {
			writeError(w, apperr.BadRequest("Invalid query parameter "+strconv.Quote(k)))
			return
		}
	}
	req := &mediav1.ListAuditLogsRequest{Action: q.Get("action"), UserId: q.Get("userId")}
	for _, f := range []struct {
		name string
		dst  *int32
	}{{"page", &req.Page}, {"limit", &req.Limit}} {
		if v := q.Get(f.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil || n < 1 {
				writeError(w, apperr.BadRequest(f.name+" must be a positive integer"))
				return
			}
			*f.dst = int32(n)
		}
	}
	if v := q.Get("status"); v != "" {
		st, ok := auditStatuses[v]
		if !ok {
			writeError(w, apperr.BadRequest("status must be success, rejected or error"))
			return
		}
		req.Status = st
	}
	for _, f := range []struct {
		name string
		dst  **timestamppb.Timestamp
	}{{"from", &req.From}, {"to", &req.To}} {
		if v := q.Get(f.name); v != "" {
			t, ok := parseLegacyTime(v)
			if !ok {
				writeError(w, apperr.BadRequest(f.name+" must be a date"))
				return
			}
			*f.dst = timestamppb.New(t)
		}
	}
	res, err := rt.d.Clients.Media.ListAuditLogs(r.Context(), Forward(r, connect.NewRequest(req)))
	if err != nil {
		writeError(w, err)
		return
	}
	logs := make([]map[string]any, 0, len(res.Msg.GetLogs()))
	for _, l := range res.Msg.GetLogs() {
		logs = append(logs, map[string]any{
			"id": l.GetId(), "_id": l.GetId(), "userId": l.GetUserId(), "ip": l.GetIp(), "route": l.GetRoute(),
			"action": l.GetAction(), "status": strings.ToLower(strings.TrimPrefix(l.GetStatus().String(), "AUDIT_STATUS_")),
			"mimeType": l.GetMimeType(), "size": l.GetSizeBytes(), "folder": l.GetFolder(),
			"key": nullable(l.GetKey()), "error": nullable(l.GetError()), "metadata": rawJSON(l.GetMetadataJson()),
			"createdAt": l.GetCreatedAt().AsTime().UTC().Format(time.RFC3339Nano),
		})
	}
	m := res.Msg
	writeJSON(w, http.StatusOK, map[string]any{
		"success": true, "page": m.GetPage(), "limit": m.GetLimit(), "total": m.GetTotal(), "hasMore": m.GetHasMore(), "logs": logs,
	})
}

// parseLegacyTime accepts what `new Date(x)` commonly got: RFC 3339, a
// date, or epoch milliseconds.
func parseLegacyTime(v string) (time.Time, bool) {
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.UnixMilli(ms), true
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

type rawJSON string

func (r rawJSON) MarshalJSON() ([]byte, error) {
	if r == "" {
		return []byte("null"), nil
	}
	return []byte(r), nil
}
