package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/infliq/infliq/backend/auth/sms"
	"github.com/infliq/infliq/backend/platform/pgtest"
)

// stack is `infliq all` started by a test against the stores it names.
type stack struct {
	base, sink string
	stop       func()
	client     *http.Client
}

// startStack runs every tier in this process on free ports with env set,
// waits for the gateway, and drains it when the test ends.
func startStack(t testing.TB, env map[string]string) *stack {
	t.Helper()
	sink := filepath.Join(t.TempDir(), "otp-sink")
	base := map[string]string{
		"LOG_LEVEL": "error", "OTP_DEV_SINK_FILE": sink, "RATE_LIMIT_MAX": "100000", "OTP_MAX_PER_IP_PER_WINDOW": "100000",
		"CHAT_SEND_RATE": "100000", "CHAT_SEND_BURST": "100000",
	}
	for k, v := range env {
		base[k] = v
	}
	ports, _, stop := runAllFor(t, base)
	s := &stack{base: fmt.Sprintf("http://127.0.0.1:%d", ports["gateway"]), sink: sink,
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	s.stop = func() {
		stop()
		s.client.CloseIdleConnections()
	}
	t.Cleanup(s.client.CloseIdleConnections)
	return s
}

// call sends a JSON request and decodes a JSON answer; status 0 is a
// transport error.
func (s *stack) call(method, path, tok string, body any) (int, map[string]any) {
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, s.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := s.client.Do(req)
	if err != nil {
		return 0, nil
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// randomPhone is a 10-digit number no other test uses.
func randomPhone() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(899999999))
	return fmt.Sprintf("9%09d", n.Int64()+100000000)
}

// login signs a new user in by phone OTP and returns the token and user id.
func (s *stack) login(t testing.TB) (tok, uid string) {
	t.Helper()
	phone := randomPhone()
	if st, body := s.call("POST", "/api/auth/send-otp", "", map[string]any{"phone": phone}); st != 200 {
		t.Fatalf("send-otp: %d %v", st, body)
	}
	codes, err := sms.LastCodes(s.sink)
	if err != nil {
		t.Fatal(err)
	}
	st, body := s.call("POST", "/api/auth/verify-otp", "", map[string]any{"phone": phone, "otp": codes["+91"+phone]})
	tok, _ = body["token"].(string)
	u, _ := body["user"].(map[string]any)
	uid, _ = u["_id"].(string)
	if st != 200 || tok == "" || uid == "" {
		t.Fatalf("verify-otp: %d %v", st, body)
	}
	return tok, uid
}

// coreFlows is one user's round of the tiers' core flows: post create, feed
// read, chat send to a peer. It returns the first failure.
func (s *stack) coreFlows(tok, peer string, i int) error {
	if st, body := s.call("POST", "/api/posts", tok, map[string]any{"content": fmt.Sprintf("post %d", i)}); st != 201 && st != 200 {
		return fmt.Errorf("create post: %d %v", st, body)
	}
	if st, body := s.call("GET", "/api/feed", tok, nil); st != 200 {
		return fmt.Errorf("feed: %d %v", st, body)
	}
	if st, body := s.call("POST", "/infliq.feed.v1.FeedService/GlobalFeed", tok, map[string]any{}); st != 200 {
		return fmt.Errorf("global feed: %d %v", st, body)
	}
	st, body := s.call("POST", "/infliq.chat.v1.ChatService/CreateChat", tok, map[string]any{"participantIds": []string{peer}})
	chat, _ := body["chat"].(map[string]any)
	chatID, _ := chat["id"].(string)
	if st != 200 || chatID == "" {
		return fmt.Errorf("create chat: %d %v", st, body)
	}
	if st, body := s.call("POST", "/infliq.chat.v1.ChatService/SendMessage", tok, map[string]any{
		"chatId": chatID, "text": fmt.Sprintf("hello %d", i), "clientMessageId": fmt.Sprintf("m-%s-%d", tok[len(tok)-8:], i),
	}); st != 200 {
		return fmt.Errorf("send message: %d %v", st, body)
	}
	return nil
}

// TestCoreFlowsThroughPgBouncer runs the tiers behind PgBouncer in
// transaction mode (DB_PGBOUNCER=true) with a small server pool, so
// consecutive statements of one client connection run on different server
// connections: login, post create, feed reads and chat sends from many
// users at once must all succeed, and migrations must take their lock
// without a session advisory lock.
func TestCoreFlowsThroughPgBouncer(t *testing.T) {
	dsn := pgtest.NewDSN(t)
	b := pgtest.StartPgBouncer(t, dsn)
	s := startStack(t, map[string]string{
		"DATABASE_URL": b.DSN(dsn), "DB_PGBOUNCER": "true", "MIGRATE_ON_START": "true",
		"REDIS_URL": "redis://127.0.0.1:6379/0",
	})
	const users = 12
	toks, uids := make([]string, users), make([]string, users)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, uid := s.login(t)
			mu.Lock()
			toks[i], uids[i] = tok, uid
			mu.Unlock()
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	errs := make(chan error, users*3)
	for i := range users {
		for round := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.coreFlows(toks[i], uids[(i+1)%users], round); err != nil {
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
