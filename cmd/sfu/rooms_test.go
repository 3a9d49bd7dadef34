package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cascade-sfu/cascade/auth"
	"github.com/cascade-sfu/cascade/node"
)

func TestGRPCSettings(t *testing.T) {
	s, err := loadArgs(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := s.nodeConfig(fixedKey)
	if err != nil || cfg.GRPCPort != 7701 || cfg.GRPCTLSCert != "" {
		t.Fatalf("default gRPC settings %+v, %v; want port 7701 without TLS", cfg, err)
	}
	s, err = loadArgs(t, map[string]string{"CASCADE_GRPC_PORT": "9000", "CASCADE_GRPC_TLS_CERT": "c.pem", "CASCADE_GRPC_TLS_KEY": "k.pem"},
		"--grpc-port", "9001")
	if err != nil {
		t.Fatal(err)
	}
	if cfg, _, err = s.nodeConfig(fixedKey); err != nil || cfg.GRPCPort != 9001 || cfg.GRPCTLSCert != "c.pem" || cfg.GRPCTLSKey != "k.pem" {
		t.Fatalf("gRPC settings %+v, %v", cfg, err)
	}
	for _, args := range [][]string{{"--grpc-port", "70000"}, {"--grpc-tls-cert", "c.pem"}, {"--grpc-tls-key", "k.pem"}} {
		if _, err := loadArgs(t, nil, args...); err == nil || !isUsage(err) {
			t.Errorf("%v: err = %v, want a usage error", args, err)
		}
	}
}

func TestTokenAdmin(t *testing.T) {
	v, err := auth.NewVerifier(auth.Keys{"K": secretA})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		room string
	}{
		{[]string{"--admin"}, ""},
		{[]string{"--admin", "--room", "one"}, "one"},
	} {
		code, out, errOut := runCmd(context.Background(), nil, append([]string{"token", "--api-key", "K", "--api-secret", secretA}, tc.args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, code, errOut)
		}
		c, err := v.Verify(strings.TrimSpace(out))
		if err != nil {
			t.Fatal(err)
		}
		g := c.Video
		if !g.RoomAdmin || !g.RoomList || !g.RoomCreate || g.RoomJoin || g.Room != tc.room || !g.AdminOf(tc.room) {
			t.Errorf("%v: grant %+v", tc.args, g)
		}
	}
	code, _, errOut := runCmd(context.Background(), nil, "token", "--api-key", "K", "--api-secret", secretA, "--admin", "--no-publish")
	if code != 2 || !strings.Contains(errOut, "participant tokens") {
		t.Errorf("--admin --no-publish: exit %d, %s", code, errOut)
	}
}

// TestRoomsCommand drives a node through `sfu rooms`.
func TestRoomsCommand(t *testing.T) {
	n, err := node.New(node.Config{Bind: "127.0.0.1", Keys: auth.Keys{"K": secretA}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	vars := map[string]string{"CASCADE_API_KEY": "K", "CASCADE_API_SECRET": secretA}
	rooms := func(args ...string) (int, string, string) {
		return runCmd(context.Background(), vars, append([]string{"rooms", args[0], "--addr", n.GRPCAddr()}, args[1:]...)...)
	}

	// watch prints every event as a JSON line until interrupted.
	wctx, stop := context.WithCancel(context.Background())
	var wout, werr syncBuffer
	done := make(chan int, 1)
	go func() {
		e := &env{stdout: &wout, stderr: &werr, getenv: mapEnv(vars), progName: "sfu"}
		done <- run(wctx, e, []string{"rooms", "watch", "--addr", n.GRPCAddr()})
	}()
	waitFor(t, 10*time.Second, "the watcher", func() bool { return n.SFU().Watchers() == 1 })

	if code, out, errOut := rooms("create", "--room", "ops", "--max-participants", "5", "--empty-timeout", "1m"); code != 0 || !strings.Contains(out, "created room ops (RM_") {
		t.Fatalf("create: exit %d: %s%s", code, out, errOut)
	}
	if code, out, errOut := rooms("list"); code != 0 || !strings.Contains(out, "ops") || !strings.Contains(out, "ROOM") {
		t.Fatalf("list: exit %d: %s%s", code, out, errOut)
	}
	if code, out, errOut := rooms("list", "--json"); code != 0 || !strings.Contains(out, `"maxParticipants":5`) {
		t.Fatalf("list --json: exit %d: %s%s", code, out, errOut)
	}
	if code, out, errOut := rooms("participants", "--room", "ops"); code != 0 || !strings.HasPrefix(out, "IDENTITY") {
		t.Fatalf("participants: exit %d: %s%s", code, out, errOut)
	}
	// Errors carry the gRPC code and exit 1; bad usage exits 2.
	if code, _, errOut := rooms("remove", "--room", "ops", "--identity", "nobody"); code != 1 || !strings.Contains(errOut, "NotFound") {
		t.Fatalf("remove of nobody: exit %d: %s", code, errOut)
	}
	if code, _, errOut := rooms("create"); code != 2 || !strings.Contains(errOut, "--room is required") {
		t.Fatalf("create without --room: exit %d: %s", code, errOut)
	}
	if code, _, errOut := runCmd(context.Background(), vars, "rooms", "frob"); code != 2 || !strings.Contains(errOut, `unknown action "frob"`) {
		t.Fatalf("unknown action: exit %d: %s", code, errOut)
	}
	if code, out, errOut := rooms("delete", "--room", "ops"); code != 0 || !strings.Contains(out, "deleted room ops") {
		t.Fatalf("delete: exit %d: %s%s", code, out, errOut)
	}
	// A token from elsewhere is refused with its reason.
	code, _, errOut := rooms("list", "--token", "not-a-token")
	if code != 1 || !strings.Contains(errOut, "Unauthenticated") {
		t.Fatalf("bad token: exit %d: %s", code, errOut)
	}

	waitFor(t, 10*time.Second, "the watch output", func() bool {
		return strings.Contains(wout.String(), `"roomCreated"`) && strings.Contains(wout.String(), `"roomFinished"`)
	})
	stop()
	if code := <-done; code != 0 {
		t.Fatalf("watch exited %d: %s", code, werr.String())
	}
	lines := strings.Split(strings.TrimSpace(wout.String()), "\n")
	if len(lines) < 2 || !strings.Contains(lines[0], `"seq":"1"`) {
		t.Fatalf("watch output:\n%s", wout.String())
	}
}

func TestRoomsHelp(t *testing.T) {
	code, out, _ := runCmd(context.Background(), nil, "help", "rooms")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, a := range []string{"list", "create", "delete", "participants", "remove", "watch"} {
		if !strings.Contains(out, "  "+a+" ") {
			t.Errorf("help rooms does not list %q:\n%s", a, out)
		}
	}
	code, _, errOut := runCmd(context.Background(), nil, "rooms", "create", "-h")
	if code != 0 || !strings.Contains(errOut, "-max-participants") || !strings.Contains(errOut, "-addr") {
		t.Errorf("rooms create -h: exit %d:\n%s", code, errOut)
	}
}
