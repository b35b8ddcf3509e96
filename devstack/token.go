package devstack

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// RandomToken returns a fresh 256-bit token (hex): the internal token of a
// process when INTERNAL_API_TOKEN is unset, so no mode has an open internal surface.
func RandomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// tokenFile holds the internal token split dev tiers share.
const tokenFile = "internal-token"

// SharedToken returns the internal token that separate dev processes
// (`infliq auth`, `infliq user`, …) share through dir: the first process
// creates it (mode 0600, atomically, so racing starts agree) and the others
// read it.
func SharedToken(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, tokenFile)
	for range 50 {
		b, err := os.ReadFile(path)
		if err == nil {
			if tok := strings.TrimSpace(string(b)); len(tok) >= 32 {
				return tok, nil
			}
			return "", fmt.Errorf("devstack: %s does not hold a token; delete it", path)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		// Write a temporary file, then link it into place: link fails if
		// another process won the race, and nobody ever reads a partial token.
		tmp, err := os.CreateTemp(dir, tokenFile+".*")
		if err != nil {
			return "", err
		}
		_, werr := tmp.WriteString(RandomToken() + "\n")
		cerr := tmp.Close()
		if werr == nil && cerr == nil {
			err = os.Link(tmp.Name(), path)
		}
		_ = os.Remove(tmp.Name())
		if werr != nil || cerr != nil {
			return "", errors.Join(werr, cerr)
		}
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return "", err
		}
		time.Sleep(10 * time.Millisecond)
	}
	return "", fmt.Errorf("devstack: could not read or create %s", path)
}
