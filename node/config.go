// Package node assembles one Cascade node: the RTC transport, the SFU, the signaling and
// web edges, and the HTTP server that carries them. cmd/sfu and the end-to-end tests both
// build nodes through it, so there is one wiring.
package node

import (
	"errors"
	"fmt"
	"net"

	pionnet "github.com/pion/transport/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cascade-sfu/cascade/auth"
	"github.com/cascade-sfu/cascade/sfu"
	"github.com/cascade-sfu/cascade/signaling"
)

// Config is everything a node needs. Zero values of ports mean "pick a free port".
type Config struct {
	// Bind is the address every listener binds to; "" means all interfaces.
	Bind string
	// HTTPPort serves the demo page, /v1/signal, /healthz and /readyz (default 7700).
	HTTPPort int
	// RTCPort is the one ICE UDP mux port for every peer connection (default 7702).
	RTCPort int
	// GRPCPort serves the control plane for app servers: cascade.v1.RoomService, gRPC
	// health and reflection (default 7701).
	GRPCPort int
	// GRPCTLSCert and GRPCTLSKey, both set, are PEM files to serve gRPC over TLS.
	GRPCTLSCert string
	GRPCTLSKey  string
	// NodeIP, when set, is the address advertised in ICE host candidates (for NAT / containers).
	NodeIP string
	// RTCBind, when set, is the address the ICE UDP mux binds to instead of Bind.
	RTCBind string
	// Net replaces the operating system's network for RTC (pion vnet in network-condition
	// tests); HTTP still uses the real one.
	Net pionnet.Net
	// IncludeLoopback advertises loopback candidates (single-host development and tests).
	IncludeLoopback bool
	// Keys are the API keys and secrets that sign access tokens.
	Keys auth.Keys
	// Dev enables development conveniences: GET /v1/dev/token mints tokens for the demo page.
	Dev bool
	// MaxMessageBytes bounds one signaling frame (default 64 KiB).
	MaxMessageBytes int
	// Registry receives the node's metrics, served on /metrics; nil gives the node a
	// registry of its own. Two nodes cannot share one (their metrics would collide).
	Registry *prometheus.Registry
	// SFU and Signaling tune those packages; zero values take their defaults.
	SFU       sfu.Config
	Signaling signaling.Config
}

// Default ports.
const (
	DefaultHTTPPort = 7700
	DefaultRTCPort  = 7702
	DefaultGRPCPort = 7701
)

// Validate checks the config.
func (c *Config) Validate() error {
	if len(c.Keys) == 0 {
		return errors.New("node: no API keys configured")
	}
	for _, p := range []int{c.HTTPPort, c.RTCPort, c.GRPCPort} {
		if p < 0 || p > 65535 {
			return fmt.Errorf("node: port %d out of range", p)
		}
	}
	if c.Bind != "" && net.ParseIP(c.Bind) == nil {
		return fmt.Errorf("node: bind address %q is not an IP address", c.Bind)
	}
	if c.RTCBind != "" && net.ParseIP(c.RTCBind) == nil {
		return fmt.Errorf("node: RTC bind address %q is not an IP address", c.RTCBind)
	}
	if c.NodeIP != "" && net.ParseIP(c.NodeIP) == nil {
		return fmt.Errorf("node: node IP %q is not an IP address", c.NodeIP)
	}
	if c.MaxMessageBytes < 0 {
		return errors.New("node: negative max message size")
	}
	if err := c.SFU.Validate(); err != nil {
		return err
	}
	if err := c.Signaling.Validate(); err != nil {
		return err
	}
	return nil
}
