package call

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/infliq/infliq/backend/chat"
	callv1 "github.com/infliq/infliq/backend/gen/infliq/call/v1"
	"github.com/infliq/infliq/backend/gen/infliq/call/v1/callv1connect"
	"github.com/infliq/infliq/backend/gen/infliq/chat/v1/chatv1connect"
	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	realtimev1 "github.com/infliq/infliq/backend/gen/infliq/realtime/v1"
	"github.com/infliq/infliq/backend/platform/bus"
	"github.com/infliq/infliq/backend/platform/cache/redistest"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/backend/platform/tier"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
)

// Test Twilio credentials (not real ones).
var testTwilio = config.Twilio{AccountSID: "ACtest00000000000000000000000000", APIKeySID: "SKtest00000000000000000000000000",
	APIKeySecret: "test-api-key-secret", AuthToken: "test-auth-token", TokenTTLSeconds: 600}

// env is the chat tier and the call tier on one database and Redis.
type env struct {
	pool    *pgxpool.Pool
	bus     *bus.Redis
	chatURL string
	url     string
	h1, h2c *http.Client
}

func newEnv(t testing.TB, o Options) *env {
	t.Helper()
	e := &env{pool: pgtest.New(t)}
	e.bus = bus.New(redistest.New(t), redistest.Prefix(), 1000)
	e.chatURL, _, _ = tiertest.Serve(t, chat.NewTier(tiertest.Deps(), e.pool, e.bus).Handler())
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	o.Pool, o.Pub, o.Ctx = e.pool, e.bus, ctx
	o.Chat = chatv1connect.NewChatInternalServiceClient(&http.Client{}, e.chatURL, tier.InternalClientOptions(tiertest.InternalToken)...)
	if o.Calls.RingTimeoutSeconds == 0 {
		o.Calls.RingTimeoutSeconds = 45
	}
	if o.Twilio.TokenTTLSeconds == 0 {
		o.Twilio = testTwilio
	}
	tr, err := NewTier(tiertest.Deps(), o)
	if err != nil {
		t.Fatal(err)
	}
	e.url, e.h2c, e.h1 = tiertest.Serve(t, tr.Handler())
	return e
}

func (e *env) user(t testing.TB, name string) id.ID {
	t.Helper()
	uid := id.New()
	if _, err := e.pool.Exec(context.Background(), `INSERT INTO users (id, name, profile_picture) VALUES ($1, $2, $3)`, uid.String(), name, name+".jpg"); err != nil {
		t.Fatal(err)
	}
	return uid
}

// client speaks the Connect protocol, or gRPC when grpc is set.
func (e *env) client(t testing.TB, uid id.ID, grpc bool) callv1connect.CallServiceClient {
	opts := []connect.ClientOption{tiertest.Bearer(tiertest.Token(t, uid))}
	if grpc {
		return callv1connect.NewCallServiceClient(e.h2c, e.url, append(opts, connect.WithGRPC())...)
	}
	return callv1connect.NewCallServiceClient(e.h1, e.url, opts...)
}

// events are the call events in uid's event log (what its sockets and
// streams are delivered).
func (e *env) events(t testing.TB, uid id.ID) []*realtimev1.CallEvent {
	t.Helper()
	evs, _, err := e.bus.Replay(context.Background(), uid, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []*realtimev1.CallEvent
	for _, ev := range evs {
		if c := ev.GetCall(); c != nil {
			out = append(out, c)
		}
	}
	return out
}

func (e *env) kinds(t testing.TB, uid id.ID) string {
	var ks []string
	for _, c := range e.events(t, uid) {
		ks = append(ks, c.Kind)
	}
	return strings.Join(ks, ",")
}

// chatLog is the call log of the pair's direct chat, oldest first.
func (e *env) chatLog(t testing.TB, callID string) []string {
	t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT type || ':' || text FROM messages WHERE call_id = $1 ORDER BY id`, callID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		out = append(out, s)
	}
	return out
}

func code(err error) connect.Code { return connect.CodeOf(err) }

func TestCallLifecycle(t *testing.T) {
	for _, grpc := range []bool{false, true} {
		t.Run(map[bool]string{false: "connect", true: "grpc"}[grpc], func(t *testing.T) {
			e := newEnv(t, Options{})
			ctx := context.Background()
			alice, bob, mallory := e.user(t, "alice"), e.user(t, "bob"), e.user(t, "mallory")
			ca, cb, cm := e.client(t, alice, grpc), e.client(t, bob, grpc), e.client(t, mallory, grpc)

			in, err := ca.InitiateCall(ctx, connect.NewRequest(&callv1.InitiateCallRequest{ReceiverId: strings.ToUpper(bob.String())}))
			if err != nil {
				t.Fatal(err)
			}
			c := in.Msg.Call
			if c.Status != callv1.CallStatus_CALL_STATUS_RINGING || c.Type != callv1.CallType_CALL_TYPE_VIDEO || c.Caller.Name != "alice" ||
				c.Receiver.Id != bob.String() || c.RoomName != "room-"+c.Id || c.StartedAt != nil {
				t.Fatalf("initiate: %v", c)
			}
			evs := e.events(t, bob)
			if len(evs) != 1 || evs[0].Kind != "incoming-call" || evs[0].CallId != c.Id || evs[0].CallerId != alice.String() ||
				evs[0].Caller.GetName() != "alice" || evs[0].Caller.GetProfilePicture() != "alice.jpg" || evs[0].Type != "video" || evs[0].RoomName != c.RoomName {
				t.Fatalf("incoming-call: %v", evs)
			}

			// Both sides get tokens for the call id (what the app sends) and the room name.
			for _, tc := range []struct {
				cl   callv1connect.CallServiceClient
				room string
			}{{ca, c.Id}, {cb, c.RoomName}, {cb, strings.ToUpper(c.Id)}} {
				tok, err := tc.cl.CreateCallToken(ctx, connect.NewRequest(&callv1.CreateCallTokenRequest{RoomName: tc.room}))
				if err != nil || tok.Msg.Token == "" || !strings.EqualFold(tok.Msg.RoomName, tc.room) {
					t.Fatalf("token for %s: %v %v", tc.room, tok, err)
				}
			}

			if _, err := cb.AcceptCall(ctx, connect.NewRequest(&callv1.AcceptCallRequest{CallId: c.Id})); err != nil {
				t.Fatal(err)
			}
			if got := e.kinds(t, alice); got != "call-accepted" {
				t.Fatalf("alice events: %s", got)
			}
			if acc := e.events(t, alice)[0]; acc.Receiver.GetName() != "bob" || acc.Type != "video" || acc.RoomName != c.RoomName {
				t.Fatalf("call-accepted: %v", acc)
			}
			g, err := ca.GetCall(ctx, connect.NewRequest(&callv1.GetCallRequest{CallId: c.Id}))
			if err != nil || g.Msg.Call.Status != callv1.CallStatus_CALL_STATUS_ACTIVE || g.Msg.Call.StartedAt == nil {
				t.Fatalf("get: %v %v", g, err)
			}

			end, err := cb.EndCall(ctx, connect.NewRequest(&callv1.EndCallRequest{CallId: c.Id}))
			if err != nil || end.Msg.Call.Status != callv1.CallStatus_CALL_STATUS_ENDED || end.Msg.Call.EndedAt == nil || end.Msg.Call.DurationSeconds < 0 {
				t.Fatalf("end: %v %v", end, err)
			}
			if got := e.kinds(t, alice); got != "call-accepted,call-ended" {
				t.Fatalf("alice events: %s", got)
			}
			if got := e.kinds(t, bob); got != "incoming-call" {
				t.Fatalf("bob events: %s", got)
			}
			if got := e.kinds(t, mallory); got != "" {
				t.Fatalf("a third user got call events: %s", got)
			}
			if _, err := cm.GetCall(ctx, connect.NewRequest(&callv1.GetCallRequest{CallId: c.Id})); code(err) != connect.CodeNotFound {
				t.Fatalf("stranger get: %v", err)
			}
			// The call log is in the pair's chat.
			if got := strings.Join(e.chatLog(t, c.Id), "|"); got != "call-started:Video call started|call-ended:Video call ended" {
				t.Fatalf("chat log: %s", got)
			}

			// An audio call the receiver rejects: "Missed audio call".
			in2, err := ca.InitiateCall(ctx, connect.NewRequest(&callv1.InitiateCallRequest{ReceiverId: bob.String(), Type: callv1.CallType_CALL_TYPE_AUDIO}))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cb.RejectCall(ctx, connect.NewRequest(&callv1.RejectCallRequest{CallId: in2.Msg.Call.Id})); err != nil {
				t.Fatal(err)
			}
			if got := e.kinds(t, alice); got != "call-accepted,call-ended,call-rejected" {
				t.Fatalf("alice events: %s", got)
			}
			if got := strings.Join(e.chatLog(t, in2.Msg.Call.Id), "|"); got != "call-started:Audio call started|call-missed:Missed audio call" {
				t.Fatalf("chat log: %s", got)
			}

			h, err := cb.ListCallHistory(ctx, connect.NewRequest(&callv1.ListCallHistoryRequest{}))
			if err != nil || len(h.Msg.Calls) != 2 || h.Msg.Calls[0].Id != in2.Msg.Call.Id || h.Msg.Calls[0].Status != callv1.CallStatus_CALL_STATUS_REJECTED ||
				h.Msg.Calls[1].Status != callv1.CallStatus_CALL_STATUS_ENDED || h.Msg.Page.NextCursor != "" {
				t.Fatalf("history: %v %v", h, err)
			}
			if h, err := cm.ListCallHistory(ctx, connect.NewRequest(&callv1.ListCallHistoryRequest{})); err != nil || len(h.Msg.Calls) != 0 {
				t.Fatalf("stranger history: %v %v", h, err)
			}
		})
	}
}

// TestAuthorizationMatrix: who may do what to a call in which state.
func TestAuthorizationMatrix(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	alice, bob, mallory := e.user(t, "alice"), e.user(t, "bob"), e.user(t, "mallory")
	actors := map[string]id.ID{"caller": alice, "receiver": bob, "stranger": mallory}

	// newCall returns a call from alice to bob in state st.
	newCall := func(st string) string {
		in, err := e.client(t, alice, false).InitiateCall(ctx, connect.NewRequest(&callv1.InitiateCallRequest{ReceiverId: bob.String()}))
		if err != nil {
			t.Fatal(err)
		}
		cid := in.Msg.Call.Id
		cb := e.client(t, bob, false)
		switch st {
		case "active":
			_, err = cb.AcceptCall(ctx, connect.NewRequest(&callv1.AcceptCallRequest{CallId: cid}))
		case "rejected":
			_, err = cb.RejectCall(ctx, connect.NewRequest(&callv1.RejectCallRequest{CallId: cid}))
		case "ended":
			_, err = cb.EndCall(ctx, connect.NewRequest(&callv1.EndCallRequest{CallId: cid}))
		case "missed":
			_, err = e.pool.Exec(ctx, `UPDATE calls SET status = 'missed', ended_at = now() WHERE id = $1`, cid)
		}
		if err != nil {
			t.Fatal(err)
		}
		return cid
	}
	actions := map[string]func(cl callv1connect.CallServiceClient, cid string) error{
		"token": func(cl callv1connect.CallServiceClient, cid string) error {
			_, err := cl.CreateCallToken(ctx, connect.NewRequest(&callv1.CreateCallTokenRequest{RoomName: cid}))
			return err
		},
		"accept": func(cl callv1connect.CallServiceClient, cid string) error {
			_, err := cl.AcceptCall(ctx, connect.NewRequest(&callv1.AcceptCallRequest{CallId: cid}))
			return err
		},
		"reject": func(cl callv1connect.CallServiceClient, cid string) error {
			_, err := cl.RejectCall(ctx, connect.NewRequest(&callv1.RejectCallRequest{CallId: cid}))
			return err
		},
		"end": func(cl callv1connect.CallServiceClient, cid string) error {
			_, err := cl.EndCall(ctx, connect.NewRequest(&callv1.EndCallRequest{CallId: cid}))
			return err
		},
	}
	const (
		ok   = connect.Code(0)
		deny = connect.CodePermissionDenied
		nf   = connect.CodeNotFound
		pre  = connect.CodeFailedPrecondition
	)
	// want[action][state][actor]
	want := map[string]map[string]map[string]connect.Code{
		"token": {
			"ringing":  {"caller": ok, "receiver": ok, "stranger": deny},
			"active":   {"caller": ok, "receiver": ok, "stranger": deny},
			"ended":    {"caller": pre, "receiver": pre, "stranger": deny},
			"rejected": {"caller": pre, "receiver": pre, "stranger": deny},
			"missed":   {"caller": pre, "receiver": pre, "stranger": deny},
		},
		"accept": {
			"ringing":  {"caller": deny, "receiver": ok, "stranger": nf},
			"active":   {"caller": deny, "receiver": pre, "stranger": nf},
			"ended":    {"caller": deny, "receiver": pre, "stranger": nf},
			"rejected": {"caller": deny, "receiver": pre, "stranger": nf},
			"missed":   {"caller": deny, "receiver": pre, "stranger": nf},
		},
		"reject": {
			"ringing":  {"caller": deny, "receiver": ok, "stranger": nf},
			"active":   {"caller": deny, "receiver": pre, "stranger": nf},
			"ended":    {"caller": deny, "receiver": pre, "stranger": nf},
			"rejected": {"caller": deny, "receiver": pre, "stranger": nf},
			"missed":   {"caller": deny, "receiver": pre, "stranger": nf},
		},
		"end": {
			"ringing":  {"caller": ok, "receiver": ok, "stranger": nf},
			"active":   {"caller": ok, "receiver": ok, "stranger": nf},
			"ended":    {"caller": pre, "receiver": pre, "stranger": nf},
			"rejected": {"caller": pre, "receiver": pre, "stranger": nf},
			"missed":   {"caller": pre, "receiver": pre, "stranger": nf},
		},
	}
	for action, states := range want {
		for st, byActor := range states {
			for actor, wantCode := range byActor {
				cid := newCall(st)
				err := actions[action](e.client(t, actors[actor], false), cid)
				if (wantCode == ok) != (err == nil) || (err != nil && code(err) != wantCode) {
					t.Errorf("%s by %s on a %s call: %v, want %v", action, actor, st, err, wantCode)
				}
			}
		}
	}
	// A token for a room that is not a call's, or for another pair's call, is refused.
	for _, room := range []string{"room-" + id.New().String(), id.New().String(), "anything"} {
		if err := actions["token"](e.client(t, alice, false), room); code(err) != deny {
			t.Errorf("token for %q: %v", room, err)
		}
	}
	if got := e.kinds(t, mallory); got != "" {
		t.Errorf("the stranger got events: %s", got)
	}
}

// TestTokenClaims verifies the Twilio Video token with golang-jwt.
func TestTokenClaims(t *testing.T) {
	for name, tc := range map[string]struct {
		tw             config.Twilio
		iss, sub, key  string
		ttl            time.Duration
		configured     bool
		healthDevTwilo bool
	}{
		"api key":    {tw: testTwilio, iss: testTwilio.APIKeySID, sub: testTwilio.AccountSID, key: testTwilio.APIKeySecret, ttl: 600 * time.Second, configured: true},
		"auth token": {tw: config.Twilio{AccountSID: "ACx", AuthToken: "tok", TokenTTLSeconds: 7200}, iss: "ACx", sub: "ACx", key: "tok", ttl: 2 * time.Hour, configured: true},
		"dev key":    {tw: config.Twilio{TokenTTLSeconds: 3600}, iss: devKeySID, sub: devAccountSID, key: devKeySecret, ttl: time.Hour, healthDevTwilo: true},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, Options{Twilio: tc.tw})
			ctx := context.Background()
			alice, bob := e.user(t, "alice"), e.user(t, "bob")
			in, err := e.client(t, alice, false).InitiateCall(ctx, connect.NewRequest(&callv1.InitiateCallRequest{ReceiverId: bob.String()}))
			if err != nil {
				t.Fatal(err)
			}
			before := time.Now().Truncate(time.Second)
			res, err := e.client(t, bob, true).CreateCallToken(ctx, connect.NewRequest(&callv1.CreateCallTokenRequest{RoomName: in.Msg.Call.Id}))
			if err != nil {
				t.Fatal(err)
			}
			if res.Msg.Identity != bob.String() || res.Msg.RoomName != in.Msg.Call.Id {
				t.Fatalf("response: %v", res.Msg)
			}
			var claims struct {
				jwt.RegisteredClaims
				Grants struct {
					Identity string `json:"identity"`
					Video    struct {
						Room string `json:"room"`
					} `json:"video"`
				} `json:"grants"`
			}
			tok, err := jwt.ParseWithClaims(res.Msg.Token, &claims, func(*jwt.Token) (any, error) { return []byte(tc.key), nil },
				jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(tc.iss), jwt.WithSubject(tc.sub), jwt.WithExpirationRequired())
			if err != nil {
				t.Fatal(err)
			}
			if tok.Header["cty"] != "twilio-fpa;v=1" || tok.Header["typ"] != "JWT" {
				t.Fatalf("header: %v", tok.Header)
			}
			if claims.Grants.Identity != bob.String() || claims.Grants.Video.Room != in.Msg.Call.Id || !strings.HasPrefix(claims.ID, tc.iss+"-") {
				t.Fatalf("claims: %+v", claims)
			}
			exp := claims.ExpiresAt.Time
			if exp.Before(before.Add(tc.ttl)) || exp.After(time.Now().Add(tc.ttl)) || !exp.Equal(res.Msg.ExpiresAt.AsTime()) {
				t.Fatalf("exp %v, want now+%v (%v)", exp, tc.ttl, res.Msg.ExpiresAt.AsTime())
			}
			cfg, err := e.client(t, bob, false).GetCallConfig(ctx, connect.NewRequest(&callv1.GetCallConfigRequest{}))
			if err != nil || cfg.Msg.TwilioConfigured != tc.configured || cfg.Msg.TokenTtlSeconds != int32(tc.ttl/time.Second) || cfg.Msg.RingTimeoutSeconds != 45 {
				t.Fatalf("config: %v %v", cfg, err)
			}
			hr, err := http.Get(e.url + "/health")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(hr.Body)
			hr.Body.Close()
			var health map[string]any
			_ = json.Unmarshal(body, &health)
			if (health["twilio"] == "dev-key") != tc.healthDevTwilo {
				t.Fatalf("health: %s", body)
			}
		})
	}
}

func TestStrictRefusesDevKey(t *testing.T) {
	_, err := NewTier(tiertest.Deps(), Options{Strict: true, Twilio: config.Twilio{AccountSID: "ACx", APIKeySID: "SKx", TokenTTLSeconds: 3600}})
	if !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("strict without a key secret: %v", err)
	}
	e := newEnv(t, Options{Strict: true}) // with credentials it starts
	if e.url == "" {
		t.Fatal("no tier")
	}
}

// TestRingTimeoutMissed: the sweeper marks an unanswered call missed once,
// tells both sides and logs "Missed video call"; late accepts get 409.
func TestRingTimeoutMissed(t *testing.T) {
	e := newEnv(t, Options{RingTimeout: time.Second, SweepEvery: 100 * time.Millisecond})
	ctx := context.Background()
	alice, bob, mallory := e.user(t, "alice"), e.user(t, "bob"), e.user(t, "mallory")
	in, err := e.client(t, alice, false).InitiateCall(ctx, connect.NewRequest(&callv1.InitiateCallRequest{ReceiverId: bob.String()}))
	if err != nil {
		t.Fatal(err)
	}
	cid := in.Msg.Call.Id
	// A second sweeper on the same database (another replica) must not
	// double-report.
	other := &Service{o: Options{Pub: e.bus, Chat: chatv1connect.NewChatInternalServiceClient(&http.Client{}, e.chatURL, tier.InternalClientOptions(tiertest.InternalToken)...)},
		st: &store{db: e.pool}, ring: time.Second, log: tiertest.Deps().Log}
	deadline := time.Now().Add(20 * time.Second)
	for {
		other.sweep(ctx)
		g, err := e.client(t, bob, false).GetCall(ctx, connect.NewRequest(&callv1.GetCallRequest{CallId: cid}))
		if err != nil {
			t.Fatal(err)
		}
		if g.Msg.Call.Status == callv1.CallStatus_CALL_STATUS_MISSED {
			if g.Msg.Call.EndedAt == nil || g.Msg.Call.DurationSeconds != 0 {
				t.Fatalf("missed call: %v", g.Msg.Call)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("call never became missed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The sweeper that marked the call missed (either one) signals and logs
	// it after its commit: wait for those effects (a double report never matches).
	const wantLog = "call-started:Video call started|call-missed:Missed video call"
	for {
		caller, receiver, log := e.kinds(t, alice), e.kinds(t, bob), strings.Join(e.chatLog(t, cid), "|")
		if caller == "call-missed" && receiver == "incoming-call,call-missed" && log == wantLog {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("caller events %q, receiver events %q, chat log %q", caller, receiver, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := e.kinds(t, mallory); got != "" {
		t.Fatalf("stranger events: %s", got)
	}
	if _, err := e.client(t, bob, false).AcceptCall(ctx, connect.NewRequest(&callv1.AcceptCallRequest{CallId: cid})); code(err) != connect.CodeFailedPrecondition {
		t.Fatalf("late accept: %v", err)
	}
}

// TestAcceptAfterTimeoutBeforeSweep: a call past its ring timeout cannot be
// accepted even if no sweeper ran yet.
func TestAcceptAfterTimeoutBeforeSweep(t *testing.T) {
	e := newEnv(t, Options{SweepEvery: time.Hour})
	ctx := context.Background()
	alice, bob := e.user(t, "alice"), e.user(t, "bob")
	in, err := e.client(t, alice, false).InitiateCall(ctx, connect.NewRequest(&callv1.InitiateCallRequest{ReceiverId: bob.String()}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE calls SET created_at = now() - interval '1 hour' WHERE id = $1`, in.Msg.Call.Id); err != nil {
		t.Fatal(err)
	}
	_, err = e.client(t, bob, false).AcceptCall(ctx, connect.NewRequest(&callv1.AcceptCallRequest{CallId: in.Msg.Call.Id}))
	if code(err) != connect.CodeFailedPrecondition || !strings.Contains(err.Error(), "missed") {
		t.Fatalf("accept after timeout: %v", err)
	}
	_, err = e.client(t, alice, false).CreateCallToken(ctx, connect.NewRequest(&callv1.CreateCallTokenRequest{RoomName: in.Msg.Call.Id}))
	if code(err) != connect.CodeFailedPrecondition || !strings.Contains(err.Error(), "missed") {
		t.Fatalf("token after timeout: %v", err)
	}
}

func TestBadInputAndBlocks(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	alice, bob, carol := e.user(t, "alice"), e.user(t, "bob"), e.user(t, "carol")
	if _, err := e.pool.Exec(ctx, `INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2), ($3, $4)`, bob.String(), alice.String(), alice.String(), carol.String()); err != nil {
		t.Fatal(err)
	}
	ca := e.client(t, alice, true)
	for name, tc := range map[string]struct {
		call func() error
		want connect.Code
	}{
		"self": {func() error {
			_, err := ca.InitiateCall(ctx, connect.NewRequest(&callv1.InitiateCallRequest{ReceiverId: alice.String()}))
			return err
		}, connect.CodeInvalidArgument},
		"blocked by receiver": {func() error {
			_, err := ca.InitiateCall(ctx, connect.NewRequest(&callv1.InitiateCallRequest{ReceiverId: bob.String()}))
			return err
		}, connect.CodeNotFound},
		"receiver blocked by caller": {func() error {
			_, err := ca.InitiateCall(ctx, connect.NewRequest(&callv1.InitiateCallRequest{ReceiverId: carol.String()}))
			return err
		}, connect.CodeNotFound},
		"unknown receiver": {func() error {
			_, err := ca.InitiateCall(ctx, connect.NewRequest(&callv1.InitiateCallRequest{ReceiverId: id.New().String()}))
			return err
		}, connect.CodeNotFound},
		"bad receiver id": {func() error {
			_, err := ca.InitiateCall(ctx, connect.NewRequest(&callv1.InitiateCallRequest{ReceiverId: "nope"}))
			return err
		}, connect.CodeInvalidArgument},
		"bad type": {func() error {
			_, err := ca.InitiateCall(ctx, connect.NewRequest(&callv1.InitiateCallRequest{ReceiverId: carol.String(), Type: 9}))
			return err
		}, connect.CodeInvalidArgument},
		"empty room": {func() error {
			_, err := ca.CreateCallToken(ctx, connect.NewRequest(&callv1.CreateCallTokenRequest{}))
			return err
		}, connect.CodeInvalidArgument},
		"long room": {func() error {
			_, err := ca.CreateCallToken(ctx, connect.NewRequest(&callv1.CreateCallTokenRequest{RoomName: strings.Repeat("r", 129)}))
			return err
		}, connect.CodeInvalidArgument},
		"bad call id": {func() error {
			_, err := ca.AcceptCall(ctx, connect.NewRequest(&callv1.AcceptCallRequest{CallId: "x"}))
			return err
		}, connect.CodeInvalidArgument},
		"unknown call": {func() error {
			_, err := ca.EndCall(ctx, connect.NewRequest(&callv1.EndCallRequest{CallId: id.New().String()}))
			return err
		}, connect.CodeNotFound},
		"bad cursor": {func() error {
			_, err := ca.ListCallHistory(ctx, connect.NewRequest(&callv1.ListCallHistoryRequest{Page: &commonv1.PageRequest{Cursor: "!!"}}))
			return err
		}, connect.CodeInvalidArgument},
		"no token": {func() error {
			_, err := callv1connect.NewCallServiceClient(e.h1, e.url).InitiateCall(ctx, connect.NewRequest(&callv1.InitiateCallRequest{ReceiverId: bob.String()}))
			return err
		}, connect.CodeUnauthenticated},
	} {
		if err := tc.call(); code(err) != tc.want {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	var n int
	_ = e.pool.QueryRow(ctx, `SELECT count(*) FROM calls`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d calls created by refused requests", n)
	}
}

func TestHistoryPaging(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	alice, bob, carol := e.user(t, "alice"), e.user(t, "bob"), e.user(t, "carol")
	var ids []string
	for i := 0; i < 5; i++ {
		from, to := alice, bob
		if i%2 == 1 {
			from, to = carol, alice // alice as receiver too
		}
		in, err := e.client(t, from, false).InitiateCall(ctx, connect.NewRequest(&callv1.InitiateCallRequest{ReceiverId: to.String()}))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, in.Msg.Call.Id)
	}
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		res, err := e.client(t, alice, false).ListCallHistory(ctx, connect.NewRequest(&callv1.ListCallHistoryRequest{Page: &commonv1.PageRequest{Limit: 2, Cursor: cursor}}))
		if err != nil || pages > 3 {
			t.Fatal(err, pages)
		}
		for _, c := range res.Msg.Calls {
			got = append(got, c.Id)
		}
		if cursor = res.Msg.Page.NextCursor; cursor == "" {
			break
		}
	}
	want := []string{ids[4], ids[3], ids[2], ids[1], ids[0]}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("pages: %v want %v", got, want)
	}
}

// TestSweeperStopsOnShutdown: the ring-timeout loop ends with its context.
func TestSweeperStopsOnShutdown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{o: Options{Ctx: ctx, SweepEvery: 10 * time.Millisecond}, st: &store{db: pgtest.New(t)}, ring: time.Second, log: tiertest.Deps().Log}
	done := make(chan struct{})
	go func() { s.sweepLoop(); close(done) }()
	time.Sleep(50 * time.Millisecond) // let it sweep a few times
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the sweeper outlived its context")
	}
}
