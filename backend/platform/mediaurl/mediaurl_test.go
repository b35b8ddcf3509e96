package mediaurl

import (
	"testing"

	"github.com/infliq/infliq/backend/platform/config"
)

func TestURLResolver(t *testing.T) {
	proxy := New(config.S3{Bucket: "infliq-media", PublicBaseURL: "https://api.infliq.app/"})
	cdn := New(config.S3{Bucket: "infliq-media", CloudFrontDomain: "d111.cloudfront.net", PublicBaseURL: "https://api.infliq.app"})
	rel := New(config.S3{Bucket: "infliq-media"})
	cases := []struct {
		r    *Resolver
		in   string
		want string
	}{
		{proxy, "", ""},
		{proxy, "posts/65a0c0ffee0000000000beef/abc.jpg", "https://api.infliq.app/api/media/proxy/posts/65a0c0ffee0000000000beef/abc.jpg"},
		{cdn, "posts/65a0c0ffee0000000000beef/abc.jpg", "https://d111.cloudfront.net/posts/65a0c0ffee0000000000beef/abc.jpg"},
		{rel, "1700000000000-photo.jpg", "/api/media/proxy/1700000000000-photo.jpg"},
		// Legacy S3 URLs, signed or not, virtual-hosted or path style.
		{proxy, "https://infliq-media.s3.amazonaws.com/1700000000000-a%20b.jpg?AWSAccessKeyId=x&Expires=1&Signature=y",
			"https://api.infliq.app/api/media/proxy/1700000000000-a%20b.jpg"},
		{proxy, "https://infliq-media.s3.ap-south-1.amazonaws.com/general/65a0c0ffee0000000000beef/x.png",
			"https://api.infliq.app/api/media/proxy/general/65a0c0ffee0000000000beef/x.png"},
		{proxy, "https://s3.ap-south-1.amazonaws.com/infliq-media/k.jpg", "https://api.infliq.app/api/media/proxy/k.jpg"},
		// Proxy URLs from the old host, encoded the M2 way.
		{proxy, "https://infliq.onrender.com/api/media/proxy/uploads%2F17-a.jpg", "https://api.infliq.app/api/media/proxy/uploads/17-a.jpg"},
		{cdn, "https://infliq.onrender.com/api/media/proxy/uploads%2F17-a.jpg", "https://api.infliq.app/api/media/proxy/uploads/17-a.jpg"},
		// Legacy local files.
		{proxy, "uploads/17-a.jpg", "https://api.infliq.app/api/media/proxy/uploads/17-a.jpg"},
		{proxy, "http://backendapi-h6ch.onrender.com/uploads/17-a.jpg", "https://api.infliq.app/api/media/proxy/uploads/17-a.jpg"},
		// External URLs stay as they are (B15).
		{proxy, "https://randomuser.me/api/portraits/women/1.jpg", "https://randomuser.me/api/portraits/women/1.jpg"},
		{cdn, "https://example.com/uploads/x.jpg", "https://example.com/uploads/x.jpg"},
	}
	for _, c := range cases {
		if got := c.r.Resolve(c.in); got != c.want {
			t.Errorf("Resolve(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func FuzzResolve(f *testing.F) {
	r := New(config.S3{Bucket: "b", PublicBaseURL: "https://x"})
	f.Add("https://b.s3.amazonaws.com/a/b")
	f.Add("/api/media/proxy/%zz")
	f.Fuzz(func(t *testing.T, s string) { _ = r.Resolve(s) })
}
