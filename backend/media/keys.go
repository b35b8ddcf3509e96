package media

import (
	"regexp"
	"slices"
	"strings"

	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/id"
)

// DefaultFolder is used when an upload names none.
const DefaultFolder = "general"

// folderError is the legacy MEDIA_INVALID_FOLDER rejection.
func folderError(allowed []string) *apperr.Error {
	return apperr.BadRequest("Invalid folder. Allowed: " + strings.Join(allowed, ", ")).WithReason("MEDIA_INVALID_FOLDER")
}

// cleanFolder validates a requested folder (trimmed, lower-cased).
func cleanFolder(f string, allowed []string) (string, error) {
	f = strings.ToLower(strings.TrimSpace(f))
	if f == "" {
		f = DefaultFolder
	}
	if !slices.Contains(allowed, f) {
		return "", folderError(allowed)
	}
	return f, nil
}

// newKey is the server-chosen key `<folder>/<userId>/<id>.<ext>`; the id is
// unique, so parallel uploads never overwrite each other (B20).
func newKey(folder string, owner id.ID, ext string) string {
	return folder + "/" + owner.String() + "/" + id.New().String() + "." + ext
}

// ownedBy reports whether key is under `<allowed folder>/<uid>/`.
func ownedBy(key string, uid id.ID, allowed []string) bool {
	folder, rest, ok := strings.Cut(key, "/")
	if !ok || !slices.Contains(allowed, folder) {
		return false
	}
	owner, name, ok := strings.Cut(rest, "/")
	return ok && owner == uid.String() && name != "" && safeKey(key)
}

// safeKey rejects keys with dot segments, empty segments, backslashes or
// control characters.
func safeKey(key string) bool {
	if key == "" || len(key) > 1024 || strings.ContainsAny(key, "\\\x00") {
		return false
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	for _, c := range key {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// legacyRootKey matches the monoliths' bucket-root keys `<epoch ms>-<name>`.
var legacyRootKey = regexp.MustCompile(`^[0-9]{13}-[A-Za-z0-9._-]{1,200}$`)

// ourKeyShape reports a key of a shape this service or the legacy backends
// wrote: `<folder>/<24 hex>/<file>` (MS and us) or a monolith root key.
func ourKeyShape(key string, allowed []string) bool {
	if !safeKey(key) {
		return false
	}
	if legacyRootKey.MatchString(key) {
		return true
	}
	parts := strings.Split(key, "/")
	return len(parts) == 3 && slices.Contains(allowed, parts[0]) && id.Valid(parts[1])
}

// cleanKey normalises a key from a URL path: leading slashes dropped.
func cleanKey(k string) string { return strings.TrimLeft(k, "/") }
