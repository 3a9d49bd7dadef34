package e2e

import (
	"log/slog"
	"testing"

	"github.com/cascade-sfu/cascade/auth"
	"github.com/cascade-sfu/cascade/node"
)

// startBrowserNode starts an in-process node in development mode (so the demo page can mint
// tokens at /v1/dev/token) on loopback, and returns its HTTP address. Cleanup closes it.
func startBrowserNode(t *testing.T) string {
	t.Helper()
	key, secret, err := auth.RandomKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.New(node.Config{
		Bind:            "127.0.0.1",
		IncludeLoopback: true,
		Dev:             true,
		Keys:            auth.Keys{key: secret},
	}, slog.New(slog.NewTextHandler(newBrowserLogWriter(t), &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err != nil {
		t.Fatalf("node.New: %v", err)
	}
	if err := n.Start(); err != nil {
		t.Fatalf("node start: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("node close: %v", err)
		}
	})
	t.Logf("node serving http://%s", n.HTTPAddr())
	return n.HTTPAddr()
}
