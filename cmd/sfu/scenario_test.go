package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestScenarioList(t *testing.T) {
	code, out, errOut := runCmd(context.Background(), nil, "scenario", "--list")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, name := range []string{"drop-restore", "two-tracks", "lossy-switch"} {
		if !strings.Contains(out, name) {
			t.Errorf("--list lacks %s:\n%s", name, out)
		}
	}
}

func TestScenarioUsage(t *testing.T) {
	for _, args := range [][]string{{"scenario"}, {"scenario", "no-such-scenario"}, {"scenario", "drop-restore", "extra"},
		{"scenario", "--bogus"}} {
		if code, _, _ := runCmd(context.Background(), nil, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, out, _ := runCmd(context.Background(), nil, "help", "scenario"); code != 0 || !strings.Contains(out, "-svg") {
		t.Errorf("help scenario: exit %d\n%s", code, out)
	}
}

// --from-json redraws an earlier run without running it.
func TestScenarioRedraw(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "run.json")
	const run = `{"scenario":"drop-restore","duration_s":1,"sample_every_s":0.5,
		"samples":[{"t":0.5,"subscribers":[{"name":"bob","capacity_bps":400000,"estimate_bps":350000,"delivered_bps":200000,
		"tracks":[{"track":"alice/camera","video":true,"layer":"q","frames":15}]}]}],
		"summary_line":"downgrade_ms=1 recover_ms=2 max_freeze_ms=3 loss_pct=0.0 estimate_error_pct=4.0"}`
	if err := os.WriteFile(in, []byte(run), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "run.svg")
	code, stdout, errOut := runCmd(context.Background(), nil, "scenario", "--from-json", in, "--svg", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(stdout, "downgrade_ms=1 recover_ms=2") {
		t.Errorf("summary line not printed: %q", stdout)
	}
	svg, err := os.ReadFile(out)
	if err != nil || !strings.Contains(string(svg), "<svg") {
		t.Fatalf("no chart written: %v", err)
	}
}
