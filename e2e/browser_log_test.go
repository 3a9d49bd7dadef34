package e2e

import (
	"strings"
	"sync"
	"testing"
)

// browserLogWriter sends a logger's lines to the test log until the test ends; lines written
// later (by a goroutine that outlives the test) are dropped instead of panicking.
type browserLogWriter struct {
	t    *testing.T
	mu   sync.Mutex // guards done
	done bool
}

// newBrowserLogWriter must be called before the cleanups of whatever logs through it are
// registered, so that those cleanups (which run first) can still log.
func newBrowserLogWriter(t *testing.T) *browserLogWriter {
	w := &browserLogWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return w
}

func (w *browserLogWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(b), "\n"))
	}
	return len(b), nil
}
