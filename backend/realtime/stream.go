package realtime

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	chatv1 "github.com/infliq/infliq/backend/gen/infliq/chat/v1"
	realtimev1 "github.com/infliq/infliq/backend/gen/infliq/realtime/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/id"
)

// maxReplay bounds one replay; a client further behind must resync.
const maxReplay = 1000

// Subscribe streams the caller's events: the missed ones first (replayed
// from the per-user log after last_sequence, or a resync_required marker
// when they aged out), then live ones, with heartbeats when idle. Sequenced
// events arrive in order without duplicates; a gap (a dropped pub/sub
// message or a slow stream) is filled from the log.
func (s *Service) Subscribe(ctx context.Context, req *connect.Request[realtimev1.SubscribeRequest], stream *connect.ServerStream[realtimev1.SubscribeResponse]) error {
	p, ok := authn.FromContext(ctx)
	if !ok {
		return apperr.Unauthorized("No token provided")
	}
	s.streams.Add(1)
	defer s.streams.Add(-1)
	// The token is re-verified periodically, like sockets: a revoked
	// session or an expired token ends the stream.
	raw := authn.BearerToken(req.Header())
	recheck := s.o.Config.SessionRecheck.D()
	every := s.o.Config.Heartbeat.D()
	if hs := req.Msg.GetHeartbeatSeconds(); hs > 0 {
		every = time.Duration(hs) * time.Second
	}
	if every <= 0 {
		every = 25 * time.Second
	}

	// Listen before reading the log so nothing falls between the two.
	live := make(chan *realtimev1.SubscribeResponse, 256)
	var dropped atomic.Bool
	push := func(ev *realtimev1.SubscribeResponse) {
		select {
		case live <- ev:
		default:
			dropped.Store(true) // refilled from the log below
		}
	}
	unsub, err := s.o.Sub.SubscribeUser(ctx, p.UserID, push)
	if err != nil {
		return apperr.Unavailable(err, "Realtime unavailable")
	}
	defer unsub()
	for _, raw := range req.Msg.GetChatIds() {
		chatID := strings.ToLower(raw)
		res, err := s.o.Chat.CheckMember(ctx, connect.NewRequest(&chatv1.CheckMemberRequest{ChatId: chatID, UserId: p.UserID.String()}))
		if err != nil || !res.Msg.GetMember() {
			continue
		}
		cid, _ := id.Parse(chatID)
		un, err := s.o.Sub.SubscribeChat(ctx, cid, func(ev *realtimev1.SubscribeResponse) {
			if ev.GetTyping().GetUserId() != p.UserID.String() {
				push(ev)
			}
		})
		if err == nil {
			defer un()
		}
	}

	last := req.Msg.GetLastSequence()
	send := func(ev *realtimev1.SubscribeResponse) error {
		if ev.Time == nil {
			ev.Time = timestamppb.Now()
		}
		return stream.Send(ev)
	}
	// catchUp sends what the log holds after last, or a resync marker.
	catchUp := func() error {
		evs, complete, err := s.bus.Replay(ctx, p.UserID, last, maxReplay)
		if err != nil {
			return apperr.Unavailable(err, "Realtime unavailable")
		}
		if !complete || len(evs) == maxReplay {
			cur, err := s.bus.Sequence(ctx, p.UserID)
			if err != nil {
				return apperr.Unavailable(err, "Realtime unavailable")
			}
			last = cur
			return send(&realtimev1.SubscribeResponse{Sequence: cur, Event: &realtimev1.SubscribeResponse_ResyncRequired{ResyncRequired: &realtimev1.ResyncRequired{}}})
		}
		for _, ev := range evs {
			if ev.Sequence <= last {
				continue
			}
			if err := send(ev); err != nil {
				return err
			}
			last = ev.Sequence
		}
		return nil
	}
	heartbeat := func() error {
		return send(&realtimev1.SubscribeResponse{Sequence: last, Event: &realtimev1.SubscribeResponse_Heartbeat{Heartbeat: &realtimev1.Heartbeat{}}})
	}

	if last > 0 {
		if err := catchUp(); err != nil {
			return err
		}
	} else if cur, err := s.bus.Sequence(ctx, p.UserID); err == nil {
		last = cur
	} else {
		return apperr.Unavailable(err, "Realtime unavailable")
	}
	// An immediate heartbeat confirms the subscription and tells a fresh
	// client the sequence to resume from.
	if err := heartbeat(); err != nil {
		return err
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	// The session is re-checked on its own clock, not the heartbeat's: a
	// client asking for rare heartbeats must not outlive its logout.
	var rechecks <-chan time.Time
	if recheck > 0 {
		rt := time.NewTicker(recheck)
		defer rt.Stop()
		rechecks = rt.C
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-rechecks:
			if _, err := s.verifier.VerifyAccess(ctx, raw); errors.Is(err, authn.ErrInvalid) || errors.Is(err, authn.ErrRevoked) {
				return apperr.Unauthorized("Session ended")
			}
		case <-tick.C:
			if dropped.Swap(false) {
				if err := catchUp(); err != nil {
					return err
				}
			}
			if err := heartbeat(); err != nil {
				return err
			}
		case ev := <-live:
			if ev.Sequence == 0 { // ephemeral (typing)
				if err := send(ev); err != nil {
					return err
				}
				continue
			}
			if ev.Sequence <= last {
				continue // already replayed
			}
			if ev.Sequence > last+1 || dropped.Swap(false) {
				if err := catchUp(); err != nil {
					return err
				}
				continue
			}
			if err := send(ev); err != nil {
				return err
			}
			last = ev.Sequence
		}
	}
}
