//go:build !unix

package realtime

func openFileLimit() uint64 { return 0 }
