package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cascade-sfu/cascade/auth"
)

// syncBuffer is a bytes.Buffer safe to read while a command writes to it.
type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runCmd runs the sfu command line in-process.
func runCmd(ctx context.Context, envVars map[string]string, args ...string) (code int, stdout, stderr string) {
	var out, errOut syncBuffer
	e := &env{stdout: &out, stderr: &errOut, getenv: mapEnv(envVars), progName: "sfu"}
	code = run(ctx, e, args)
	return code, out.String(), errOut.String()
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		code, out, _ := runCmd(context.Background(), nil, args...)
		if code != 0 {
			t.Errorf("%v: exit %d", args, code)
		}
		for _, name := range []string{"serve", "token", "version", "help"} {
			if !strings.Contains(out, "  "+name+" ") {
				t.Errorf("%v: help does not list %q:\n%s", args, name, out)
			}
		}
	}
}

func TestHelpCommand(t *testing.T) {
	code, out, _ := runCmd(context.Background(), nil, "help", "token")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, f := range []string{"-room", "-identity", "-ttl", "-no-publish", "-api-key", "-config"} {
		if !strings.Contains(out, f) {
			t.Errorf("help token does not show %s:\n%s", f, out)
		}
	}
	code, out, _ = runCmd(context.Background(), nil, "help", "serve")
	if code != 0 || !strings.Contains(out, "-http-port") || !strings.Contains(out, "-node-ip") {
		t.Errorf("help serve: exit %d\n%s", code, out)
	}
}

func TestUnknownCommand(t *testing.T) {
	for _, args := range [][]string{{"frobnicate"}, {"help", "frobnicate"}} {
		code, _, errOut := runCmd(context.Background(), nil, args...)
		if code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCmd(context.Background(), nil, "version")
	if code != 0 || !strings.HasPrefix(out, "cascade sfu ") {
		t.Errorf("exit %d, output %q", code, out)
	}
	if code, _, _ := runCmd(context.Background(), nil, "version", "extra"); code != 2 {
		t.Errorf("version with an argument: exit %d, want 2", code)
	}
}

func TestServeRejectsBadConfig(t *testing.T) {
	// Each of these must fail before anything listens, with exit code 2.
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"bad flag", nil, []string{"--http-port", "x"}, "http-port"},
		{"stray argument", nil, []string{"extra"}, "unexpected arguments"},
		{"bad env", map[string]string{"CASCADE_RTC_PORT": "99999"}, nil, "CASCADE_RTC_PORT"},
		{"no keys, dev off", nil, []string{"--dev=false"}, "development mode is off"},
		{"missing config", nil, []string{"--config", "/nonexistent.yaml"}, "config file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			args := append([]string{"serve"}, tc.args...)
			code, _, errOut := runCmd(ctx, tc.env, args...)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr:\n%s", code, errOut)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr does not mention %q:\n%s", tc.want, errOut)
			}
		})
	}
}

func TestToken(t *testing.T) {
	verifier, err := auth.NewVerifier(auth.Keys{"K": secretA, "K2": secretB})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		check   func(t *testing.T, c *auth.Claims)
		wantKey string
	}{
		{
			name:    "defaults",
			args:    []string{"--api-key", "K", "--api-secret", secretA, "--room", "r1", "--identity", "alice"},
			wantKey: "K",
			check: func(t *testing.T, c *auth.Claims) {
				g := c.Video
				if !g.CanJoin("r1") || !g.Publish() || !g.Subscribe() || !g.PublishData() {
					t.Errorf("grant %+v: want join r1 with every capability", g)
				}
				if g.CanPublish != nil || g.CanSubscribe != nil || g.CanPublishData != nil {
					t.Errorf("capabilities written explicitly: %+v", g)
				}
				if ttl := c.ExpiresAt.Sub(c.IssuedAt.Time); ttl != 6*time.Hour {
					t.Errorf("ttl = %v, want 6h", ttl)
				}
			},
		},
		{
			name: "everything",
			env:  map[string]string{"CASCADE_API_KEY": "K2", "CASCADE_API_SECRET": secretB},
			args: []string{"--room", "r2", "--identity", "bob", "--name", "Bob", "--metadata", `{"x":1}`,
				"--ttl", "90m", "--no-publish", "--no-subscribe", "--no-data"},
			wantKey: "K2",
			check: func(t *testing.T, c *auth.Claims) {
				g := c.Video
				if !g.CanJoin("r2") || g.Publish() || g.Subscribe() || g.PublishData() {
					t.Errorf("grant %+v: want join r2 with no capability", g)
				}
				if c.Name != "Bob" || c.Metadata != `{"x":1}` || c.Identity() != "bob" {
					t.Errorf("claims %+v", c)
				}
				if ttl := c.ExpiresAt.Sub(c.IssuedAt.Time); ttl != 90*time.Minute {
					t.Errorf("ttl = %v, want 90m", ttl)
				}
			},
		},
		{
			name:    "flags override env",
			env:     map[string]string{"CASCADE_API_KEY": "K2", "CASCADE_API_SECRET": secretB},
			args:    []string{"--api-key", "K", "--api-secret", secretA, "--room", "r", "--identity", "i", "--no-data"},
			wantKey: "K",
			check: func(t *testing.T, c *auth.Claims) {
				if !c.Video.Publish() || c.Video.PublishData() {
					t.Errorf("grant %+v", c.Video)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCmd(context.Background(), tc.env, append([]string{"token"}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			tok := strings.TrimSpace(out)
			if strings.Count(out, "\n") != 1 || strings.Count(tok, ".") != 2 {
				t.Fatalf("output is not one token on one line: %q", out)
			}
			c, err := verifier.Verify(tok)
			if err != nil {
				t.Fatalf("minted token does not verify: %v", err)
			}
			if c.APIKey() != tc.wantKey {
				t.Errorf("signed with %q, want %q", c.APIKey(), tc.wantKey)
			}
			tc.check(t, c)
		})
	}
}

func TestTokenErrors(t *testing.T) {
	keyArgs := []string{"--api-key", "K", "--api-secret", secretA}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no room", nil, append([]string{"--identity", "i"}, keyArgs...), "--room is required"},
		{"no identity", nil, append([]string{"--room", "r"}, keyArgs...), "--identity is required"},
		{"no key", nil, []string{"--room", "r", "--identity", "i"}, "no API key and secret"},
		{"short secret", nil, []string{"--room", "r", "--identity", "i", "--api-key", "K", "--api-secret", "short"}, "at least 32"},
		{"zero ttl", nil, append([]string{"--room", "r", "--identity", "i", "--ttl", "0s"}, keyArgs...), "--ttl"},
		{"bad ttl", nil, append([]string{"--room", "r", "--identity", "i", "--ttl", "soon"}, keyArgs...), "ttl"},
		{"node flag", nil, append([]string{"--room", "r", "--identity", "i", "--http-port", "1"}, keyArgs...), "http-port"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCmd(context.Background(), tc.env, append([]string{"token"}, tc.args...)...)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr does not mention %q:\n%s", tc.want, errOut)
			}
		})
	}
}

func TestProgName(t *testing.T) {
	if got := progName("/tmp/go-build123/b001/exe/sfu"); got != "go run ./cmd/sfu" {
		t.Errorf("go run: %q", got)
	}
	if got := progName("./sfu"); got != "./sfu" {
		t.Errorf("binary: %q", got)
	}
}
