package call

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"

	callv1 "github.com/infliq/infliq/backend/gen/infliq/call/v1"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
)

// BenchmarkSign is the Twilio token signing alone (twilio-go's jwt).
func BenchmarkSign(b *testing.B) {
	s := newSigner(testTwilio)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.sign("0123456789abcdef01234567", "0123456789abcdef01234567", now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateCallToken is one token RPC over loopback (Connect,
// protobuf): authn, the participant query and the signing.
func BenchmarkCreateCallToken(b *testing.B) {
	e := newEnv(b, Options{})
	ctx := context.Background()
	alice, bob := e.user(b, "alice"), e.user(b, "bob")
	in, err := e.client(b, alice, false).InitiateCall(ctx, connect.NewRequest(&callv1.InitiateCallRequest{ReceiverId: bob.String()}))
	if err != nil {
		b.Fatal(err)
	}
	cl := e.client(b, bob, false)
	req := &callv1.CreateCallTokenRequest{RoomName: in.Msg.Call.Id}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := cl.CreateCallToken(ctx, connect.NewRequest(req)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkLegacyToken is POST /api/calls/token through the gateway and the
// legacy router to the call tier, all in this process, over loopback.
func BenchmarkLegacyToken(b *testing.B) {
	e := newEdge(b)
	alice, bob := e.user(b, "alice"), e.user(b, "bob")
	in, err := e.client(b, alice, false).InitiateCall(context.Background(), connect.NewRequest(&callv1.InitiateCallRequest{ReceiverId: bob.String()}))
	if err != nil {
		b.Fatal(err)
	}
	tok, body := tiertest.Token(b, bob), `{"roomName":"`+in.Msg.Call.Id+`"}`
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if st, _ := e.do(b, "POST", "/api/calls/token", tok, body); st != 200 {
				b.Errorf("status %d", st)
				return
			}
		}
	})
}

// BenchmarkInitiateCall is one InitiateCall over loopback: the INSERT, the
// incoming-call publish and the chat log (an AppendSystemMessage RPC to the
// chat tier), sequentially.
func BenchmarkInitiateCall(b *testing.B) {
	e := newEnv(b, Options{})
	alice, bob := e.user(b, "alice"), e.user(b, "bob")
	cl := e.client(b, alice, false)
	req := &callv1.InitiateCallRequest{ReceiverId: bob.String()}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cl.InitiateCall(context.Background(), connect.NewRequest(req)); err != nil {
			b.Fatal(err)
		}
	}
}
