package realtime

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/infliq/infliq/backend/platform/tier/tiertest"
	"github.com/infliq/infliq/compat/socketio/sioclient"
)

// metricValue reads one unlabelled sample from a tier's /metrics.
func metricValue(t *testing.T, base, name string) float64 {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	t.Fatalf("no %s in /metrics", name)
	return 0
}

// TestSendAckAndEchoInOneWrite: a sender gets its ack and the room's echo
// of its message in one websocket write and exactly one echo (the bus copy
// is not sent again); the other member gets one write per message.
func TestSendAckAndEchoInOneWrite(t *testing.T) {
	st := newStack(t)
	alice, bob := st.user(t, "alice"), st.user(t, "bob")
	chatID := st.directChat(t, alice, bob)
	r1 := st.replica(t, testConfig())
	dial := func(uid string, tok string) *sioclient.Conn {
		c, err := sioclient.Dial(r1, "/socket.io/", tok)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		if err := c.Emit(0, "join-chat", chatID); err != nil {
			t.Fatal(err)
		}
		if p, err := c.Read(); err != nil || !strings.Contains(string(p.Args[0]), `"ok":true`) {
			t.Fatalf("%s join: %+v %v", uid, p, err)
		}
		return c
	}
	a, b := dial("alice", tiertest.Token(t, alice)), dial("bob", tiertest.Token(t, bob))
	w0 := metricValue(t, r1, "infliq_realtime_socket_writes_total")
	p0 := metricValue(t, r1, "infliq_realtime_socket_packets_total")
	const n = 10
	for i := 1; i <= n; i++ {
		if err := a.Emit(i, "send-message", map[string]string{"chatId": chatID, "text": "m" + strconv.Itoa(i), "clientMessageId": "c" + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
		var acked, echoed bool
		for !acked || !echoed {
			p, err := a.Read()
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case p.Event == "" && p.AckID == i && strings.Contains(string(p.Args[0]), `"ok":true`):
				acked = true
			case p.Event == "new-message" && strings.Contains(string(p.Args[0]), `"clientMessageId":"c`+strconv.Itoa(i)+`"`):
				if echoed {
					t.Fatalf("message %d echoed twice", i)
				}
				echoed = true
			default:
				t.Fatalf("message %d: unexpected %+v", i, p)
			}
		}
		p, err := b.Read()
		if err != nil || p.Event != "new-message" || !strings.Contains(string(p.Args[0]), `"text":"m`+strconv.Itoa(i)+`"`) {
			t.Fatalf("bob, message %d: %+v %v", i, p, err)
		}
	}
	// Per message one write to alice (ack and echo) and one to bob (a bus
	// copy still coming to alice is skipped, not written): 2n writes for 3n
	// packets, where one write per packet would be 3n. A write the kernel
	// takes in two parts counts twice, so a little slack.
	w1 := metricValue(t, r1, "infliq_realtime_socket_writes_total")
	p1 := metricValue(t, r1, "infliq_realtime_socket_packets_total")
	if w1-w0 > 2*n+2 || p1-p0 != 3*n {
		t.Fatalf("%v writes for %v packets; want about %d for %d", w1-w0, p1-p0, 2*n, 3*n)
	}
	// Each send was timed in the stages an operator reads a latency tail
	// from: queued for its chat call, and handler to ack (sequential sends
	// here: one call each).
	for _, stage := range []string{"queued", "call", "total"} {
		if c := metricValue(t, r1, `infliq_realtime_send_seconds_count{stage="`+stage+`"}`); c != n {
			t.Errorf("stage %s: %v sends timed; want %d", stage, c, n)
		}
	}
	// Bob's reply travels on alice's user channel after every bus copy of
	// her own messages: nothing else may arrive before it.
	if err := b.Emit(99, "send-message", map[string]string{"chatId": chatID, "text": "reply"}); err != nil {
		t.Fatal(err)
	}
	p, err := a.Read()
	var nm struct {
		Message struct {
			Text string `json:"text"`
		} `json:"message"`
	}
	if err == nil && len(p.Args) > 0 {
		_ = json.Unmarshal(p.Args[0], &nm)
	}
	if err != nil || p.Event != "new-message" || nm.Message.Text != "reply" {
		t.Fatalf("alice after her sends: %+v %v (a duplicate echo?)", p, err)
	}
}
