// Package expofake is a local stand-in for Expo's push service
// (/--/api/v2/push/send and /--/api/v2/push/getReceipts), for tests, the
// benchmark harness and the development stack. Like the fake Twilio of the
// SMS tests it records every request and answers as the real API does; on
// top of that it enforces Expo's request limits (100 messages per send, 1000
// ids per receipt query) and can be scripted to fail: per token
// (DeviceNotRegistered in the ticket or in the receipt, MessageRateExceeded)
// or per request (429 with Retry-After, 5xx).
//
// It speaks HTTP/1.1 and cleartext HTTP/2 (h2c with prior knowledge) on one
// port, JSON in both directions, and accepts gzip request bodies.
package expofake

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Paths of the two endpoints, as on Expo's host.
const (
	SendPath     = "/--/api/v2/push/send"
	ReceiptsPath = "/--/api/v2/push/getReceipts"
)

// Limits Expo enforces per request.
const (
	MaxMessages = 100
	MaxReceipts = 1000
)

// Message is one push as Expo receives it (the fields INFLIQ sends).
type Message struct {
	To                string            `json:"to"`
	Title             string            `json:"title,omitempty"`
	Body              string            `json:"body,omitempty"`
	Data              map[string]string `json:"data,omitempty"`
	Priority          string            `json:"priority,omitempty"`
	InterruptionLevel string            `json:"interruptionLevel,omitempty"`
	Sound             string            `json:"sound,omitempty"`
	TTL               int               `json:"ttl,omitempty"`
	ChannelID         string            `json:"channelId,omitempty"`
}

// Request is one recorded HTTP request.
type Request struct {
	At     time.Time // when it arrived
	Path   string
	Proto  string // "HTTP/1.1" or "HTTP/2.0"
	Gzip   bool   // the body came with Content-Encoding: gzip
	Auth   string // the Authorization header, as sent
	Status int    // what the fake answered
	// Messages of a send request; Tickets holds the answer for each.
	Messages []Message
	Tickets  []Ticket
	// IDs of a receipts request.
	IDs []string

	retryAfter time.Duration
}

// Ticket is Expo's answer for one message.
type Ticket struct {
	Status  string         `json:"status"`
	ID      string         `json:"id,omitempty"`
	Message string         `json:"message,omitempty"`
	Details map[string]any `json:"details,omitempty"`
}

// Receipt is Expo's delivery report for one ticket.
type Receipt struct {
	Status  string         `json:"status"`
	Message string         `json:"message,omitempty"`
	Details map[string]any `json:"details,omitempty"`
}

type failure struct {
	status     int
	retryAfter time.Duration
}

// Server is the fake. The zero value is not usable: call New.
type Server struct {
	// AccessToken, when set, must arrive as "Authorization: Bearer <token>"
	// (Expo's enhanced push security); other requests get 401.
	AccessToken string
	// Log, when set, gets one line per delivered push (kind, title, body,
	// priority, channel; never the token): the development stack's view.
	Log *slog.Logger
	// Forget keeps nothing (no requests, deliveries or receipts) so that a
	// long-running development process does not grow; receipts queries
	// then find no ids, as for Expo's expired ones.
	Forget bool

	mu          sync.Mutex
	reqs        []Request
	delivered   []Message
	receipts    map[string]Receipt // ticket id → receipt
	seq         int
	fails       []failure
	unreg       map[string]bool // token → DeviceNotRegistered in the ticket
	unregLater  map[string]bool // token → ok ticket, DeviceNotRegistered receipt
	rateLimited map[string]int  // token → MessageRateExceeded tickets left
	hold        chan struct{}   // non-nil: send requests block until closed
	holding     chan struct{}   // signalled when a held request arrives
	srv         *http.Server
	url         string
}

// New returns a fake with no scripted errors.
func New() *Server {
	return &Server{
		receipts:    map[string]Receipt{},
		unreg:       map[string]bool{},
		unregLater:  map[string]bool{},
		rateLimited: map[string]int{},
	}
}

// Start serves on addr ("127.0.0.1:0" picks a port) and returns the send
// URL, the value EXPO_PUSH_URL takes.
func (f *Server) Start(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("expofake: %w", err)
	}
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	f.srv = &http.Server{Handler: f, Protocols: &p, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = f.srv.Serve(ln) }()
	f.url = "http://" + ln.Addr().String() + SendPath
	return f.url, nil
}

// URL is the send URL of a started fake.
func (f *Server) URL() string { return f.url }

// Close stops a started fake.
func (f *Server) Close() error {
	f.Release()
	if f.srv == nil {
		return nil
	}
	return f.srv.Close()
}

// Unregister makes every ticket for token a DeviceNotRegistered error.
func (f *Server) Unregister(token string) {
	f.mu.Lock()
	f.unreg[token] = true
	f.mu.Unlock()
}

// UnregisterOnReceipt accepts messages to token but reports
// DeviceNotRegistered in their receipts (what Expo does when APNs/FCM
// refuse the token after the ticket was issued).
func (f *Server) UnregisterOnReceipt(token string) {
	f.mu.Lock()
	f.unregLater[token] = true
	f.mu.Unlock()
}

// RateLimit answers the next n messages to token with MessageRateExceeded.
func (f *Server) RateLimit(token string, n int) {
	f.mu.Lock()
	f.rateLimited[token] += n
	f.mu.Unlock()
}

// FailNext answers the next n requests (send or receipts) with status; a
// non-zero retryAfter sets Retry-After (whole seconds, rounded up).
func (f *Server) FailNext(n, status int, retryAfter time.Duration) {
	f.mu.Lock()
	for i := 0; i < n; i++ {
		f.fails = append(f.fails, failure{status, retryAfter})
	}
	f.mu.Unlock()
}

// Hold makes send requests block (recorded, unanswered) until Release; the
// returned channel receives once per held request. Crash tests use it to
// kill a sender in the middle of a request.
func (f *Server) Hold() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hold = make(chan struct{})
	f.holding = make(chan struct{}, 1024)
	return f.holding
}

// Release lets held requests go on.
func (f *Server) Release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hold != nil {
		close(f.hold)
		f.hold = nil
	}
}

// Requests returns every recorded request, oldest first.
func (f *Server) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Request(nil), f.reqs...)
}

// Delivered returns every message that was answered with an ok ticket, in
// order: what a phone would have received.
func (f *Server) Delivered() []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Message(nil), f.delivered...)
}

// DeliveredCount is len(Delivered()) without the copy.
func (f *Server) DeliveredCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.delivered)
}

// Reset forgets recorded requests, deliveries and scripted errors.
func (f *Server) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs, f.delivered, f.fails = nil, nil, nil
	f.receipts = map[string]Receipt{}
	f.unreg, f.unregLater, f.rateLimited = map[string]bool{}, map[string]bool{}, map[string]int{}
}

// errorBody is Expo's whole-request error shape.
func errorBody(code, msg string) []byte {
	b, _ := json.Marshal(map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
	return b
}

func (f *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	rec := Request{At: time.Now(), Path: r.URL.Path, Proto: r.Proto, Auth: r.Header.Get("Authorization")}
	status, body, retryAfter := f.serve(r, &rec)
	if !f.Forget {
		f.mu.Lock()
		rec.Status = status
		f.reqs = append(f.reqs, rec)
		f.mu.Unlock()
	}
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((retryAfter+time.Second-1)/time.Second)))
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (f *Server) serve(r *http.Request, rec *Request) (int, []byte, time.Duration) {
	st, b := f.handle(r, rec)
	if st == http.StatusTooManyRequests {
		return st, b, rec.retryAfter
	}
	return st, b, 0
}

func (f *Server) handle(r *http.Request, rec *Request) (int, []byte) {
	if r.Method != http.MethodPost {
		return http.StatusMethodNotAllowed, errorBody("METHOD_NOT_ALLOWED", "POST only")
	}
	if r.URL.Path != SendPath && r.URL.Path != ReceiptsPath {
		return http.StatusNotFound, errorBody("NOT_FOUND", "no such endpoint")
	}
	if f.AccessToken != "" && r.Header.Get("Authorization") != "Bearer "+f.AccessToken {
		return http.StatusUnauthorized, errorBody("UNAUTHORIZED", "invalid access token")
	}
	var rd io.Reader = http.MaxBytesReader(nil, r.Body, 4<<20)
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(rd)
		if err != nil {
			return http.StatusBadRequest, errorBody("VALIDATION_ERROR", "bad gzip body")
		}
		defer zr.Close()
		rd, rec.Gzip = io.LimitReader(zr, 16<<20), true
	}
	raw, err := io.ReadAll(rd)
	if err != nil {
		return http.StatusBadRequest, errorBody("VALIDATION_ERROR", "unreadable body")
	}
	f.mu.Lock()
	var fail *failure
	if len(f.fails) > 0 {
		fl := f.fails[0]
		f.fails = f.fails[1:]
		fail = &fl
	}
	f.mu.Unlock()
	if r.URL.Path == ReceiptsPath {
		return f.getReceipts(raw, rec, fail)
	}
	return f.send(r, raw, rec, fail)
}

func (f *Server) failWith(rec *Request, fail *failure) (int, []byte) {
	rec.retryAfter = fail.retryAfter
	if fail.status == http.StatusTooManyRequests {
		return fail.status, errorBody("TOO_MANY_REQUESTS", "rate limit exceeded")
	}
	return fail.status, errorBody("INTERNAL_SERVER_ERROR", "scripted failure")
}

func (f *Server) send(r *http.Request, raw []byte, rec *Request, fail *failure) (int, []byte) {
	var msgs []Message
	if err := json.Unmarshal(raw, &msgs); err != nil {
		var one Message // Expo also takes a single object
		if err2 := json.Unmarshal(raw, &one); err2 != nil {
			return http.StatusBadRequest, errorBody("VALIDATION_ERROR", "body is not a message or an array of messages")
		}
		msgs = []Message{one}
	}
	rec.Messages = msgs
	if len(msgs) > MaxMessages {
		return http.StatusBadRequest, errorBody("PUSH_TOO_MANY_NOTIFICATIONS", fmt.Sprintf("you are trying to send more than %d push notifications in one request", MaxMessages))
	}
	f.mu.Lock()
	hold, holding := f.hold, f.holding
	f.mu.Unlock()
	if hold != nil {
		select {
		case holding <- struct{}{}:
		default:
		}
		select {
		case <-hold:
		case <-r.Context().Done():
			return 499, errorBody("CLIENT_GONE", "the client went away")
		}
	}
	if fail != nil {
		return f.failWith(rec, fail)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	tickets := make([]Ticket, len(msgs))
	for i, m := range msgs {
		switch {
		case !ValidToken(m.To):
			tickets[i] = Ticket{Status: "error", Message: fmt.Sprintf("%q is not a valid Expo push token", m.To),
				Details: map[string]any{"error": "DeviceNotRegistered", "expoPushToken": m.To}}
		case f.unreg[m.To]:
			tickets[i] = Ticket{Status: "error", Message: fmt.Sprintf("%q is not a registered push notification recipient", m.To),
				Details: map[string]any{"error": "DeviceNotRegistered", "expoPushToken": m.To}}
		case f.rateLimited[m.To] > 0:
			f.rateLimited[m.To]--
			tickets[i] = Ticket{Status: "error", Message: "too many messages to this device",
				Details: map[string]any{"error": "MessageRateExceeded", "expoPushToken": m.To}}
		default:
			f.seq++
			id := fmt.Sprintf("%08x-0000-4000-8000-%012x", f.seq, f.seq)
			tickets[i] = Ticket{Status: "ok", ID: id}
			if f.Log != nil {
				f.Log.Info("push (fake Expo, not sent to a phone)", "kind", m.Data["kind"], "title", m.Title, "body", m.Body,
					"priority", m.Priority, "channel", m.ChannelID)
			}
			if f.Forget {
				continue
			}
			f.delivered = append(f.delivered, m)
			if f.unregLater[m.To] {
				f.receipts[id] = Receipt{Status: "error", Message: "the device is no longer registered",
					Details: map[string]any{"error": "DeviceNotRegistered", "expoPushToken": m.To}}
			} else {
				f.receipts[id] = Receipt{Status: "ok"}
			}
		}
	}
	rec.Tickets = tickets
	b, _ := json.Marshal(map[string]any{"data": tickets})
	return http.StatusOK, b
}

func (f *Server) getReceipts(raw []byte, rec *Request, fail *failure) (int, []byte) {
	var req struct {
		IDs []string `json:"ids"`
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		return http.StatusBadRequest, errorBody("VALIDATION_ERROR", `body must be {"ids": [...]}`)
	}
	rec.IDs = req.IDs
	if len(req.IDs) > MaxReceipts {
		return http.StatusBadRequest, errorBody("PUSH_TOO_MANY_RECEIPTS", fmt.Sprintf("you are trying to get more than %d receipts in one request", MaxReceipts))
	}
	if fail != nil {
		return f.failWith(rec, fail)
	}
	f.mu.Lock()
	out := map[string]Receipt{}
	for _, id := range req.IDs {
		if rc, ok := f.receipts[id]; ok {
			out[id] = rc
		}
	}
	f.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"data": out})
	return http.StatusOK, b
}

// ValidToken reports whether s looks like an Expo push token:
// ExponentPushToken[…] or ExpoPushToken[…].
func ValidToken(s string) bool {
	var rest string
	switch {
	case strings.HasPrefix(s, "ExponentPushToken["):
		rest = s[len("ExponentPushToken["):]
	case strings.HasPrefix(s, "ExpoPushToken["):
		rest = s[len("ExpoPushToken["):]
	default:
		return false
	}
	if len(rest) < 2 || len(rest) > 257 || rest[len(rest)-1] != ']' {
		return false
	}
	for _, c := range rest[:len(rest)-1] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
