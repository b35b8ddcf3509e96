//go:build unix

package socketio

import (
	"io"
	"syscall"
)

const canRawWrite = true

// rawWrite writes b with non-blocking write syscalls, without waiting: n is
// what the kernel took and wouldBlock says its send buffer is full.
func rawWrite(rc syscall.RawConn, b []byte) (n int, wouldBlock bool, err error) {
	var werr error
	err = rc.Write(func(fd uintptr) bool {
		for n < len(b) {
			m, e := syscall.Write(int(fd), b[n:])
			if m > 0 {
				n += m
			}
			switch {
			case e == syscall.EINTR:
				continue
			case e == syscall.EAGAIN:
				wouldBlock = true
				return true
			case e != nil:
				werr = e
				return true
			case m == 0:
				werr = io.ErrUnexpectedEOF
				return true
			}
		}
		return true // never wait for writability here
	})
	if err == nil {
		err = werr
	}
	return n, wouldBlock, err
}
