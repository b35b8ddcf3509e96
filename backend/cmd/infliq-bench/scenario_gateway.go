//go:build linux

package main

import (
	"context"

	"github.com/infliq/infliq/backend/platform/id"
)

func init() {
	register(Scenario{
		Name:        "gateway.get-session",
		Description: "authenticated trivial RPC (AuthService.GetSession, JSON) through the gateway",
		Connections: 64,
		Prepare: func(ctx context.Context, env *Env) (func(uint64) Request, error) {
			h := jsonHeader(env.Token(id.New()))
			return func(uint64) Request {
				return Request{Method: "POST", Path: "/infliq.auth.v1.AuthService/GetSession", Header: h, Body: []byte("{}")}
			}, nil
		},
	})
	register(Scenario{
		Name:        "gateway.health",
		Description: "GET /health on the gateway (edge overhead without an upstream hop)",
		Connections: 64,
		Prepare: func(ctx context.Context, env *Env) (func(uint64) Request, error) {
			return func(uint64) Request { return Request{Method: "GET", Path: "/health"} }, nil
		},
	})
}
