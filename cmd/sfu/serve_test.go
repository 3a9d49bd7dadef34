package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cascade-sfu/cascade/auth"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var (
	signalRE = regexp.MustCompile(`ws://([0-9.]+:[0-9]+)/v1/signal`)
	keyRE    = regexp.MustCompile(`API key:\s+(\S+)`)
	secretRE = regexp.MustCompile(`API secret:\s+(\S+)`)
)

// TestServeDevNode starts a development node the way `sfu` with no arguments does (on
// loopback and free ports), checks what it prints and serves, and stops it as SIGINT would.
func TestServeDevNode(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	e := &env{stdout: &out, stderr: &errOut, getenv: mapEnv(map[string]string{"CASCADE_LOG_LEVEL": "debug"}), progName: "sfu"}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, e, []string{"--bind", "127.0.0.1", "--http-port", "0", "--rtc-port", "0", "--grpc-port", "0"})
	}()
	waitFor(t, 20*time.Second, "the banner", func() bool {
		select {
		case code := <-done:
			t.Fatalf("serve exited with %d:\n%s", code, errOut.String())
		default:
		}
		return strings.Contains(out.String(), "Stop with Ctrl-C")
	})
	banner := out.String()
	m := signalRE.FindStringSubmatch(banner)
	km := keyRE.FindStringSubmatch(banner)
	sm := secretRE.FindStringSubmatch(banner)
	if m == nil || km == nil || sm == nil {
		t.Fatalf("banner lacks the signaling URL, key or secret:\n%s", banner)
	}
	addr, key, secret := m[1], km[1], sm[1]
	if !strings.Contains(banner, "http://"+addr+"/") {
		t.Errorf("banner lacks the demo URL http://%s/:\n%s", addr, banner)
	}
	if !strings.Contains(banner, "sfu token --api-key "+key+" --api-secret "+secret) {
		t.Errorf("banner lacks a token command with the key:\n%s", banner)
	}
	if !strings.Contains(errOut.String(), "level=DEBUG") && !strings.Contains(errOut.String(), "level=INFO") {
		t.Errorf("no slog text output on stderr:\n%s", errOut.String())
	}

	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := client.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d %s", code, body)
	}
	if code, body := get("/"); code != http.StatusOK || !strings.Contains(strings.ToLower(body), "<html") {
		t.Errorf("/: %d %.200s", code, body)
	}
	// Development mode: the demo page's token endpoint mints tokens with the printed key.
	code, body := get("/v1/dev/token?" + url.Values{"room": {"a"}, "identity": {"b"}}.Encode())
	if code != http.StatusOK {
		t.Fatalf("/v1/dev/token: %d %s", code, body)
	}
	var tr struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal([]byte(body), &tr); err != nil {
		t.Fatalf("/v1/dev/token body %q: %v", body, err)
	}
	v, err := auth.NewVerifier(auth.Keys{key: secret})
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(tr.Token)
	if err != nil {
		t.Fatalf("dev token does not verify with the printed key: %v", err)
	}
	if c.Identity() != "b" || !c.Video.CanJoin("a") {
		t.Errorf("dev token claims %+v", c)
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d after shutdown:\n%s", code, errOut.String())
		}
	case <-time.After(shutdownTimeout + 5*time.Second):
		t.Fatal("serve did not return after cancel")
	}
	if _, err := client.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("still serving after shutdown")
	}
}
