// Package call is the call tier: CallService (Twilio Video tokens, lifecycle, history).
package call

import (
	"context"

	"connectrpc.com/connect"

	callv1 "github.com/infliq/infliq/backend/gen/infliq/call/v1"
	"github.com/infliq/infliq/backend/gen/infliq/call/v1/callv1connect"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/tier"
)

// Service implements callv1connect.CallServiceHandler.
type Service struct {
	cfg *callv1.GetCallConfigResponse
}

// NewTier assembles the call tier.
func NewTier(d tier.Deps, calls config.Calls, tw config.Twilio) *tier.Tier {
	t := tier.New("call", d)
	configured := tw.AccountSID != "" && (tw.APIKeySecret != "" || tw.AuthToken != "")
	s := &Service{cfg: &callv1.GetCallConfigResponse{
		RingTimeoutSeconds: int32(calls.RingTimeoutSeconds),
		TokenTtlSeconds:    int32(tw.TokenTTLSeconds),
		TwilioConfigured:   configured,
	}}
	path, h := callv1connect.NewCallServiceHandler(s, t.ConnectOptions()...)
	t.Mount(path, h, callv1connect.CallServiceName, callv1connect.CallServiceGetCallConfigProcedure)
	t.HealthField("socketPath", "/socket.io")
	if !configured {
		t.HealthField("twilio", "dev-key")
	}
	return t
}

// GetCallConfig returns how calls behave on this deployment.
func (s *Service) GetCallConfig(context.Context, *connect.Request[callv1.GetCallConfigRequest]) (*connect.Response[callv1.GetCallConfigResponse], error) {
	return connect.NewResponse(s.cfg), nil
}
