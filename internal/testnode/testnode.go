// Package testnode runs a Cascade node on loopback for tests and mints tokens it accepts, so
// that the packages testing against a real node start it the same way.
package testnode

import (
	"log/slog"
	"testing"

	"github.com/cascade-sfu/cascade/auth"
	"github.com/cascade-sfu/cascade/node"
)

// Key and Secret are the API key of a node made by Start.
const (
	Key    = "TESTKEY"
	Secret = "0123456789abcdef0123456789abcdef-test"
)

// Start runs a node on loopback, with Key and Secret as its only API key, adjusted by tweak
// when not nil and logging to log (nil discards), and closes it when the test ends. An error
// from that close is ignored: a test that cares closes the node itself first (Close is
// idempotent).
func Start(t testing.TB, log *slog.Logger, tweak func(*node.Config)) *node.Node {
	t.Helper()
	cfg := node.Config{Bind: "127.0.0.1", IncludeLoopback: true, Keys: auth.Keys{Key: Secret}}
	if tweak != nil {
		tweak(&cfg)
	}
	n, err := node.New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

// Mint signs p with Key and Secret, failing the test if it cannot.
func Mint(t testing.TB, p auth.TokenParams) string {
	t.Helper()
	tok, err := auth.Mint(Key, Secret, p)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// JoinGrant is the grant to join room, changed by each non-nil edit in turn.
func JoinGrant(room string, edit ...func(*auth.VideoGrant)) auth.VideoGrant {
	g := auth.VideoGrant{Room: room, RoomJoin: true}
	for _, e := range edit {
		if e != nil {
			e(&g)
		}
	}
	return g
}
