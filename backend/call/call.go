// Package call is the call tier: CallService (Twilio Video tokens, the call
// lifecycle with its authorization, history), the ring-timeout sweeper, and
// the call signals (bus, to the target user only) and call logs (chat).
package call

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	callv1 "github.com/infliq/infliq/backend/gen/infliq/call/v1"
	"github.com/infliq/infliq/backend/gen/infliq/call/v1/callv1connect"
	chatv1 "github.com/infliq/infliq/backend/gen/infliq/chat/v1"
	"github.com/infliq/infliq/backend/gen/infliq/chat/v1/chatv1connect"
	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	realtimev1 "github.com/infliq/infliq/backend/gen/infliq/realtime/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/job"
	"github.com/infliq/infliq/backend/platform/tier"
)

// Options are the call tier's explicit dependencies.
type Options struct {
	Calls  config.Calls
	Twilio config.Twilio
	// Strict refuses to start without Twilio credentials.
	Strict bool
	Pool   *pgxpool.Pool
	// Pub delivers call signals to one user's sockets and streams.
	Pub bus.Publisher
	// Chat is ChatInternalService (call logs), called with the internal token.
	Chat chatv1connect.ChatInternalServiceClient
	// Ctx stops the ring-timeout sweeper.
	Ctx context.Context
	// RingTimeout overrides Calls.RingTimeoutSeconds (tests).
	RingTimeout time.Duration
	// SweepEvery is how often ringing calls are checked for the timeout;
	// zero picks a tenth of the ring timeout, between 1 and 5 seconds.
	SweepEvery time.Duration
}

// Service implements callv1connect.CallServiceHandler.
type Service struct {
	o    Options
	cfg  *callv1.GetCallConfigResponse
	st   *store
	sign *signer
	log  *slog.Logger
	ring time.Duration
}

// ErrNoCredentials: strict production mode without Twilio credentials.
var ErrNoCredentials = errors.New("call: strict production mode requires TWILIO_ACCOUNT_SID with TWILIO_API_KEY_SID/TWILIO_API_KEY_SECRET or TWILIO_AUTH_TOKEN")

// NewTier assembles the call tier and starts its sweeper (until o.Ctx ends).
func NewTier(d tier.Deps, o Options) (*tier.Tier, error) {
	sg := newSigner(o.Twilio)
	if o.Strict && !sg.configured {
		return nil, ErrNoCredentials
	}
	if o.Ctx == nil {
		o.Ctx = context.Background()
	}
	ring := o.RingTimeout
	if ring <= 0 {
		ring = time.Duration(o.Calls.RingTimeoutSeconds) * time.Second
	}
	t := tier.New("call", d)
	s := &Service{o: o, st: &store{db: o.Pool}, sign: sg, log: d.Log, ring: ring, cfg: &callv1.GetCallConfigResponse{
		RingTimeoutSeconds: int32(ring / time.Second),
		TokenTtlSeconds:    int32(sg.ttl / time.Second),
		TwilioConfigured:   sg.configured,
	}}
	path, h := callv1connect.NewCallServiceHandler(s, t.ConnectOptions()...)
	t.Mount(path, h, callv1connect.CallServiceName, callv1connect.CallServiceGetCallConfigProcedure)
	t.HealthField("socketPath", "/socket.io")
	if !sg.configured {
		t.HealthField("twilio", "dev-key")
	}
	go s.sweepLoop()
	return t, nil
}

// GetCallConfig returns how calls behave on this deployment.
func (s *Service) GetCallConfig(context.Context, *connect.Request[callv1.GetCallConfigRequest]) (*connect.Response[callv1.GetCallConfigResponse], error) {
	return connect.NewResponse(s.cfg), nil
}

func caller(ctx context.Context) (string, error) {
	p, ok := authn.FromContext(ctx)
	if !ok {
		return "", apperr.Unauthorized("No token provided")
	}
	return p.UserID.String(), nil
}

// CreateCallToken signs a Video token for a room of one of the caller's
// live calls, named by call id or room name. Anything else is refused.
func (s *Service) CreateCallToken(ctx context.Context, req *connect.Request[callv1.CreateCallTokenRequest]) (*connect.Response[callv1.CreateCallTokenResponse], error) {
	uid, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	room := req.Msg.GetRoomName()
	isID := id.Valid(room)
	if isID {
		room = strings.ToLower(room)
	}
	st, err := s.st.roomStatus(ctx, room, uid, isID, s.ring)
	if err != nil {
		return nil, err
	}
	switch st {
	case "ringing", "active":
	case "":
		return nil, apperr.Forbidden("Not a participant of this call's room").WithReason("FORBIDDEN")
	default:
		return nil, apperr.Conflict("Call is " + st).WithReason("CALL_OVER")
	}
	tok, exp, err := s.sign.sign(uid, room, time.Now())
	if err != nil {
		return nil, apperr.Internal(err)
	}
	return connect.NewResponse(&callv1.CreateCallTokenResponse{Token: tok, RoomName: room, Identity: uid, ExpiresAt: timestamppb.New(exp)}), nil
}

var typeNames = map[callv1.CallType]string{
	callv1.CallType_CALL_TYPE_UNSPECIFIED: "video", callv1.CallType_CALL_TYPE_VIDEO: "video", callv1.CallType_CALL_TYPE_AUDIO: "audio",
}

// InitiateCall creates a ringing call, rings the receiver and logs it.
func (s *Service) InitiateCall(ctx context.Context, req *connect.Request[callv1.InitiateCallRequest]) (*connect.Response[callv1.InitiateCallResponse], error) {
	uid, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	rid := strings.ToLower(req.Msg.GetReceiverId())
	if rid == uid {
		return nil, apperr.BadRequest("You cannot call yourself").WithReason("SELF_CALL")
	}
	callID := id.New().String()
	c, err := s.st.createCall(ctx, callID, uid, rid, typeNames[req.Msg.GetType()], "room-"+callID)
	if err != nil {
		return nil, err
	}
	// Ring first: the receiver's latency matters more than the log's.
	s.signal(ctx, c.ReceiverID, "incoming-call", c)
	s.chatLog(ctx, c, chatv1.MessageType_MESSAGE_TYPE_CALL_STARTED, typeWord(c.Type)+" call started")
	return connect.NewResponse(&callv1.InitiateCallResponse{Call: c.proto()}), nil
}

// AcceptCall: only the receiver, only while ringing (and not past the ring
// timeout, even if the sweeper has not run yet).
func (s *Service) AcceptCall(ctx context.Context, req *connect.Request[callv1.AcceptCallRequest]) (*connect.Response[callv1.AcceptCallResponse], error) {
	uid, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	cid := strings.ToLower(req.Msg.GetCallId())
	c, err := s.st.transition(ctx, cid, uid, `status = 'active', started_at = now()`,
		`receiver_id = $2 AND status = 'ringing' AND created_at > now() - make_interval(secs => $3)`, s.ring.Seconds())
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, s.refusal(ctx, cid, uid, true, "accept")
	}
	s.signal(ctx, c.CallerID, "call-accepted", c)
	return connect.NewResponse(&callv1.AcceptCallResponse{Call: c.proto()}), nil
}

// RejectCall: only the receiver, only while ringing.
func (s *Service) RejectCall(ctx context.Context, req *connect.Request[callv1.RejectCallRequest]) (*connect.Response[callv1.RejectCallResponse], error) {
	uid, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	cid := strings.ToLower(req.Msg.GetCallId())
	c, err := s.st.transition(ctx, cid, uid, `status = 'rejected', ended_at = now()`, `receiver_id = $2 AND status = 'ringing'`)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, s.refusal(ctx, cid, uid, true, "reject")
	}
	s.signal(ctx, c.CallerID, "call-rejected", c)
	s.chatLog(ctx, c, chatv1.MessageType_MESSAGE_TYPE_CALL_MISSED, "Missed "+strings.ToLower(typeWord(c.Type))+" call")
	return connect.NewResponse(&callv1.RejectCallResponse{Call: c.proto()}), nil
}

// EndCall: either participant hangs up a ringing or active call; the other
// one is told.
func (s *Service) EndCall(ctx context.Context, req *connect.Request[callv1.EndCallRequest]) (*connect.Response[callv1.EndCallResponse], error) {
	uid, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	cid := strings.ToLower(req.Msg.GetCallId())
	c, err := s.st.transition(ctx, cid, uid,
		`status = 'ended', ended_at = now(), duration = COALESCE(floor(extract(epoch FROM now() - started_at))::int, 0)`,
		`(caller_id = $2 OR receiver_id = $2) AND status IN ('ringing', 'active')`)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, s.refusal(ctx, cid, uid, false, "end")
	}
	other := c.CallerID
	if uid == c.CallerID {
		other = c.ReceiverID
	}
	s.signal(ctx, other, "call-ended", c)
	s.chatLog(ctx, c, chatv1.MessageType_MESSAGE_TYPE_CALL_ENDED, typeWord(c.Type)+" call ended")
	return connect.NewResponse(&callv1.EndCallResponse{Call: c.proto()}), nil
}

// refusal explains a transition that matched nothing: not a participant
// (NotFound, revealing nothing), the wrong participant (PermissionDenied),
// or the wrong state (FailedPrecondition; 409 on the legacy edge).
func (s *Service) refusal(ctx context.Context, cid, uid string, receiverOnly bool, verb string) error {
	c, err := s.st.get(ctx, cid, uid)
	if err != nil {
		return err
	}
	if receiverOnly && c.ReceiverID != uid {
		return apperr.Forbidden("Only the receiver can " + verb + " a call").WithReason("NOT_RECEIVER")
	}
	st := c.Status
	if st == "ringing" { // past the ring timeout, not yet swept
		st = "missed"
	}
	return apperr.Conflict("Cannot " + verb + " a call that is " + st).WithReason("INVALID_TRANSITION")
}

// GetCall returns one of the caller's calls.
func (s *Service) GetCall(ctx context.Context, req *connect.Request[callv1.GetCallRequest]) (*connect.Response[callv1.GetCallResponse], error) {
	uid, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.st.get(ctx, strings.ToLower(req.Msg.GetCallId()), uid)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&callv1.GetCallResponse{Call: c.proto()}), nil
}

const (
	defaultPage = 50
	maxPage     = 100
)

// ListCallHistory pages the caller's calls, newest first. The cursor is
// the last call id of the previous page.
func (s *Service) ListCallHistory(ctx context.Context, req *connect.Request[callv1.ListCallHistoryRequest]) (*connect.Response[callv1.ListCallHistoryResponse], error) {
	uid, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	cursor := strings.ToLower(req.Msg.GetPage().GetCursor())
	if cursor != "" && !id.Valid(cursor) {
		return nil, apperr.BadRequest("Invalid cursor")
	}
	limit := int(req.Msg.GetPage().GetLimit())
	if limit <= 0 {
		limit = defaultPage
	}
	limit = min(limit, maxPage)
	rows, err := s.st.history(ctx, uid, cursor, limit+1)
	if err != nil {
		return nil, err
	}
	out := &callv1.ListCallHistoryResponse{Page: &commonv1.PageResponse{}}
	if len(rows) > limit {
		rows = rows[:limit]
		out.Page.NextCursor = rows[limit-1].ID
	}
	for _, c := range rows {
		out.Calls = append(out.Calls, c.proto())
	}
	return connect.NewResponse(out), nil
}

func typeWord(t string) string {
	if t == "audio" {
		return "Audio"
	}
	return "Video"
}

// afterCommit bounds a side effect of a committed change; it survives the
// caller hanging up, so a committed call still rings and is still logged.
func afterCommit(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
}

// signal publishes a call event to one user after the commit. Failures are
// logged: the call's state is already durable and clients can refetch it.
func (s *Service) signal(ctx context.Context, to, kind string, c *callRow) {
	uid, err := id.Parse(to)
	if err != nil {
		return
	}
	ctx, cancel := afterCommit(ctx)
	defer cancel()
	ev := &realtimev1.SubscribeResponse{Event: &realtimev1.SubscribeResponse_Call{Call: &realtimev1.CallEvent{
		Kind: kind, CallId: c.ID, CallerId: c.CallerID, Caller: c.caller(), Receiver: c.receiver(),
		Type: c.Type, RoomName: c.Room, DurationSeconds: c.Duration,
	}}}
	pub := bus.Publication{Users: []id.ID{uid}, Event: ev, Records: callRecords(uid, kind, c)}
	if err := bus.PublishAll(ctx, s.o.Pub, []bus.Publication{pub}); err != nil {
		s.log.Warn("call: signal not published", "kind", kind, "call", c.ID, "err", err)
	}
}

// callRecords are the records of a call signal for the notify tier, in the
// signal's round trip: a ring (pushed at once, to wake the phone), a call
// the receiver missed (rang out, or the caller hung up before it was
// answered) and a declined call.
func callRecords(to id.ID, kind string, c *callRow) []bus.Record {
	caller, err1 := id.Parse(c.CallerID)
	receiver, err2 := id.Parse(c.ReceiverID)
	call, err3 := id.Parse(c.ID)
	if err1 != nil || err2 != nil || err3 != nil {
		return nil
	}
	r := bus.Record{Subject: call, Tag: c.Type}
	switch {
	case kind == "incoming-call":
		r.Kind, r.Actor, r.To = bus.RecCallStarted, caller, []id.ID{receiver}
	case kind == "call-rejected":
		r.Kind, r.Actor, r.To = bus.RecCallDeclined, receiver, []id.ID{caller}
	case to == receiver && (kind == "call-missed" || (kind == "call-ended" && c.StartedAt == nil)):
		r.Kind, r.Actor, r.To = bus.RecCallMissed, caller, []id.ID{receiver}
	default:
		return nil
	}
	return []bus.Record{r}
}

// chatLog appends the call log message to the pair's chat (the caller is
// the sender, as in the legacy backends).
func (s *Service) chatLog(ctx context.Context, c *callRow, typ chatv1.MessageType, text string) {
	if s.o.Chat == nil {
		return
	}
	ctx, cancel := afterCommit(ctx)
	defer cancel()
	_, err := s.o.Chat.AppendSystemMessage(ctx, connect.NewRequest(&chatv1.AppendSystemMessageRequest{
		SenderId: c.CallerID, PeerId: c.ReceiverID, Type: typ, Text: text, CallId: c.ID,
	}))
	if err != nil {
		s.log.Warn("call: chat log not written", "call", c.ID, "err", err)
	}
}

// sweepLoop turns calls ringing past the timeout into missed ones.
func (s *Service) sweepLoop() {
	every := s.o.SweepEvery
	if every <= 0 {
		every = min(max(s.ring/10, time.Second), 5*time.Second)
	}
	job.Every(s.o.Ctx, every, func(ctx context.Context) { s.sweep(ctx) })
}

const sweepBatch = 500

func (s *Service) sweep(ctx context.Context) {
	for {
		missed, err := s.st.sweepMissed(ctx, s.ring, sweepBatch)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("call: ring timeout sweep failed", "err", err)
			}
			return
		}
		for _, c := range missed {
			s.signal(ctx, c.CallerID, "call-missed", c)
			s.signal(ctx, c.ReceiverID, "call-missed", c)
			s.chatLog(ctx, c, chatv1.MessageType_MESSAGE_TYPE_CALL_MISSED, "Missed "+strings.ToLower(typeWord(c.Type))+" call")
		}
		if len(missed) < sweepBatch {
			return
		}
	}
}
