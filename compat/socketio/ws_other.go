//go:build !unix

package socketio

import "syscall"

const canRawWrite = false

func rawWrite(syscall.RawConn, []byte) (int, bool, error) { panic("unreachable") }
