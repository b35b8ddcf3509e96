package cache

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestParseClusterURL(t *testing.T) {
	o, err := ParseClusterURL("redis-cluster://u:p%40ss@h1:7000,h2:7001, h3:7002/?dial_timeout=3s")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(o.Addrs, " ") != "h1:7000 h2:7001 h3:7002" || o.Username != "u" || o.Password != "p@ss" ||
		o.DialTimeout != 3*time.Second || o.TLSConfig != nil {
		t.Fatalf("%+v", o)
	}
	o, err = ParseClusterURL("rediss-cluster://h1:7000")
	if err != nil || len(o.Addrs) != 1 || o.TLSConfig == nil {
		t.Fatalf("tls: %+v %v", o, err)
	}
	for _, bad := range []string{"redis-cluster://", "redis-cluster://h1:7000/3", "redis-cluster://h1:7000?nosuch=1", "redis-cluster://h1:7000,\x00"} {
		if _, err := ParseClusterURL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestOpenRefusesBadURLs: a bad REDIS_URL fails at start, naming the variable.
func TestOpenRefusesBadURLs(t *testing.T) {
	for _, bad := range []string{"", "http://x", "redis-cluster://", "redis://h:1/\xff"} {
		if c, err := Open(context.Background(), bad, Options{}); err == nil {
			_ = c.Close()
			t.Errorf("%q accepted", bad)
		} else if !strings.Contains(err.Error(), "REDIS_URL") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
