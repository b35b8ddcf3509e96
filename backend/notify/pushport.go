package notify

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/infliq/infliq/backend/platform/id"
)

// The push side of issue 19 lives in backend/notify/push (its own branch).
// Until it is merged the notify tier codes against this port, which mirrors
// the agreed push API name for name: *push.Service satisfies Pusher once
// PushMessage becomes an alias (`type PushMessage = push.Message`), and
// NopPusher goes.

// PushMessage is push.Message: one push to one user (all their devices).
type PushMessage struct {
	UserID      id.ID
	Kind        string
	Title, Body string
	Data        map[string]string
	CollapseKey string
	Urgent      bool
	DedupeKey   string
}

// Pusher is the part of push.Service the notify tier calls.
type Pusher interface {
	// EnqueueTx records pushes in tx: the same transaction as the
	// notification rows (durable outbox).
	EnqueueTx(ctx context.Context, tx pgx.Tx, msgs ...PushMessage) error
	RegisterToken(ctx context.Context, uid id.ID, token, platform, sessionID string) error
	UnregisterToken(ctx context.Context, uid id.ID, token string) error
	ForgetSession(ctx context.Context, uid id.ID, sessionID string) error
	ForgetUser(ctx context.Context, uid id.ID) error
}

// NopPusher sends nothing (no push package wired).
type NopPusher struct{}

func (NopPusher) EnqueueTx(context.Context, pgx.Tx, ...PushMessage) error            { return nil }
func (NopPusher) RegisterToken(context.Context, id.ID, string, string, string) error { return nil }
func (NopPusher) UnregisterToken(context.Context, id.ID, string) error               { return nil }
func (NopPusher) ForgetUser(context.Context, id.ID) error                            { return nil }
func (NopPusher) ForgetSession(context.Context, id.ID, string) error                 { return nil }
