// Package mediaurl renders stored media values as client URLs. It is the
// one function every service uses for media fields (profile pictures, post
// and story media), and it has no S3 dependency so any tier can import it.
package mediaurl

import (
	"net/url"
	"strings"

	"github.com/infliq/infliq/backend/platform/config"
)

// ProxyPath is the gateway route that redirects to a fresh signed URL.
const ProxyPath = "/api/media/proxy/"

// Resolver turns a stored media value (S3 key, legacy S3 URL, legacy
// `uploads/<file>` path, proxy URL or external URL) into the URL handed to
// clients. Every service renders media fields through it.
type Resolver struct {
	cdn      string // https://<CLOUDFRONT_DOMAIN>, or ""
	base     string // PUBLIC_BASE_URL without trailing slash, or "" (gateway-relative)
	baseHost string
	s3Host   string // host of a custom S3 endpoint (dev, MinIO)
	bucket   string
}

// New builds the resolver from the S3 section of the config.
func New(c config.S3) *Resolver {
	r := &Resolver{base: strings.TrimRight(c.PublicBaseURL, "/"), bucket: c.Bucket}
	if d := strings.TrimSpace(c.CloudFrontDomain); d != "" {
		if !strings.Contains(d, "://") {
			d = "https://" + d
		}
		r.cdn = strings.TrimRight(d, "/")
	}
	if u, err := url.Parse(r.base); err == nil {
		r.baseHost = strings.ToLower(u.Hostname())
	}
	if u, err := url.Parse(c.Endpoint); err == nil && c.Endpoint != "" {
		r.s3Host = strings.ToLower(u.Host)
	}
	return r
}

// Resolve returns the client URL for a stored value. Empty stays empty;
// external http(s) URLs that are not ours stay unchanged (legacy B15 turned
// them into signed URLs of keys that do not exist).
func (r *Resolver) Resolve(stored string) string {
	key, ok := r.Key(stored)
	if !ok {
		return stored
	}
	return r.KeyURL(key)
}

// KeyURL is the URL of an object key: the CDN when configured, otherwise
// the stable proxy URL (which outlives any signature). Legacy `uploads/`
// files were never in S3, so they always go through the proxy.
func (r *Resolver) KeyURL(key string) string {
	if key == "" {
		return ""
	}
	if r.cdn != "" && !strings.HasPrefix(key, "uploads/") {
		return r.cdn + "/" + EscapeKey(key)
	}
	return r.base + ProxyPath + EscapeKey(key)
}

// Key extracts the object key from a stored value. ok is false for empty
// values and for URLs that do not point at our storage.
func (r *Resolver) Key(stored string) (string, bool) {
	s := strings.TrimSpace(stored)
	if s == "" {
		return "", false
	}
	if i := strings.Index(s, ProxyPath); i >= 0 {
		k := s[i+len(ProxyPath):]
		k, _, _ = strings.Cut(k, "?")
		if dk, err := url.PathUnescape(k); err == nil {
			k = dk
		}
		k = strings.TrimLeft(k, "/")
		return k, k != ""
	}
	lower := strings.ToLower(s)
	if !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://") {
		k := strings.TrimLeft(s, "/")
		return k, k != ""
	}
	if r.foreign(lower) {
		return "", false
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", false
	}
	host := strings.ToLower(u.Host)
	hostname := strings.ToLower(u.Hostname())
	path := strings.TrimLeft(u.Path, "/")
	switch {
	case r.isS3Host(hostname) || (r.s3Host != "" && host == r.s3Host):
		// Path-style URLs carry the bucket as the first segment.
		if b, rest, ok := strings.Cut(path, "/"); ok && b == r.bucket && !strings.HasPrefix(hostname, r.bucket+".") {
			path = rest
		}
	case r.cdn != "" && strings.EqualFold("https://"+u.Host, r.cdn):
	case strings.HasPrefix(path, "uploads/") && (hostname == r.baseHost || strings.HasSuffix(hostname, ".onrender.com")):
		// Legacy monolith local-disk fallback URLs.
	default:
		return "", false
	}
	return path, path != ""
}

// foreign reports an absolute URL (lower-cased) whose host can be none of
// ours, without url.Parse: most stored avatars are such URLs, and every
// response resolves them. Unusual authorities fall through to url.Parse.
func (r *Resolver) foreign(lower string) bool {
	auth := lower[strings.Index(lower, "://")+3:]
	if i := strings.IndexAny(auth, "/?#"); i >= 0 {
		auth = auth[:i]
	}
	if auth == "" || strings.ContainsAny(auth, "@%[]\\") {
		return false
	}
	host, _, _ := strings.Cut(auth, ":")
	switch {
	case strings.HasSuffix(host, ".amazonaws.com"), strings.HasSuffix(host, ".onrender.com"),
		auth == r.s3Host, host == r.baseHost, r.cdn != "" && strings.EqualFold("https://"+auth, r.cdn):
		return false
	}
	return true
}

// isS3Host reports an AWS S3 host (virtual-hosted or path style, any region).
func (r *Resolver) isS3Host(h string) bool {
	if !strings.HasSuffix(h, ".amazonaws.com") {
		return false
	}
	return strings.HasPrefix(h, "s3.") || strings.HasPrefix(h, "s3-") || strings.Contains(h, ".s3.") || strings.Contains(h, ".s3-")
}

// EscapeKey escapes each path segment of key, keeping the slashes.
func EscapeKey(key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}
