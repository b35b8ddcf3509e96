package devstack

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// FreePort returns a loopback port that is free now, for a server that
// binds it a moment later. It picks below the kernel's ephemeral range,
// where outgoing connections and ":0" listeners take their ports: a port
// taken from that range and released can be grabbed by another process's
// connection before our server binds it (seen as "address already in use"
// when tests run in parallel). Falls back to a kernel-chosen port.
func FreePort() (int, error) {
	if lo, hi, ok := belowEphemeral(); ok {
		for range 64 {
			p := lo + rand.IntN(hi-lo)
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
