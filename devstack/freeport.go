package devstack

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// FreePort returns a loopback port that is free now, for a server that
// binds it a moment later. It picks below the kernel's ephemeral range,
// where outgoing connections and ":0" listeners take their ports: a port
// taken from that range and released can be grabbed by another process's
// connection before our server binds it (seen as "address already in use"
// when tests run in parallel). Each pick is also reserved for a few
// minutes across processes on this machine, so two test binaries running
// at once never hand out the same port. Falls back to a kernel-chosen port.
func FreePort() (int, error) {
	if lo, hi, ok := belowEphemeral(); ok {
		for range 64 {
			p := lo + rand.IntN(hi-lo)
			if !reserve(p) {
				continue
			}
			if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
				_ = l.Close()
				return p, nil
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// reservation is how long a handed-out port stays reserved: long enough for
// its server to bind it, short enough that the range never runs dry.
const reservation = 5 * time.Minute

// reserve claims port p for this process with an exclusive marker file in
// the temp dir; a stale marker (older than reservation) is taken over. If
// the dir is unusable the claim is granted (the bind probe still runs).
func reserve(p int) bool {
	dir := filepath.Join(os.TempDir(), "infliq-freeport")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return true
	}
	name := filepath.Join(dir, strconv.Itoa(p))
	for range 2 {
		f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o666)
		if err == nil {
			_ = f.Close()
			return true
		}
		if !errors.Is(err, fs.ErrExist) {
			return true
		}
		st, serr := os.Stat(name)
		if serr != nil || time.Since(st.ModTime()) < reservation {
			return false
		}
		_ = os.Remove(name)
	}
	return false
}

// belowEphemeral is a port range under the kernel's ephemeral range
// (Linux; default 32768–60999 gives 20768–32768).
func belowEphemeral() (lo, hi int, ok bool) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0, false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0, false
	}
	start, err := strconv.Atoi(f[0])
	if err != nil || start < 12000 {
		return 0, 0, false
	}
	return start - 12000, start, true
}
