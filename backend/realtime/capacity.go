package realtime

// fdReserve descriptors stay free for the tier's own connections (Redis,
// PostgreSQL, calls to chat, the listener, the typed streams' HTTP/2
// connections) when the session cap comes from the open-file limit.
const fdReserve = 1024

// maxSessions is the Engine.IO session cap for a SOCKET_MAX_SESSIONS
// setting: -1 no cap, 0 the open-file limit less fdReserve (no cap where
// that limit is unknown or too small to leave a reserve), else as set.
func maxSessions(setting int, fdLimit uint64) int {
	switch {
	case setting > 0:
		return setting
	case setting < 0 || fdLimit <= 2*fdReserve:
		return 0
	case fdLimit > 1<<31:
		return 1<<31 - fdReserve
	}
	return int(fdLimit) - fdReserve
}
