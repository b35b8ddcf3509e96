package realtime

import (
	"context"
	"os"
	"runtime/debug"
	"time"

	"github.com/infliq/infliq/backend/platform/job"
)

// The binary runs with GOGC=200 (cmd/infliq): request tiers keep a small
// live heap, and the doubled headroom saves GC CPU for a few MB. A process
// holding tens of thousands of sockets is the opposite case: socket state
// is most of its heap, and with GOGC=200 the heap and its retained pages
// grow to three times the live state. At 50,000 sockets (3 replicas, after
// two minutes of Engine.IO pings) that was 18.9 KB of RSS per socket,
// against 13.1 KB with GOGC=100. So while this process holds more than
// gcSocketsHigh sockets it collects at the runtime default, and goes back
// below gcSocketsLow. A GOGC set in the environment is left alone.
const (
	gcSocketsHigh = 10_000
	gcSocketsLow  = 8_000
	gcPercentMany = 100
	gcTuneEvery   = 5 * time.Second
)

// gcTuner switches GOGC with the number of open sockets.
type gcTuner struct {
	many bool
	prev int // the GC percent to go back to
	set  func(int) int
}

// observe applies the hysteresis to n open sockets; true when it switched.
func (g *gcTuner) observe(n int) bool {
	switch {
	case !g.many && n > gcSocketsHigh:
		g.prev, g.many = g.set(gcPercentMany), true
	case g.many && n < gcSocketsLow:
		g.set(g.prev)
		g.many = false
	default:
		return false
	}
	return true
}

func (s *Service) gcLoop() {
	if os.Getenv("GOGC") != "" {
		return
	}
	g := &gcTuner{set: debug.SetGCPercent}
	job.Every(s.o.Ctx, gcTuneEvery, func(context.Context) {
		if n := s.io.Len(); g.observe(n) {
			s.log.Info("realtime: GC percent changed with the open sockets", "sockets", n, "many", g.many)
		}
	})
}
