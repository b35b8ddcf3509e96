//go:build unix

package realtime

import "syscall"

// openFileLimit is the process's soft RLIMIT_NOFILE (the Go runtime has
// raised it to the hard limit at start); 0 when unknown.
func openFileLimit() uint64 {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
		return 0
	}
	return l.Cur
}
