package devstack

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestSharedTokenRace: processes starting together agree on one token,
// stored readable by the owner only.
func TestSharedTokenRace(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	toks := make([]string, 24)
	var wg sync.WaitGroup
	for i := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := SharedToken(dir)
			if err != nil {
				t.Error(err)
			}
			toks[i] = tok
		}()
	}
	wg.Wait()
	for _, tok := range toks {
		if tok != toks[0] || len(tok) != 64 {
			t.Fatalf("tokens differ or are short: %q vs %q", tok, toks[0])
		}
	}
	st, err := os.Stat(filepath.Join(dir, tokenFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v, want 0600", st.Mode().Perm())
	}
	if RandomToken() == RandomToken() {
		t.Fatal("random tokens repeat")
	}
}
