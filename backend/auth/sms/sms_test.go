package sms

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/logx"
)

// fakeTwilio records requests and answers like the Twilio API.
type fakeTwilio struct {
	mu   sync.Mutex
	reqs []recorded
	// status answers every request when set.
	status int
	body   string
}

type recorded struct {
	Method, Path, User, Pass string
	Form                     url.Values
}

func (f *fakeTwilio) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	u, p, _ := r.BasicAuth()
	f.mu.Lock()
	f.reqs = append(f.reqs, recorded{r.Method, r.URL.Path, u, p, r.PostForm})
	status, body := f.status, f.body
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if status != 0 {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
		return
	}
	switch {
	case strings.HasSuffix(r.URL.Path, "/Messages.json"):
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"sid":"SM123","status":"queued"}`))
	case strings.HasSuffix(r.URL.Path, "/Verifications"):
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"sid":"VE123","status":"pending"}`))
	case strings.HasSuffix(r.URL.Path, "/VerificationCheck"):
		st := "pending"
		if r.PostForm.Get("Code") == "246810" {
			st = "approved"
		}
		_, _ = w.Write([]byte(`{"sid":"VE123","status":"` + st + `"}`))
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeTwilio) last(t *testing.T) recorded {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		t.Fatal("no request reached the fake Twilio")
	}
	return f.reqs[len(f.reqs)-1]
}

func serveFake(t *testing.T) (*fakeTwilio, string) {
	f := &fakeTwilio{}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func TestTwilioMessages(t *testing.T) {
	f, base := serveFake(t)
	p, err := New(config.Twilio{AccountSID: "AC0123", AuthToken: "tok", PhoneNumber: "+15005550006", BaseURL: base}, "production", "", logx.Discard())
	if err != nil {
		t.Fatal(err)
	}
	if p.Delegated() {
		t.Fatal("messages provider is not delegated")
	}
	if err := p.Send(context.Background(), "+919876543210", "123456"); err != nil {
		t.Fatal(err)
	}
	r := f.last(t)
	if r.Method != "POST" || r.Path != "/2010-04-01/Accounts/AC0123/Messages.json" || r.User != "AC0123" || r.Pass != "tok" {
		t.Fatalf("request %+v", r)
	}
	if r.Form.Get("To") != "+919876543210" || r.Form.Get("From") != "+15005550006" || r.Form.Get("Body") != "Your INFLIQ verification code is: 123456" {
		t.Fatalf("form %v", r.Form)
	}
	// A provider error is an error.
	f.status, f.body = 400, `{"code":21211,"message":"invalid To","status":400}`
	if err := p.Send(context.Background(), "+919876543210", "123456"); err == nil {
		t.Fatal("provider failure swallowed")
	}
}

func TestTwilioVerify(t *testing.T) {
	f, base := serveFake(t)
	p, err := New(config.Twilio{AccountSID: "AC0123", AuthToken: "tok", VerifyServiceSID: "VA999", BaseURL: base}, "production", "", logx.Discard())
	if err != nil {
		t.Fatal(err)
	}
	if !p.Delegated() {
		t.Fatal("verify provider is delegated")
	}
	ctx := context.Background()
	if err := p.Send(ctx, "+919876543210", ""); err != nil {
		t.Fatal(err)
	}
	r := f.last(t)
	if r.Path != "/v2/Services/VA999/Verifications" || r.Form.Get("To") != "+919876543210" || r.Form.Get("Channel") != "sms" {
		t.Fatalf("request %+v", r)
	}
	if ok, err := p.Check(ctx, "+919876543210", "246810"); err != nil || !ok {
		t.Fatalf("right code: %v %v", ok, err)
	}
	r = f.last(t)
	if r.Path != "/v2/Services/VA999/VerificationCheck" || r.Form.Get("Code") != "246810" || r.Form.Get("To") != "+919876543210" {
		t.Fatalf("check %+v", r)
	}
	if ok, err := p.Check(ctx, "+919876543210", "000000"); err != nil || ok {
		t.Fatalf("wrong code: %v %v", ok, err)
	}
	// Twilio's 404 (expired or spent verification) is a wrong code, not an outage.
	f.status, f.body = 404, `{"code":20404,"message":"not found","status":404}`
	if ok, err := p.Check(ctx, "+919876543210", "246810"); err != nil || ok {
		t.Fatalf("404: %v %v", ok, err)
	}
	f.status, f.body = 503, `{"code":20503,"message":"down","status":503}`
	if _, err := p.Check(ctx, "+919876543210", "246810"); err == nil {
		t.Fatal("outage swallowed")
	}
}

func TestDevSenderAndModes(t *testing.T) {
	sink := filepath.Join(t.TempDir(), "sink")
	p, err := New(config.Twilio{}, "development", sink, logx.Discard())
	if err != nil {
		t.Fatal(err)
	}
	_ = p.Send(context.Background(), "+919876543210", "111111")
	_ = p.Send(context.Background(), "+919876543211", "222222")
	b, _ := os.ReadFile(sink)
	if string(b) != "+919876543210 111111\n+919876543211 222222\n" {
		t.Fatalf("sink %q", b)
	}
	// Outside development there is no dev sender: sends fail, nothing is written.
	p, _ = New(config.Twilio{}, "production", sink, logx.Discard())
	if err := p.Send(context.Background(), "+919876543212", "333333"); err == nil || strings.Contains(err.Error(), "333333") {
		t.Fatalf("production without provider: %v", err)
	}
	if b2, _ := os.ReadFile(sink); len(b2) != len(b) {
		t.Fatal("production wrote to the sink")
	}
	if _, err := New(config.Twilio{AccountSID: "AC1", AuthToken: "t", PhoneNumber: "+1", BaseURL: "ftp://x"}, "test", "", logx.Discard()); err == nil {
		t.Fatal("bad base URL accepted")
	}
}
