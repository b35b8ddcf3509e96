package notify

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/infliq/infliq/backend/notify/push"
	"github.com/infliq/infliq/backend/platform/id"
)

// PushMessage is one push to one user (all their devices).
type PushMessage = push.Message

// Pusher is the part of *push.Service the notify tier calls; tests put a
// recording stand-in in its place.
type Pusher interface {
	// EnqueueTx records pushes in tx: the same transaction as the
	// notification rows (durable outbox).
	EnqueueTx(ctx context.Context, tx pgx.Tx, msgs ...PushMessage) error
	RegisterToken(ctx context.Context, uid id.ID, token, platform, sessionID string) error
	UnregisterToken(ctx context.Context, uid id.ID, token string) error
	ForgetSession(ctx context.Context, uid id.ID, sessionID string) error
	ForgetUser(ctx context.Context, uid id.ID) error
}

var _ Pusher = (*push.Service)(nil)

// NopPusher sends nothing. It stays as New's default so that the inbox can
// be measured without an outbox (BenchmarkLikeStorm/ToggleStorm compare the
// like route with and without notify, not push). The tier always wires
// *push.Service (buildNotify).
type NopPusher struct{}

func (NopPusher) EnqueueTx(context.Context, pgx.Tx, ...PushMessage) error            { return nil }
func (NopPusher) RegisterToken(context.Context, id.ID, string, string, string) error { return nil }
func (NopPusher) UnregisterToken(context.Context, id.ID, string) error               { return nil }
func (NopPusher) ForgetUser(context.Context, id.ID) error                            { return nil }
func (NopPusher) ForgetSession(context.Context, id.ID, string) error                 { return nil }

// SetPush replaces the outbox. The tier builds the Service first (its
// Policy is push.New's argument), then the push service, then sets it here
// before the consumer starts.
func (s *Service) SetPush(p Pusher) { s.push = p }
