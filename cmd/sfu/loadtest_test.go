package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cascade-sfu/cascade/auth"
	"github.com/cascade-sfu/cascade/node"
)

const (
	ltKey    = "LTKEY"
	ltSecret = "loadtest-secret-0123456789abcdef0123"
)

// startLoadtestNode runs a node on loopback and free ports for the load tester to aim at.
func startLoadtestNode(t *testing.T) *node.Node {
	t.Helper()
	n, err := node.New(node.Config{Bind: "127.0.0.1", IncludeLoopback: true, Keys: auth.Keys{ltKey: ltSecret}},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		_ = n.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

func loadtestArgs(n *node.Node, extra ...string) []string {
	return append([]string{"loadtest", "--url", "ws://" + n.HTTPAddr(), "--api-key", ltKey, "--api-secret", ltSecret,
		"--warmup", "500ms", "--grace", "5s", "--progress", "1s"}, extra...)
}

// TestLoadtestReport runs a small bounded load test against an in-process node and checks
// the report: every track arrives, frames verify, and the node's own CPU figures are read
// from its /metrics.
func TestLoadtestReport(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a load test of several seconds")
	}
	n := startLoadtestNode(t)
	for _, tc := range []struct {
		name string
		args []string
		// tracks each subscriber takes
		tracks int
	}{
		{"vp8 simulcast speaker with audio", []string{"--publishers", "2", "--audio-publishers", "1", "--subscribers", "2",
			"--simulcast", "--layout", "speaker"}, 3},
		{"h264 single layer", []string{"--publishers", "1", "--subscribers", "2", "--codec", "h264", "--ramp", "20/s"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "report.json")
			args := loadtestArgs(n, append(tc.args, "--duration", "5s", "--json", path)...)
			start := time.Now()
			code, out, errOut := runCmd(context.Background(), nil, args...)
			if code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			if took := time.Since(start); took > 5*time.Second+5*time.Second {
				t.Errorf("a 5 s run with a 5 s grace took %v", took)
			}
			if !strings.Contains(errOut, "pubs ") || !strings.Contains(out, "loss after NACK repair") {
				t.Errorf("no progress line or table:\nstdout:\n%s\nstderr:\n%s", out, errOut)
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var rep map[string]any
			if err := json.Unmarshal(raw, &rep); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"tracks_expected", "tracks_received", "packet_loss_pct", "latency_ms", "join_ms",
				"freeze_count", "freeze_total_ms", "received_kbps", "sfu_cpu_cores"} {
				if _, ok := rep[k]; !ok {
					t.Errorf("report lacks %q:\n%s", k, raw)
				}
			}
			want := float64(2 * tc.tracks)
			if rep["tracks_expected"] != want || rep["tracks_received"] != want {
				t.Errorf("tracks %v of %v, want %v:\n%s", rep["tracks_received"], rep["tracks_expected"], want, out)
			}
			// How many frames are shown depends on the SFU's bandwidth estimate (it may pause
			// a stream it thinks does not fit); that they verify does not.
			if rep["frames_corrupt"] != 0.0 || rep["frames_shown"].(float64) < 1 {
				t.Errorf("frames: %v shown, %v corrupt", rep["frames_shown"], rep["frames_corrupt"])
			}
			lat := rep["latency_ms"].(map[string]any)
			if p50 := lat["p50"].(float64); p50 <= 0 || p50 > 100 {
				t.Errorf("latency p50 %v ms on loopback", p50)
			}
			if rep["sfu_metrics"] != "ok" {
				t.Errorf("node metrics: %v", rep["sfu_metrics"])
			}
		})
	}
}

// TestLoadtestBadInput: an unreachable node, wrong credentials and a node that goes away
// each end the run promptly with a clear message and, where anything ran, a report.
func TestLoadtestBadInput(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nodes and clients")
	}
	t.Run("nothing listens at the URL", func(t *testing.T) {
		start := time.Now()
		code, out, errOut := runCmd(context.Background(), nil, "loadtest", "--url", "ws://127.0.0.1:1", "--api-key", ltKey,
			"--api-secret", ltSecret, "--duration", "20s", "--progress", "0")
		if code != 1 || !strings.Contains(errOut, "cannot reach the node at ws://127.0.0.1:1") {
			t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("gave up after %v", took)
		}
		if !strings.Contains(out, "participants") {
			t.Errorf("no partial report:\n%s", out)
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		n := startLoadtestNode(t)
		code, out, errOut := runCmd(context.Background(), nil, "loadtest", "--url", "ws://"+n.HTTPAddr(), "--api-key", ltKey,
			"--api-secret", strings.Repeat("x", 40), "--duration", "20s", "--progress", "0")
		if code != 1 || !strings.Contains(errOut, "rejected the access token") || !strings.Contains(errOut, "--api-secret") {
			t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
	})
	t.Run("bad flags", func(t *testing.T) {
		for _, args := range [][]string{{"--codec", "vp9"}, {"--ramp", "fast"}, {"--impair-bandwidth", "lots"}, {"--publishers", "0"}} {
			code, _, errOut := runCmd(context.Background(), nil, append([]string{"loadtest", "--api-key", ltKey, "--api-secret", ltSecret}, args...)...)
			if code != 2 {
				t.Errorf("%v: exit %d: %s", args, code, errOut)
			}
		}
	})
	t.Run("the node goes away", func(t *testing.T) {
		n := startLoadtestNode(t)
		done := make(chan struct{})
		var code int
		var out, errOut string
		start := time.Now()
		go func() {
			defer close(done)
			code, out, errOut = runCmd(context.Background(), nil, loadtestArgs(n, "--publishers", "1", "--subscribers", "1", "--duration", "60s")...)
		}()
		// Let the run get going, then stop the node under it.
		time.Sleep(3 * time.Second)
		_ = n.Close()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("the load test did not end after the node went away")
		}
		if code != 1 || !strings.Contains(errOut, "every participant was disconnected") {
			t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
		if !strings.Contains(out, "tracks") || time.Since(start) > 20*time.Second {
			t.Errorf("after %v, report:\n%s", time.Since(start), out)
		}
	})
}

func TestParseRateAndBitrate(t *testing.T) {
	for in, want := range map[string]float64{"": 0, "10": 10, "10/s": 10, "120/m": 2, "0.5/s": 0.5} {
		if got, err := parseRate(in); err != nil || got != want {
			t.Errorf("parseRate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"fast", "-1/s", "10/h", "0"} {
		if _, err := parseRate(in); err == nil {
			t.Errorf("parseRate(%q) accepted", in)
		}
	}
	for in, want := range map[string]int64{"": 0, "800k": 800_000, "2M": 2_000_000, "1.5Mbit/s": 1_500_000, "64000": 64000, "500kbps": 500_000} {
		if got, err := parseBitrate(in); err != nil || got != want {
			t.Errorf("parseBitrate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"lots", "-5k", "k"} {
		if _, err := parseBitrate(in); err == nil {
			t.Errorf("parseBitrate(%q) accepted", in)
		}
	}
}
