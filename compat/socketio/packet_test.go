package socketio

import (
	"encoding/json"
	"testing"
	"time"
)

func TestDecodePacket(t *testing.T) {
	cases := []struct {
		in   string
		typ  byte
		nsp  string
		id   int64
		data string
	}{
		{"0", Connect, "/", -1, ""},
		{`0{"token":"x"}`, Connect, "/", -1, `{"token":"x"}`},
		{`2["join-chat","abc"]`, Event, "/", -1, `["join-chat","abc"]`},
		{`212["send-message",{"chatId":"a"}]`, Event, "/", 12, `["send-message",{"chatId":"a"}]`},
		{`2/admin,3["x"]`, Event, "/admin", 3, `["x"]`},
		{`1`, Disconnect, "/", -1, ""},
		{`1/admin,`, Disconnect, "/admin", -1, ""},
	}
	for _, c := range cases {
		p, err := DecodePacket([]byte(c.in))
		if err != nil || p.Type != c.typ || p.Nsp != c.nsp || p.ID != c.id || string(p.Data) != c.data {
			t.Errorf("%q: %+v %v", c.in, p, err)
		}
	}
	for _, bad := range []string{"", "9", "7[]", `2["x"`, `51-["x",{"_placeholder":true,"num":0}]`, "2999999999999999999[]"} {
		if _, err := DecodePacket([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, bad := range []string{`{}`, `[]`, `[1]`, `[""]`, `"x"`} {
		if _, _, err := DecodeEvent(json.RawMessage(bad)); err == nil {
			t.Errorf("event %q accepted", bad)
		}
	}
}

func TestEncode(t *testing.T) {
	b, err := EncodeEvent("new-message", map[string]any{"chatId": "c"}, json.RawMessage(`[1]`))
	if err != nil || string(b) != `42["new-message",{"chatId":"c"},[1]]` {
		t.Fatalf("%s %v", b, err)
	}
	b, _ = encodeAck(7, []any{map[string]bool{"ok": true}})
	if string(b) != `437[{"ok":true}]` {
		t.Fatalf("%s", b)
	}
	if got := string(joinPayload(splitPayload([]byte("2\x1e42[\"a\"]")))); got != "2\x1e42[\"a\"]" {
		t.Fatal(got)
	}
	if got := string(connectErrorPacket("/", "Unauthorized")); got != `44{"message":"Unauthorized"}` {
		t.Fatal(got)
	}
}

// FuzzDecode feeds arbitrary bytes to the Socket.IO and event decoders, as
// the server does with every client message: they must never panic, and
// whatever decodes must carry valid JSON.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{"0", `0{"token":"t"}`, `2["join-chat","64b7f0000000000000000000"]`, `21["send-message",{"chatId":"x","text":"hi"}]`,
		`2/nsp,1["a"]`, "5", `51-["a",{"_placeholder":true,"num":0}]`, "3", `2[`, "2\x00", "2/" + string(make([]byte, 300))} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePacket(b)
		if err != nil {
			return
		}
		if len(p.Data) > 0 && !json.Valid(p.Data) {
			t.Fatalf("invalid JSON accepted: %q", p.Data)
		}
		if p.Type == Event {
			_, _, _ = DecodeEvent(p.Data)
		}
		for _, pk := range splitPayload(b) {
			_ = pk
		}
	})
}

func BenchmarkDecodeEvent(b *testing.B) {
	msg := []byte(`21["send-message",{"chatId":"64b7f0000000000000000000","text":"hello there, how are you","clientMessageId":"c-1"}]`)
	b.ReportAllocs()
	for b.Loop() {
		p, err := DecodePacket(msg)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := DecodeEvent(p.Data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeEvent(b *testing.B) {
	payload := map[string]any{"chatId": "64b7f0000000000000000000", "message": map[string]any{
		"_id": "64b7f0000000000000000001", "senderId": "64b7f0000000000000000002", "text": "hello there", "type": "text", "read": false, "createdAt": "2026-11-26T23:00:00.000Z"}, "clientMessageId": nil}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeEvent("new-message", payload); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzEngine feeds arbitrary Engine.IO packets to a connected polling
// session: the protocol state machine never panics, whatever arrives.
func FuzzEngine(f *testing.F) {
	for _, s := range []string{"2", "3", "40", `40{"token":"x"}`, `42["e",1]`, `421["e"]`, "41", "1", "5", "6", "2probe", `43["x"]`, "4", `44{}`} {
		f.Add([]byte(s))
	}
	srv := NewServer(Options{PingInterval: time.Hour})
	srv.On("e", func(s *Socket, args []json.RawMessage, ack AckFunc) {
		if ack != nil {
			ack(args)
		}
	})
	f.Fuzz(func(t *testing.T, b []byte) {
		so := srv.newSocket()
		so.handleEngine([]byte("40"))
		for _, p := range splitPayload(b) {
			so.handleEngine(p)
		}
		so.close("fuzz")
	})
}

// TestFirstPingSpread: a session's first ping comes in the second half of
// the interval, at a point that varies between sessions (sockets that
// connect together are not pinged together).
func TestFirstPingSpread(t *testing.T) {
	const interval = 25 * time.Second
	lo, hi := interval, time.Duration(0)
	for range 1000 {
		d := firstPing(interval)
		if d <= interval/2 || d > interval {
			t.Fatalf("first ping at %s; want in (%s, %s]", d, interval/2, interval)
		}
		lo, hi = min(lo, d), max(hi, d)
	}
	if hi-lo < interval/4 { // 1,000 uniform draws over 12.5 s span far more
		t.Fatalf("first pings only spread over %s", hi-lo)
	}
	if d := firstPing(1); d != 1 {
		t.Fatalf("tiny interval: %s", d)
	}
}
