package push

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Stats counts what this process's workers did.
type Stats struct {
	Requests      int64 // send requests made to Expo
	Sent          int64 // messages Expo accepted (ok tickets)
	Failed        int64 // messages given up (refused, or rate-limited too often)
	Retried       int64 // requests and messages scheduled again (429/5xx/MessageRateExceeded)
	TokensRemoved int64 // tokens removed on DeviceNotRegistered
	SkippedOnline int64 // pushes not sent because the user was online
	Deferred      int64 // pushes moved to the end of quiet hours
	Dropped       int64 // pushes the Policy refused
	NoDevice      int64 // pushes to users without a registered token
}

func newStats() *Stats { return &Stats{} }

func (s *Stats) add(f *int64, n int64) { atomic.AddInt64(f, n) }

// Stats returns a snapshot of the counters.
func (s *Service) Stats() Stats {
	st := s.stats
	return Stats{
		Requests: atomic.LoadInt64(&st.Requests), Sent: atomic.LoadInt64(&st.Sent), Failed: atomic.LoadInt64(&st.Failed),
		Retried: atomic.LoadInt64(&st.Retried), TokensRemoved: atomic.LoadInt64(&st.TokensRemoved),
		SkippedOnline: atomic.LoadInt64(&st.SkippedOnline), Deferred: atomic.LoadInt64(&st.Deferred),
		Dropped: atomic.LoadInt64(&st.Dropped), NoDevice: atomic.LoadInt64(&st.NoDevice),
	}
}

// Collectors exposes the counters as infliq_push_* metrics, for the tier's
// registry (metrics.Registry.Register).
func (s *Service) Collectors() []prometheus.Collector {
	c := func(name, help string, f *int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "infliq_push_" + name + "_total", Help: help},
			func() float64 { return float64(atomic.LoadInt64(f)) })
	}
	st := s.stats
	return []prometheus.Collector{
		c("requests", "Send requests made to Expo.", &st.Requests),
		c("sent", "Messages Expo accepted.", &st.Sent),
		c("failed", "Messages given up.", &st.Failed),
		c("retried", "Requests and messages scheduled again after 429, 5xx or MessageRateExceeded.", &st.Retried),
		c("tokens_removed", "Tokens removed on DeviceNotRegistered.", &st.TokensRemoved),
		c("skipped_online", "Pushes not sent because the user was online.", &st.SkippedOnline),
		c("deferred", "Pushes moved to the end of quiet hours.", &st.Deferred),
		c("dropped", "Pushes the policy refused.", &st.Dropped),
		c("no_device", "Pushes to users without a registered device.", &st.NoDevice),
	}
}
