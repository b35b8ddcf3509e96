package httpx

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// A *_SERVICE_URL may list several replicas of a tier, comma-separated
// (http://10.0.0.1:3005,http://10.0.0.2:3005). Callers address the tier by
// its first URL; a Balancer spreads those requests over every listed
// replica. Behind one load-balanced name (a Kubernetes Service) the list has
// one entry and the Balancer does nothing.

// SplitURLs returns the URLs of a comma-separated list, trimmed.
func SplitURLs(list string) []string {
	var out []string
	for _, u := range strings.Split(list, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// FirstURL is the URL a caller addresses a tier by: the first of its list.
func FirstURL(list string) string {
	if us := SplitURLs(list); len(us) > 0 {
		return us[0]
	}
	return list
}

// downFor is how long a replica that refused a connection is skipped.
const downFor = time.Second

// Balancer is a RoundTripper that sends each request for a listed tier to
// its replicas in turn. A replica that refuses a connection is skipped for
// a second, and the request goes to the next one: refused at dial, nothing
// of it was sent, so even a proxied POST is safe to resend. Errors after the
// request went out (a replica dying mid-call) reach the caller as they are.
type Balancer struct {
	next   http.RoundTripper
	groups map[string]*replicas // by the host of the first URL
}

type replicas struct {
	hosts []string
	turn  atomic.Uint64
	mu    sync.Mutex
	down  map[string]time.Time
}

// NewBalancer balances the tiers of lists (comma-separated URL lists) over
// next; lists of one URL are left alone.
func NewBalancer(next http.RoundTripper, lists ...string) *Balancer {
	b := &Balancer{next: next, groups: map[string]*replicas{}}
	for _, l := range lists {
		us := SplitURLs(l)
		if len(us) < 2 {
			continue
		}
		g := &replicas{down: map[string]time.Time{}}
		for _, u := range us {
			if p, err := url.Parse(u); err == nil && p.Host != "" {
				g.hosts = append(g.hosts, p.Host)
			}
		}
		if len(g.hosts) > 1 {
			b.groups[g.hosts[0]] = g
		}
	}
	return b
}

// RoundTrip implements http.RoundTripper.
func (b *Balancer) RoundTrip(req *http.Request) (*http.Response, error) {
	g := b.groups[req.URL.Host]
	if g == nil {
		return b.next.RoundTrip(req)
	}
	// A body the caller can replay (connect-go sets GetBody on unary
	// calls) is fetched afresh per attempt; any other is lent, untouched,
	// to the next replica only after a refused dial.
	replay := req.GetBody != nil
	var body *heldBody
	if !replay && req.Body != nil && req.Body != http.NoBody {
		body = &heldBody{rc: req.Body}
	}
	order := g.order()
	var err error
	for i, host := range order {
		out := req.Clone(req.Context())
		out.URL.Host = host
		out.Host = host
		switch {
		case replay && i > 0:
			rb, gerr := req.GetBody()
			if gerr != nil {
				return nil, err
			}
			out.Body = rb
		case body != nil:
			body.reset()
			out.Body = body
			out.GetBody = nil
		}
		var res *http.Response
		res, err = b.next.RoundTrip(out)
		if err == nil {
			if body != nil {
				body.release()
			}
			return res, nil
		}
		again := refused(err) || (replay && idempotent(req) && closedUnanswered(err))
		if !again || (body != nil && body.touched()) || i == len(order)-1 {
			break
		}
		if refused(err) {
			g.markDown(host)
		}
	}
	if body != nil {
		body.release()
	}
	return nil, err
}

// order is this request's replicas: the next in turn first, replicas marked
// down last.
func (g *replicas) order() []string {
	n := len(g.hosts)
	start := int(g.turn.Add(1) % uint64(n))
	now := time.Now()
	up := make([]string, 0, n)
	var down []string
	g.mu.Lock()
	for i := range n {
		h := g.hosts[(start+i)%n]
		if until, ok := g.down[h]; ok && now.Before(until) {
			down = append(down, h)
		} else {
			up = append(up, h)
		}
	}
	g.mu.Unlock()
	return append(up, down...)
}

func (g *replicas) markDown(host string) {
	g.mu.Lock()
	g.down[host] = time.Now().Add(downFor)
	g.mu.Unlock()
}

// IdempotencyKeyHeader marks a request that may be sent twice (net/http
// also replays such a request on a connection the server closed).
const IdempotencyKeyHeader = "Idempotency-Key"

// idempotent reports whether req may be resent after it went out.
func idempotent(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return req.Header.Get(IdempotencyKeyHeader) != ""
}

// closedUnanswered reports a connection that ended before any answer: a
// replica shutting down closed it (or died).
func closedUnanswered(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		strings.Contains(err.Error(), "server closed idle connection")
}

// refused reports a failure to connect: the request never left.
func refused(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// heldBody lends a request body to one attempt at a time. The transport
// closes a body when a dial fails; the close is held until the balancer is
// done, so an untouched body can go to the next replica.
type heldBody struct {
	rc       io.ReadCloser
	mu       sync.Mutex
	read     bool
	closed   bool // the current attempt closed it
	released bool // closes go through
}

func (h *heldBody) Read(p []byte) (int, error) {
	h.mu.Lock()
	h.read = true
	h.mu.Unlock()
	return h.rc.Read(p)
}

func (h *heldBody) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.released {
		return h.rc.Close()
	}
	h.closed = true
	return nil
}

func (h *heldBody) reset() {
	h.mu.Lock()
	h.closed = false
	h.mu.Unlock()
}

func (h *heldBody) touched() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.read
}

// release lets closes through and performs one the attempt already made.
func (h *heldBody) release() {
	h.mu.Lock()
	h.released = true
	closed := h.closed
	h.mu.Unlock()
	if closed {
		_ = h.rc.Close()
	}
}
