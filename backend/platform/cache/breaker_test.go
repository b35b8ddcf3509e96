package cache

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestBreakerFailsFastAndRecovers freezes, kills and restarts a real
// redis-server under a client: no command waits longer than the deadline,
// the breaker then fails commands without touching the network, and once
// Redis is back a probe closes it. (Before the breaker, the probe's own
// connection handshake was refused by the open breaker and it never closed.)
func TestBreakerFailsFastAndRecovers(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	start := func() *exec.Cmd {
		c := exec.Command("redis-server", "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
		c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 200; i++ {
			if c, err := net.Dial("tcp", l.Addr().String()); err == nil {
				c.Close()
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		return c
	}
	srv := start()
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	br := NewBreaker()
	c, err := Open(context.Background(), fmt.Sprintf("redis://127.0.0.1:%d", port), Options{Timeout: 300 * time.Millisecond, Breaker: br})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	set := func() (time.Duration, error) {
		s := time.Now()
		err := c.Set(context.Background(), "breaker-test", "v", time.Minute).Err()
		return time.Since(s), err
	}
	if _, err := set(); err != nil {
		t.Fatal(err)
	}
	_ = srv.Process.Signal(syscall.SIGSTOP) // answers nothing, refuses nothing
	for i := 0; i < 10; i++ {
		took, err := set()
		if err == nil {
			t.Fatal("a frozen Redis answered")
		}
		if took > time.Second {
			t.Fatalf("a command waited %v on a frozen Redis", took)
		}
	}
	if !br.Open() {
		t.Fatal("breaker still closed after 10 failures")
	}
	if _, err := set(); !errors.Is(err, ErrOpen) {
		t.Fatalf("open breaker: %v, want ErrOpen", err)
	}
	_ = srv.Process.Kill()
	_ = srv.Wait()
	srv = start()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := set(); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("breaker never closed after Redis came back")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if br.Open() {
		t.Fatal("breaker open after a success")
	}
}
