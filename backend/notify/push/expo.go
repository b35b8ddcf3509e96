package push

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// expoMessage is one message of Expo's send API.
type expoMessage struct {
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

// ticket is Expo's answer for one message (same order as sent).
type ticket struct {
	Status  string `json:"status"`
	ID      string `json:"id"`
	Message string `json:"message"`
	Details struct {
		Error string `json:"error"`
	} `json:"details"`
}

// receipt reports what became of one ticket.
type receipt = ticket

// maxPerRequest is Expo's limit of messages in one send request, and
// maxReceiptIDs of ids in one receipts request.
const (
	maxPerRequest = 100
	maxReceiptIDs = 1000
)

// expoError is a failed request as a whole.
type expoError struct {
	Status     int // 0: the request did not get an answer
	RetryAfter time.Duration
	Code       string // Expo's error code, if it sent one
	cause      error
}

func (e *expoError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("expo: request failed: %v", e.cause)
	}
	return fmt.Sprintf("expo: HTTP %d %s", e.Status, e.Code)
}

// Retryable: the network, 429, 5xx, and credentials (which an operator can
// fix while the job backs off). Other 4xx answers are about the request
// itself and would fail again.
func (e *expoError) Retryable() bool {
	return e.Status == 0 || e.Status == http.StatusTooManyRequests || e.Status >= 500 ||
		e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
}

type expoClient struct {
	sendURL, receiptsURL string
	token                string
	hc                   *http.Client
}

func newExpoClient(cfg Config) *expoClient {
	hc := cfg.HTTPClient
	if hc == nil {
		d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
		var p http.Protocols
		p.SetHTTP2(true)
		if cfg.H2C {
			p.SetUnencryptedHTTP2(true)
		} else {
			p.SetHTTP1(true)
		}
		hc = &http.Client{Timeout: cfg.HTTPTimeout, Transport: &http.Transport{
			DialContext:         d.DialContext,
			Protocols:           &p,
			ForceAttemptHTTP2:   true,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second,
		}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return &expoClient{
		sendURL:     cfg.ExpoPushURL,
		receiptsURL: strings.TrimSuffix(cfg.ExpoPushURL, "/send") + "/getReceipts",
		token:       cfg.AccessToken,
		hc:          hc,
	}
}

// post sends v as JSON (gzip above 1 KiB, as Expo's SDKs do) and decodes
// the "data" member of the answer into out.
func (c *expoClient) post(ctx context.Context, url string, v, out any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	body, gz := raw, false
	if len(raw) > 1024 {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		_, _ = zw.Write(raw)
		_ = zw.Close()
		body, gz = buf.Bytes(), true
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return &expoError{cause: err}
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return &expoError{cause: err}
	}
	var env struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Code string `json:"code"`
		} `json:"errors"`
	}
	_ = json.Unmarshal(rb, &env)
	if resp.StatusCode != http.StatusOK || len(env.Data) == 0 {
		e := &expoError{Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}
		if len(env.Errors) > 0 {
			e.Code = env.Errors[0].Code
		}
		if e.Status == http.StatusOK {
			e.Status = http.StatusBadGateway // 200 without data: treat as a server fault
		}
		return e
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return &expoError{Status: http.StatusBadGateway, Code: "BAD_RESPONSE", cause: err}
	}
	return nil
}

func (c *expoClient) send(ctx context.Context, msgs []expoMessage) ([]ticket, error) {
	var t []ticket
	if err := c.post(ctx, c.sendURL, msgs, &t); err != nil {
		return nil, err
	}
	return t, nil
}

func (c *expoClient) receipts(ctx context.Context, ids []string) (map[string]receipt, error) {
	out := map[string]receipt{}
	if err := c.post(ctx, c.receiptsURL, map[string]any{"ids": ids}, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// retryAfter reads a Retry-After header (seconds or an HTTP date), capped
// at an hour.
func retryAfter(h string) time.Duration {
	if h == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && n > 0 {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = time.Until(t)
	}
	if d < 0 {
		return 0
	}
	return min(d, time.Hour)
}
