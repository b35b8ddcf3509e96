package otp

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/infliq/infliq/backend/platform/cache/redistest"
)

func newStore(t testing.TB, cfg Config) (*Store, string) {
	return newStoreOn(redistest.New(t), cfg)
}

func newStoreOn(rdb redis.UniversalClient, cfg Config) (*Store, string) {
	p := redistest.Prefix()
	return New(rdb, p, []byte("test-key"), cfg), p
}

var base = Config{TTL: time.Minute, Window: time.Minute, MaxPerWindow: 3, MaxPerIPPerWindow: 5, MaxVerifyAttempts: 3}

func TestCodeIsSixDigits(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		c, err := Code()
		if err != nil || len(c) != 6 {
			t.Fatalf("%q %v", c, err)
		}
		for _, r := range c {
			if r < '0' || r > '9' {
				t.Fatalf("%q", c)
			}
		}
		seen[c] = true
	}
	if len(seen) < 190 {
		t.Fatalf("only %d distinct codes", len(seen))
	}
}

func TestSendVerifySingleUse(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		s, _ := newStoreOn(rdb, base)
		ctx := context.Background()
		const ph = "+919876543210"
		if lim, _, err := s.Send(ctx, ph, "10.0.0.1", "123456"); err != nil || lim != NotLimited {
			t.Fatal(lim, err)
		}
		if o, _ := s.Verify(ctx, "+919876543211", "123456"); o != Missing {
			t.Fatalf("other phone: %v", o)
		}
		if o, err := s.Verify(ctx, ph, "123456"); err != nil || o != Match {
			t.Fatal(o, err)
		}
		if o, _ := s.Verify(ctx, ph, "123456"); o != Missing {
			t.Fatalf("second use: %v", o)
		}
	})
}

func TestStoredAsDigestOnly(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		s, _ := newStoreOn(rdb, base)
		ctx := context.Background()
		const ph = "+919876543210"
		if _, _, err := s.Send(ctx, ph, "", "654321"); err != nil {
			t.Fatal(err)
		}
		h, err := s.rdb.HGet(ctx, s.CodeKey(ph), "h").Result()
		if err != nil || len(h) != 64 || h == "654321" {
			t.Fatalf("stored %q %v", h, err)
		}
		ttl := s.rdb.PTTL(ctx, s.CodeKey(ph)).Val()
		if ttl <= 0 || ttl > time.Minute {
			t.Fatalf("ttl %v", ttl)
		}
	})
}

func TestResendReplacesAndResetsAttempts(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		s, _ := newStoreOn(rdb, base)
		ctx := context.Background()
		const ph = "+919876543210"
		_, _, _ = s.Send(ctx, ph, "", "111111")
		if o, _ := s.Verify(ctx, ph, "000000"); o != Wrong {
			t.Fatal(o)
		}
		_, _, _ = s.Send(ctx, ph, "", "222222")
		if o, _ := s.Verify(ctx, ph, "111111"); o != Wrong {
			t.Fatalf("old code still works: %v", o)
		}
		if o, _ := s.Verify(ctx, ph, "000000"); o != Wrong { // attempts were reset by the resend
			t.Fatal(o)
		}
		if o, _ := s.Verify(ctx, ph, "222222"); o != Match {
			t.Fatal(o)
		}
	})
}

func TestAttemptLockout(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		s, _ := newStoreOn(rdb, base)
		ctx := context.Background()
		const ph = "+919876543210"
		_, _, _ = s.Send(ctx, ph, "", "123456")
		for i, want := range []Outcome{Wrong, Wrong, Burnt, Missing} {
			if o, _ := s.Verify(ctx, ph, "999999"); o != want {
				t.Fatalf("try %d: %v, want %v", i, o, want)
			}
		}
		if o, _ := s.Verify(ctx, ph, "123456"); o != Missing {
			t.Fatalf("burnt code accepted: %v", o)
		}
	})
}

func TestExpiry(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		cfg := base
		cfg.TTL = 50 * time.Millisecond
		s, _ := newStoreOn(rdb, cfg)
		ctx := context.Background()
		const ph = "+919876543210"
		_, _, _ = s.Send(ctx, ph, "", "123456")
		deadline := time.Now().Add(5 * time.Second)
		for { // wait for Redis to expire the key; no timing assertion
			if n, _ := s.rdb.Exists(ctx, s.CodeKey(ph)).Result(); n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("code never expired")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if o, _ := s.Verify(ctx, ph, "123456"); o != Missing {
			t.Fatalf("expired code: %v", o)
		}
	})
}

func TestRateLimits(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		s, _ := newStoreOn(rdb, base)
		ctx := context.Background()
		const ph = "+919876543210"
		for i := 0; i < 3; i++ {
			if lim, _, _ := s.Send(ctx, ph, "10.0.0.1", "123456"); lim != NotLimited {
				t.Fatalf("send %d limited", i)
			}
		}
		lim, retry, err := s.Send(ctx, ph, "10.0.0.1", "123456")
		if err != nil || lim != PhoneLimited || retry <= 0 || retry > time.Minute {
			t.Fatalf("4th send: %v %v %v", lim, retry, err)
		}
		// The IP has used 3 of 5 (the refused 4th send did not count against it).
		for i := 0; i < 2; i++ {
			if lim, _, _ := s.Send(ctx, "+9198765432"+string(rune('2'+i))+"0", "10.0.0.1", "123456"); lim != NotLimited {
				t.Fatalf("ip send %d limited", i)
			}
		}
		if lim, _, _ := s.Send(ctx, "+919876543299", "10.0.0.1", "123456"); lim != IPLimited {
			t.Fatalf("ip limit: %v", lim)
		}
		if lim, _, _ := s.Send(ctx, "+919876543299", "10.0.0.2", "123456"); lim != NotLimited {
			t.Fatalf("other ip: %v", lim)
		}
	})
}

// TestConcurrentSendsCountedOnce: dozens of parallel sends for one phone,
// from distinct IPs, get exactly MaxPerWindow codes between them.
func TestConcurrentSendsCountedOnce(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		s, _ := newStoreOn(rdb, base)
		ctx := context.Background()
		var wg sync.WaitGroup
		var ok, limited, failed atomic.Int32
		for i := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				lim, _, err := s.Send(ctx, "+919876543210", fmt.Sprintf("10.1.0.%d", i), "123456")
				switch {
				case err != nil:
					failed.Add(1)
				case lim == NotLimited:
					ok.Add(1)
				case lim == PhoneLimited:
					limited.Add(1)
				}
			}()
		}
		wg.Wait()
		if ok.Load() != int32(base.MaxPerWindow) || limited.Load() != 40-int32(base.MaxPerWindow) || failed.Load() != 0 {
			t.Fatalf("sent %d, limited %d, failed %d", ok.Load(), limited.Load(), failed.Load())
		}
	})
}

func TestDelegated(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		s, _ := newStoreOn(rdb, base)
		ctx := context.Background()
		const ph = "+919876543210"
		if o, _ := s.Verify(ctx, ph, "123456"); o != Missing {
			t.Fatal("verify before send")
		}
		_, _, _ = s.Send(ctx, ph, "", DelegatedCode)
		if o, _ := s.Verify(ctx, ph, "123456"); o != Delegated {
			t.Fatal(o)
		}
		if err := s.Consume(ctx, ph); err != nil {
			t.Fatal(err)
		}
		if o, _ := s.Verify(ctx, ph, "123456"); o != Missing {
			t.Fatal(o)
		}
	})
}

func BenchmarkSendVerify(b *testing.B) {
	s, _ := newStore(b, Config{TTL: time.Minute, Window: time.Minute, MaxPerWindow: 1 << 30, MaxPerIPPerWindow: 1 << 30, MaxVerifyAttempts: 5})
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := s.Send(ctx, "+919876543210", "10.0.0.1", "123456"); err != nil {
				b.Fatal(err)
			}
			if _, err := s.Verify(ctx, "+919876543210", "123456"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestConcurrentLimitsHold: 40 parallel sends for one phone, 40 parallel
// sends from one IP to different phones, and 40 parallel guesses at one
// code: every counter is taken in one atomic step, so exactly the limits
// pass, however the requests interleave.
func TestConcurrentLimitsHold(t *testing.T) {
	s, _ := newStore(t, Config{TTL: time.Minute, Window: time.Minute, MaxPerWindow: 5, MaxPerIPPerWindow: 7, MaxVerifyAttempts: 4})
	ctx := context.Background()
	parallel := func(n int, f func(i int) int) map[int]int {
		var mu sync.Mutex
		var wg sync.WaitGroup
		out := map[int]int{}
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				r := f(i)
				mu.Lock()
				out[r]++
				mu.Unlock()
			}(i)
		}
		close(start)
		wg.Wait()
		return out
	}
	sends := parallel(40, func(i int) int {
		lim, _, err := s.Send(ctx, "+919876543210", fmt.Sprintf("10.1.0.%d", i), "123456")
		if err != nil {
			t.Error(err)
		}
		return int(lim)
	})
	if sends[int(NotLimited)] != 5 || sends[int(PhoneLimited)] != 35 {
		t.Fatalf("one phone: %v", sends)
	}
	ips := parallel(40, func(i int) int {
		lim, _, err := s.Send(ctx, fmt.Sprintf("+9198765%05d", i), "10.2.0.1", "123456")
		if err != nil {
			t.Error(err)
		}
		return int(lim)
	})
	if ips[int(NotLimited)] != 7 || ips[int(IPLimited)] != 33 {
		t.Fatalf("one IP: %v", ips)
	}
	const ph = "+919800000001"
	if _, _, err := s.Send(ctx, ph, "", "123456"); err != nil {
		t.Fatal(err)
	}
	guesses := parallel(40, func(i int) int {
		out, err := s.Verify(ctx, ph, fmt.Sprintf("%06d", 200000+i))
		if err != nil {
			t.Error(err)
		}
		return int(out)
	})
	if guesses[int(Wrong)] != 3 || guesses[int(Burnt)] != 1 || guesses[int(Missing)] != 36 {
		t.Fatalf("guesses: %v", guesses)
	}
}
