// Package sms delivers OTP codes: through Twilio's Messages API, through
// Twilio Verify (which generates and checks the code itself, behind Twilio's
// fraud guard), or, in development, to the console and an optional sink file.
package sms

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	twclient "github.com/twilio/twilio-go/client"
	twapi "github.com/twilio/twilio-go/rest/api/v2010"
	twverify "github.com/twilio/twilio-go/rest/verify/v2"

	"github.com/infliq/infliq/backend/auth/phone"
	"github.com/infliq/infliq/backend/platform/config"
)

// Provider sends codes.
type Provider interface {
	// Delegated reports that the provider generates and checks codes
	// (Twilio Verify): Send gets no code and Check must be used.
	Delegated() bool
	// Send delivers code to phone (E.164); code is empty when Delegated.
	Send(ctx context.Context, phone, code string) error
	// Check asks the provider whether code is right (Delegated only).
	Check(ctx context.Context, phone, code string) (bool, error)
}

// Message is the SMS text, as the legacy backend sent it.
func Message(code string) string { return "Your INFLIQ verification code is: " + code }

// New picks the provider cfg describes. Without Twilio credentials it is the
// development sender, which only works in development and test.
func New(tw config.Twilio, appEnv string, sinkFile string, log *slog.Logger) (Provider, error) {
	if !tw.SMSConfigured() {
		dev := appEnv == "development" || appEnv == "test"
		if !dev {
			log.Warn("no SMS provider configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_PHONE_NUMBER or TWILIO_VERIFY_SERVICE_SID): send-otp will fail")
			return unavailable{}, nil
		}
		return NewDev(log, sinkFile), nil
	}
	c := &twclient.Client{
		Credentials: twclient.NewCredentials(tw.AccountSID, tw.AuthToken),
		HTTPClient: &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
	}
	c.SetAccountSid(tw.AccountSID)
	var base twclient.BaseClient = c
	if tw.BaseURL != "" {
		u, err := url.Parse(tw.BaseURL)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("sms: TWILIO_API_BASE_URL must be an http(s) URL")
		}
		base = hostOverride{BaseClient: c, base: u}
	}
	if tw.VerifyServiceSID != "" {
		return &verify{api: twverify.NewApiServiceWithClient(base), service: tw.VerifyServiceSID}, nil
	}
	return &messages{api: twapi.NewApiServiceWithClient(base), from: tw.PhoneNumber}, nil
}

// hostOverride sends every Twilio request to base (tests run a fake there).
type hostOverride struct {
	twclient.BaseClient
	base *url.URL
}

func (h hostOverride) SendRequest(method, rawURL string, data url.Values, headers map[string]any, body ...byte) (*http.Response, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	u.Scheme, u.Host = h.base.Scheme, h.base.Host
	return h.BaseClient.SendRequest(method, u.String(), data, headers, body...)
}

// messages sends the code as an SMS.
type messages struct {
	api  *twapi.ApiService
	from string
}

func (m *messages) Delegated() bool { return false }

func (m *messages) Send(_ context.Context, to, code string) error {
	p := &twapi.CreateMessageParams{}
	p.SetTo(to).SetFrom(m.from).SetBody(Message(code))
	if _, err := m.api.CreateMessage(p); err != nil {
		return fmt.Errorf("sms: twilio messages: %w", err)
	}
	return nil
}

func (m *messages) Check(context.Context, string, string) (bool, error) {
	return false, errors.New("sms: Check on a non-delegated provider")
}

// verify uses Twilio Verify.
type verify struct {
	api     *twverify.ApiService
	service string
}

func (v *verify) Delegated() bool { return true }

func (v *verify) Send(_ context.Context, to, _ string) error {
	p := &twverify.CreateVerificationParams{}
	p.SetTo(to).SetChannel("sms")
	if _, err := v.api.CreateVerification(v.service, p); err != nil {
		return fmt.Errorf("sms: twilio verify: %w", err)
	}
	return nil
}

func (v *verify) Check(_ context.Context, to, code string) (bool, error) {
	p := &twverify.CreateVerificationCheckParams{}
	p.SetTo(to).SetCode(code)
	res, err := v.api.CreateVerificationCheck(v.service, p)
	if err != nil {
		// Twilio answers 404 once a verification expired, was approved or
		// ran out of tries: that is a wrong code, not an outage.
		var te *twclient.TwilioRestError
		if errors.As(err, &te) && te.Status == http.StatusNotFound {
			return false, nil
		}
		return false, fmt.Errorf("sms: twilio verify check: %w", err)
	}
	return res.Status != nil && *res.Status == "approved", nil
}

// Dev logs codes (development only) and appends "phone code" lines to a sink
// file when one is set, for automated end-to-end tests.
type Dev struct {
	log  *slog.Logger
	mu   sync.Mutex
	sink string
}

// NewDev returns the development sender.
func NewDev(log *slog.Logger, sinkFile string) *Dev { return &Dev{log: log, sink: sinkFile} }

func (d *Dev) Delegated() bool { return false }

func (d *Dev) Send(ctx context.Context, to, code string) error {
	// Development only (New never builds Dev elsewhere): the code is the
	// point of this log line.
	d.log.InfoContext(ctx, "dev OTP (no SMS provider configured)", "phone", to, "otp", code)
	if d.sink == "" {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	f, err := os.OpenFile(d.sink, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("sms: dev sink: %w", err)
	}
	_, err = fmt.Fprintf(f, "%s %s\n", to, code)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// LastCodes reads a dev sink file and returns the last code sent to each
// phone (end-to-end tests log in with it).
func LastCodes(sinkFile string) (map[string]string, error) {
	f, err := os.Open(sinkFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	codes := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if p, c, ok := strings.Cut(sc.Text(), " "); ok {
			codes[p] = c
		}
	}
	return codes, sc.Err()
}

func (d *Dev) Check(context.Context, string, string) (bool, error) {
	return false, errors.New("sms: Check on a non-delegated provider")
}

// unavailable refuses to send: outside development a missing provider must
// not pretend to work, nor print codes.
type unavailable struct{}

func (unavailable) Delegated() bool { return false }

func (unavailable) Send(_ context.Context, to, _ string) error {
	return fmt.Errorf("sms: no provider configured (to %s)", phone.Mask(to))
}

func (unavailable) Check(context.Context, string, string) (bool, error) {
	return false, errors.New("sms: no provider configured")
}
