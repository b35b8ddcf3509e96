package media

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/infliq/infliq/backend/platform/id"
)

// object is a row of media_objects.
type object struct {
	Key, Folder, ContentType string
	Owner                    id.ID
	Size                     int64
	DisplayKey, ThumbnailKey string
	CreatedAt                time.Time
}

// store is the media service's SQL: media_objects and media_audit_logs.
type store struct{ db *pgxpool.Pool }

func (s *store) insertObject(ctx context.Context, o object) error {
	_, err := s.db.Exec(ctx, `
		INSERT INTO media_objects (key, owner_id, folder, content_type, size_bytes, display_key, thumbnail_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (key) DO UPDATE SET content_type = EXCLUDED.content_type, size_bytes = EXCLUDED.size_bytes,
			display_key = EXCLUDED.display_key, thumbnail_key = EXCLUDED.thumbnail_key`,
		o.Key, o.Owner, o.Folder, o.ContentType, o.Size, o.DisplayKey, o.ThumbnailKey)
	return err
}

// objectByKey returns the row for key; found is false when absent.
func (s *store) objectByKey(ctx context.Context, key string) (object, bool, error) {
	var o object
	err := s.db.QueryRow(ctx, `
		SELECT key, owner_id, folder, content_type, size_bytes, display_key, thumbnail_key, created_at
		FROM media_objects WHERE key = $1`, key).
		Scan(&o.Key, &o.Owner, &o.Folder, &o.ContentType, &o.Size, &o.DisplayKey, &o.ThumbnailKey, &o.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return o, false, nil
	}
	return o, err == nil, err
}

// knownKey reports whether key is an object or a rendition we recorded.
func (s *store) knownKey(ctx context.Context, key string) (bool, error) {
	var ok bool
	err := s.db.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM media_objects WHERE key = $1 OR display_key = $1 OR thumbnail_key = $1)`, key).Scan(&ok)
	return ok, err
}

// deleteObject removes the row of key owned by owner and returns it.
func (s *store) deleteObject(ctx context.Context, key string, owner id.ID) (object, bool, error) {
	var o object
	err := s.db.QueryRow(ctx, `
		DELETE FROM media_objects WHERE key = $1 AND owner_id = $2
		RETURNING key, owner_id, folder, content_type, size_bytes, display_key, thumbnail_key, created_at`, key, owner).
		Scan(&o.Key, &o.Owner, &o.Folder, &o.ContentType, &o.Size, &o.DisplayKey, &o.ThumbnailKey, &o.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return o, false, nil
	}
	return o, err == nil, err
}

// listCursor is the keyset position after the last row of a page.
type listCursor struct {
	T int64  `json:"t"` // created_at, Unix microseconds (PostgreSQL precision)
	K string `json:"k"`
}

func encodeCursor(c listCursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (listCursor, bool) {
	var c listCursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil || c.K == "" {
		return c, false
	}
	return c, true
}

// listObjects pages owner's objects newest first; folder "" means all.
func (s *store) listObjects(ctx context.Context, owner id.ID, folder string, after *listCursor, limit int) ([]object, error) {
	var (
		t *time.Time
		k *string
	)
	if after != nil {
		at := time.UnixMicro(after.T)
		t, k = &at, &after.K
	}
	rows, err := s.db.Query(ctx, `
		SELECT key, owner_id, folder, content_type, size_bytes, display_key, thumbnail_key, created_at
		FROM media_objects
		WHERE owner_id = $1 AND ($2 = '' OR folder = $2)
		  AND ($3::timestamptz IS NULL OR (created_at, key) < ($3, $4))
		ORDER BY created_at DESC, key DESC
		LIMIT $5`, owner, folder, t, k, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (object, error) {
		var o object
		err := row.Scan(&o.Key, &o.Owner, &o.Folder, &o.ContentType, &o.Size, &o.DisplayKey, &o.ThumbnailKey, &o.CreatedAt)
		return o, err
	})
}

// auditEntry is one upload attempt.
type auditEntry struct {
	ID        id.ID
	UserID    string
	IP        string
	Route     string
	Action    string
	Status    string // success | rejected | error
	MimeType  string
	Size      int64
	Folder    string
	Key       string
	Error     string
	Metadata  map[string]any
	CreatedAt time.Time
}

func (s *store) insertAudit(ctx context.Context, e auditEntry, retention time.Duration) error {
	var meta []byte
	if e.Metadata != nil {
		meta, _ = json.Marshal(e.Metadata)
	}
	_, err := s.db.Exec(ctx, `
		INSERT INTO media_audit_logs (id, user_id, ip, route, action, status, mime_type, size_bytes, folder, key, error, metadata, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULLIF($10, ''), NULLIF($11, ''), $12, now() + $13 * interval '1 second')`,
		id.New(), e.UserID, e.IP, e.Route, e.Action, e.Status, e.MimeType, e.Size, e.Folder, e.Key, e.Error, meta,
		int64(retention/time.Second))
	return err
}

// auditFilter are the typed filters of ListAuditLogs.
type auditFilter struct {
	Status, Action, UserID string
	From, To               *time.Time
}

func (s *store) listAudit(ctx context.Context, f auditFilter, offset, limit int) ([]auditEntry, int64, error) {
	const where = `
		WHERE ($1 = '' OR status = $1) AND ($2 = '' OR action = $2) AND ($3 = '' OR user_id = $3)
		  AND ($4::timestamptz IS NULL OR created_at >= $4) AND ($5::timestamptz IS NULL OR created_at <= $5)`
	var total int64
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM media_audit_logs`+where, f.Status, f.Action, f.UserID, f.From, f.To).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.db.Query(ctx, `
		SELECT id, user_id, ip, route, action, status, mime_type, size_bytes, folder,
		       coalesce(key, ''), coalesce(error, ''), metadata, created_at
		FROM media_audit_logs`+where+`
		ORDER BY created_at DESC, id DESC OFFSET $6 LIMIT $7`, f.Status, f.Action, f.UserID, f.From, f.To, offset, limit)
	if err != nil {
		return nil, 0, err
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (auditEntry, error) {
		var e auditEntry
		var meta []byte
		err := row.Scan(&e.ID, &e.UserID, &e.IP, &e.Route, &e.Action, &e.Status, &e.MimeType, &e.Size, &e.Folder, &e.Key, &e.Error, &meta, &e.CreatedAt)
		if len(meta) > 0 {
			_ = json.Unmarshal(meta, &e.Metadata)
		}
		return e, err
	})
	return out, total, err
}

// deleteExpiredAudit deletes audit rows past their retention, in batches so
// a large backlog never holds one long transaction.
func (s *store) deleteExpiredAudit(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	for {
		tag, err := s.db.Exec(ctx, `
			DELETE FROM media_audit_logs WHERE id IN (
				SELECT id FROM media_audit_logs WHERE expires_at <= $1 LIMIT 5000)`, now)
		if err != nil {
			return total, err
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < 5000 {
			return total, nil
		}
	}
}

// MaskIP renders an address the way the legacy audit read did: a.b.x.x for
// IPv4, the first two groups + ::xxxx for IPv6. Unparseable input is hidden.
func MaskIP(s string) string {
	if s == "" {
		return ""
	}
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return "x.x.x.x"
	}
	a = a.Unmap()
	if a.Is4() {
		b := a.As4()
		return strconv.Itoa(int(b[0])) + "." + strconv.Itoa(int(b[1])) + ".x.x"
	}
	groups := strings.Split(a.StringExpanded(), ":")
	return hexGroup(groups[0]) + ":" + hexGroup(groups[1]) + "::xxxx"
}

func hexGroup(g string) string {
	if g = strings.TrimLeft(g, "0"); g == "" {
		return "0"
	}
	return g
}
