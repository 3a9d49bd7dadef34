package web

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestJavaScript runs the client's node unit tests (jstest/*.test.mjs: the quality
// handling against fake browser objects) when node is installed. The static modules and the
// tests are copied into one directory marked as ES modules.
func TestJavaScript(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	dir := t.TempDir()
	copyFile := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mods, err := fs.Glob(Files(), "*.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mods {
		b, err := fs.ReadFile(Files(), m)
		if err != nil {
			t.Fatal(err)
		}
		copyFile(m, b)
	}
	tests, err := filepath.Glob(filepath.Join("jstest", "*.mjs"))
	if err != nil || len(tests) == 0 {
		t.Fatalf("no tests in jstest: %v", err)
	}
	var run []string
	for _, p := range tests {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		copyFile(filepath.Base(p), b)
		if strings.HasSuffix(p, ".test.mjs") {
			run = append(run, filepath.Base(p))
		}
	}
	copyFile("package.json", []byte(`{"type": "module"}`+"\n"))

	// Every module must at least parse (the demo touches the DOM on load, so it is only checked).
	for _, m := range mods {
		out, err := exec.Command(node, "--check", filepath.Join(dir, m)).CombinedOutput()
		if err != nil {
			t.Errorf("node --check %s: %v\n%s", m, err, out)
		}
	}

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{"--test"}, run...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
	t.Logf("node --test %v: ok", run)
}
