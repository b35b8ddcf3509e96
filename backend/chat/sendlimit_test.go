package chat

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	chatv1 "github.com/infliq/infliq/backend/gen/infliq/chat/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/cache/redistest"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
)

// TestSendMessageLimitUnderConcurrency: 48 parallel ChatService.SendMessage
// calls by one user against a bucket of 10 (1/s). At most the burst plus the
// refill of the elapsed seconds are stored; the rest are resource_exhausted
// with RetryInfo, and a second user keeps their own budget.
func TestSendMessageLimitUnderConcurrency(t *testing.T) {
	const rate, burst, n = 1, 10, 48
	e := &env{pool: pgtest.New(t), rdb: redistest.New(t)}
	prefix := redistest.Prefix()
	e.bus = bus.New(e.rdb, prefix, 100)
	e.url, e.h2c, e.h1 = tiertest.Serve(t, NewTier(tiertest.Deps(), e.pool, e.bus,
		WithSendLimit(SendLimit{Redis: e.rdb, Prefix: prefix, PerSecond: rate, Burst: burst})).Handler())
	a, b := e.user(t, "a"), e.user(t, "b")
	ca, cb := e.client(t, a, false), e.client(t, b, true)
	ctx := context.Background()
	res, err := ca.CreateChat(ctx, connect.NewRequest(&chatv1.CreateChatRequest{ParticipantIds: []string{b.String()}}))
	if err != nil {
		t.Fatal(err)
	}
	chatID := res.Msg.Chat.Id
	start := time.Now()
	var mu sync.Mutex
	ok, limited := 0, 0
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			_, err := ca.SendMessage(ctx, connect.NewRequest(&chatv1.SendMessageRequest{ChatId: chatID, Text: "flood"}))
			mu.Lock()
			defer mu.Unlock()
			var ce *connect.Error
			switch {
			case err == nil:
				ok++
			case errors.As(err, &ce) && ce.Code() == connect.CodeResourceExhausted:
				limited++
				if apperr.From(err).RetryAfter <= 0 { // from the RetryInfo detail
					t.Errorf("no RetryInfo: %v", ce)
				}
			default:
				t.Errorf("send: %v", err)
			}
		}()
	}
	close(gate)
	wg.Wait()
	allowed := burst + rate*int(time.Since(start)/time.Second+1)
	if ok+limited != n || ok > allowed || limited == 0 {
		t.Fatalf("%d sent, %d limited of %d; at most %d may pass", ok, limited, n, allowed)
	}
	if _, err := cb.SendMessage(ctx, connect.NewRequest(&chatv1.SendMessageRequest{ChatId: chatID, Text: "my own budget"})); err != nil {
		t.Fatalf("other user: %v", err)
	}
}
