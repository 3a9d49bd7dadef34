package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/cascade-sfu/cascade/auth"
	"github.com/cascade-sfu/cascade/node"
)

// shutdownTimeout bounds the graceful shutdown; a second signal ends the process at once.
const shutdownTimeout = 15 * time.Second

func init() {
	register(&command{
		name:    "serve",
		args:    "[flags]",
		summary: "run a node (the default; with no API keys configured, a development node)",
		run:     runServe,
	})
}

func runServe(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, commands["serve"])
	cf := addConfigFlags(fs, true)
	if code, done := parseFlags(fs, args); done {
		return code
	}
	s, err := cf.load(e.getenv)
	if err != nil {
		return exitCode(e, "serve", err)
	}
	cfg, generated, err := s.nodeConfig(auth.RandomKeyPair)
	if err != nil {
		return exitCode(e, "serve", err)
	}

	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: s.LogLevel}))
	// Stray output of the standard log package (net/http's server errors) goes through it too.
	slog.SetDefault(log)
	n, err := node.New(cfg, log)
	if err != nil {
		return exitCode(e, "serve", err)
	}
	if err := n.Start(); err != nil {
		_ = n.Close()
		return exitCode(e, "serve", err)
	}
	log.Debug("config", "bind", cfg.Bind, "node_ip", cfg.NodeIP, "dev", cfg.Dev,
		"include_loopback", cfg.IncludeLoopback, "api_keys", len(cfg.Keys))
	printBanner(e, cfg, generated, n.HTTPAddr(), n.GRPCAddr(), n.RTCAddr())

	<-ctx.Done()
	log.Info("shutting down")
	done := make(chan error, 1)
	go func() { done <- n.Close() }()
	select {
	case err := <-done:
		if err != nil {
			log.Error("shutdown", "err", err)
			return 1
		}
		log.Info("stopped")
		return 0
	case <-time.After(shutdownTimeout):
		log.Error("shutdown timed out", "after", shutdownTimeout)
		return 1
	}
}

// printBanner tells the person who started the node how to use it. It goes to stdout, the
// logs to stderr.
func printBanner(e *env, cfg node.Config, generated bool, httpAddr, grpcAddr, rtcAddr string) {
	port := portOf(httpAddr, cfg.HTTPPort)
	host := demoHost(cfg)
	base := "http://" + net.JoinHostPort(host, port) + "/"
	w := e.stdout
	mode := "a node"
	if cfg.Dev {
		mode = "a development node"
	}
	fmt.Fprintf(w, "Cascade SFU %s is running %s.\n\n", node.Version, mode)
	fmt.Fprintf(w, "  Demo page:   %s\n", base)
	fmt.Fprintf(w, "               %s?room=demo&name=alice\n", base)
	if local := localURL(cfg, port); local != "" && local != base {
		fmt.Fprintf(w, "  On this machine: %s (browsers allow the camera only on localhost or HTTPS)\n", local)
	}
	fmt.Fprintf(w, "  Signaling:   ws://%s/v1/signal\n", net.JoinHostPort(host, port))
	grpcPort := portOf(grpcAddr, cfg.GRPCPort)
	scheme := "plaintext"
	if cfg.GRPCTLSCert != "" {
		scheme = "TLS"
	}
	fmt.Fprintf(w, "  gRPC:        %s (%s; cascade.v1.RoomService, health, reflection)\n", net.JoinHostPort(host, grpcPort), scheme)
	fmt.Fprintf(w, "  RTC (UDP):   %s\n", rtcAddr)
	if generated {
		key, secret := onlyKey(cfg.Keys)
		fmt.Fprintf(w, "\nNo API key configured; generated a development key for this run:\n")
		fmt.Fprintf(w, "  API key:     %s\n", key)
		fmt.Fprintf(w, "  API secret:  %s\n", secret)
		fmt.Fprintf(w, "\nMint an access token:\n")
		fmt.Fprintf(w, "  %s token --api-key %s --api-secret %s --room demo --identity alice\n", e.progName, key, secret)
		fmt.Fprintf(w, "\nList the rooms over gRPC:\n")
		fmt.Fprintf(w, "  %s rooms list --addr %s --api-key %s --api-secret %s\n", e.progName, net.JoinHostPort(host, grpcPort), key, secret)
	} else {
		fmt.Fprintf(w, "\nMint an access token with the configured key:\n")
		fmt.Fprintf(w, "  %s token [--config FILE] --room demo --identity alice\n", e.progName)
	}
	fmt.Fprintf(w, "\nStop with Ctrl-C.\n")
}

func onlyKey(keys auth.Keys) (key, secret string) {
	for k, s := range keys {
		return k, s
	}
	return "", ""
}

// portOf is the port of a bound address, falling back to the configured one.
func portOf(addr string, configured int) string {
	if _, p, err := net.SplitHostPort(addr); err == nil && p != "" && p != "0" {
		return p
	}
	return strconv.Itoa(configured)
}

// demoHost is the host to put in the demo URL: the advertised node IP, else the bind
// address, else this machine's first non-loopback IPv4 address, else localhost.
func demoHost(cfg node.Config) string {
	if cfg.NodeIP != "" {
		return cfg.NodeIP
	}
	if ip := net.ParseIP(cfg.Bind); ip != nil && !ip.IsUnspecified() {
		return ip.String()
	}
	if ip := firstIPv4(); ip != "" {
		return ip
	}
	return "localhost"
}

// localURL is a localhost URL for the demo when the node listens on loopback, "" otherwise.
// Browsers treat only localhost (and HTTPS) as a secure context, so only there will they
// open the camera.
func localURL(cfg node.Config, port string) string {
	ip := net.ParseIP(cfg.Bind)
	if cfg.Bind == "" || (ip != nil && (ip.IsUnspecified() || ip.IsLoopback())) {
		return "http://" + net.JoinHostPort("localhost", port) + "/"
	}
	return ""
}

func firstIPv4() string {
	ifaces, err := net.Interfaces()
	if err != nil {
		return ""
	}
	for _, iface := range ifaces {
		if iface.Flags&net.FlagUp == 0 || iface.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := iface.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			if ip4 := ipn.IP.To4(); ip4 != nil && !ip4.IsLoopback() && !ip4.IsLinkLocalUnicast() {
				return ip4.String()
			}
		}
	}
	return ""
}
