// Package realtime is the connection tier: it holds long-lived client
// connections (the typed RealtimeService stream, and Socket.IO once the
// realtime issue lands) and delivers events from the bus.
package realtime

import (
	"context"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	realtimev1 "github.com/infliq/infliq/backend/gen/infliq/realtime/v1"
	"github.com/infliq/infliq/backend/gen/infliq/realtime/v1/realtimev1connect"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/tier"
)

// Service implements realtimev1connect.RealtimeServiceHandler.
type Service struct {
	heartbeat time.Duration
}

// NewTier assembles the realtime tier.
func NewTier(d tier.Deps, heartbeat time.Duration) *tier.Tier {
	t := tier.New("realtime", d)
	path, h := realtimev1connect.NewRealtimeServiceHandler(&Service{heartbeat: heartbeat}, t.ConnectOptions()...)
	t.Mount(path, h, realtimev1connect.RealtimeServiceName)
	return t
}

// Subscribe streams the caller's events. Until the bus lands it carries only
// heartbeats, which keep idle streams open through load balancers.
func (s *Service) Subscribe(ctx context.Context, req *connect.Request[realtimev1.SubscribeRequest], stream *connect.ServerStream[realtimev1.SubscribeResponse]) error {
	if _, ok := authn.FromContext(ctx); !ok {
		return apperr.Unauthorized("No token provided")
	}
	every := s.heartbeat
	if hs := req.Msg.GetHeartbeatSeconds(); hs > 0 {
		every = time.Duration(hs) * time.Second
	}
	seq := req.Msg.GetLastSequence()
	send := func() error {
		return stream.Send(&realtimev1.SubscribeResponse{
			Sequence: seq, Time: timestamppb.Now(),
			Event: &realtimev1.SubscribeResponse_Heartbeat{Heartbeat: &realtimev1.Heartbeat{}},
		})
	}
	// An immediate heartbeat confirms the subscription to the client.
	if err := send(); err != nil {
		return err
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if err := send(); err != nil {
				return err
			}
		}
	}
}
