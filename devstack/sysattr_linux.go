package devstack

import "syscall"

// sysAttr runs PostgreSQL in its own process group, as cred, and makes the
// kernel stop it if the stack dies.
func sysAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
