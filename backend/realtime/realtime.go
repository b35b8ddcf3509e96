// Package realtime is the connection tier. It holds every long-lived client
// connection: the Socket.IO-compatible endpoints /socket.io and
// /socket-chat.io (the current app) and the typed RealtimeService stream (the
// new SDK). It delivers events from the bus and forwards what clients send
// to the owning services through their Connect clients.
package realtime

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/infliq/infliq/backend/gen/infliq/chat/v1/chatv1connect"
	"github.com/infliq/infliq/backend/gen/infliq/realtime/v1/realtimev1connect"
	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/job"
	"github.com/infliq/infliq/backend/platform/tier"
	"github.com/infliq/infliq/compat/socketio"
)

// Options are the realtime tier's explicit dependencies.
type Options struct {
	Config config.Realtime
	// Sub receives bus events; its publisher (Sub.Bus()) is used for typing
	// events and replay.
	Sub *bus.Subscriber
	// Chat is ChatInternalService, called with the internal token.
	Chat chatv1connect.ChatInternalServiceClient
	// AllowedOrigins for browser websockets; empty allows any origin.
	AllowedOrigins []string
	// Ctx bounds background work (the session re-check loop).
	Ctx context.Context
}

// Service holds the tier's connections.
type Service struct {
	o        Options
	log      *slog.Logger
	verifier *authn.Verifier
	bus      *bus.Redis
	io       *socketio.Server
	sends    *sendBatcher
	sendDur  prometheus.Observer // send-message: handler start to ack (nil: not recorded)

	mu      sync.Mutex
	conns   map[*conn]struct{}
	streams atomic.Int64
}

// NewTier assembles the realtime tier.
func NewTier(d tier.Deps, o Options) *tier.Tier {
	if o.Ctx == nil {
		o.Ctx = context.Background()
	}
	t := tier.New("realtime", d)
	s := &Service{o: o, log: d.Log, verifier: d.Verifier, bus: o.Sub.Bus(), conns: map[*conn]struct{}{}, sends: newSendBatcher(o.Chat, o.Config.SendLinger.D())}
	s.io = s.newSocketServer()
	path, h := realtimev1connect.NewRealtimeServiceHandler(s, t.ConnectOptions()...)
	t.Mount(path, h, realtimev1connect.RealtimeServiceName)
	t.Handle("/socket.io/", s.io)
	t.Handle("/socket-chat.io/", s.io)
	t.HealthField("socketPaths", []string{"/socket.io", "/socket-chat.io"})
	if d.Metrics != nil {
		// Where a legacy send's time goes on this replica, so a latency tail
		// seen by clients can be placed: queued for the next SendMessagesAs
		// call (sendbatch.go), or the whole handler through chat's commit.
		stages := prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "infliq_realtime_send_seconds",
			Help:    "Legacy send-message time on this replica: queued (until its SendMessagesAs call left), call (each call, once per batch) and total (handler start to ack).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"stage"})
		s.sends.waited, s.sends.called, s.sendDur = stages.WithLabelValues("queued"), stages.WithLabelValues("call"), stages.WithLabelValues("total")
		d.Metrics.Register(stages,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "infliq_realtime_sockets", Help: "Open Engine.IO sessions (legacy Socket.IO clients)."},
				func() float64 { return float64(s.io.Len()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "infliq_realtime_streams", Help: "Open typed RealtimeService streams."},
				func() float64 { return float64(s.streams.Load()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "infliq_realtime_socket_writes_total", Help: "Websocket write syscalls (packets queued together leave in one)."},
				func() float64 { w, _, _ := s.io.WriteStats(); return float64(w) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "infliq_realtime_socket_packets_total", Help: "Websocket frames written."},
				func() float64 { _, p, _ := s.io.WriteStats(); return float64(p) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "infliq_realtime_slow_consumer_closes_total", Help: "Sockets closed (code 1008) because their send queue overflowed."},
				func() float64 { _, _, n := s.io.WriteStats(); return float64(n) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "infliq_realtime_sessions_refused_total", Help: "Engine.IO handshakes refused (503) because SOCKET_MAX_SESSIONS sessions were open."},
				func() float64 { return float64(s.io.Refused()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "infliq_realtime_bus_channels", Help: "Redis pub/sub channels this process subscribes to (one per user or chat, however many local listeners)."},
				func() float64 { return float64(o.Sub.Channels()) }),
		)
	}
	go s.recheckLoop()
	go s.gcLoop()
	return t
}

func (s *Service) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	return origin == "" || len(s.o.AllowedOrigins) == 0 || slices.Contains(s.o.AllowedOrigins, origin)
}

// recheckLoop re-verifies every socket's token periodically, so a revoked
// session, a deleted account or an expired token is disconnected.
func (s *Service) recheckLoop() {
	every := s.o.Config.SessionRecheck.D()
	if every <= 0 {
		return
	}
	job.Every(s.o.Ctx, every, s.recheck)
}

func (s *Service) recheck(ctx context.Context) {
	s.mu.Lock()
	all := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		all = append(all, c)
	}
	s.mu.Unlock()
	// In chunks, each one Redis round trip for its revocation checks.
	for len(all) > 0 && ctx.Err() == nil {
		chunk := all[:min(len(all), recheckChunk)]
		all = all[len(chunk):]
		ps := make([]authn.Principal, len(chunk))
		for i, c := range chunk {
			ps[i] = c.who
		}
		for i, err := range s.verifier.RecheckMany(ctx, ps) {
			if errors.Is(err, authn.ErrInvalid) || errors.Is(err, authn.ErrRevoked) {
				chunk[i].so.Disconnect()
			}
		}
	}
}

// recheckChunk sockets are re-checked per Redis round trip.
const recheckChunk = 512
