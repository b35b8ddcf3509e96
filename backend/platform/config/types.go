package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// maxSeconds bounds every duration (10 years) so none overflows.
const maxSeconds = 10 * 365 * 24 * 3600

// Duration accepts Go durations ("15m", "1h30m"), the jsonwebtoken/ms forms
// the legacy backend used ("7d", "30d", "12h"), and bare numbers as seconds.
type Duration time.Duration

func (d *Duration) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return fmt.Errorf("empty duration")
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n <= 0 || n > maxSeconds {
			return fmt.Errorf("duration must be between 1s and 10 years")
		}
		*d = Duration(time.Duration(n) * time.Second)
		return nil
	}
	if strings.HasSuffix(s, "d") {
		n, err := strconv.ParseFloat(strings.TrimSuffix(s, "d"), 64)
		if err != nil || !(n > 0) || n > maxSeconds/86400 {
			return fmt.Errorf("invalid duration %q (at most 10 years)", s)
		}
		*d = Duration(time.Duration(n * float64(24*time.Hour)))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		return fmt.Errorf("invalid duration %q (use 15m, 12h, 7d or seconds)", s)
	}
	*d = Duration(v)
	return nil
}

func (d Duration) D() time.Duration { return time.Duration(d) }

// Millis is a duration written in milliseconds, as the legacy *_MS variables are.
type Millis time.Duration

func (m *Millis) UnmarshalText(b []byte) error {
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 {
		return fmt.Errorf("must be a positive number of milliseconds")
	}
	*m = Millis(time.Duration(n) * time.Millisecond)
	return nil
}

func (m Millis) D() time.Duration { return time.Duration(m) }

// CSV is a comma-separated list; blanks are dropped and entries trimmed.
type CSV []string

func (c *CSV) UnmarshalText(b []byte) error {
	var out []string
	for _, p := range strings.Split(string(b), ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	*c = out
	return nil
}

// Prefixes is a comma-separated list of CIDRs (or single IPs).
type Prefixes []netip.Prefix

func (p *Prefixes) UnmarshalText(b []byte) error {
	var out []netip.Prefix
	for _, s := range strings.Split(string(b), ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return fmt.Errorf("invalid IP %q", s)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		pr, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("invalid CIDR %q", s)
		}
		out = append(out, pr.Masked())
	}
	*p = out
	return nil
}

// Contains reports whether a is inside one of the prefixes.
func (p Prefixes) Contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, pr := range p {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}
