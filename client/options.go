package client

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/transport/v4"
	"github.com/pion/webrtc/v4"
)

// PCRole names one of a participant's two peer connections.
type PCRole int

// The two peer connections (see signaling/PROTOCOL.md).
const (
	Publisher  PCRole = iota // the client offers; its tracks and data channels flow to the SFU
	Subscriber               // the SFU offers; forwarded tracks and SFU data channels flow in
)

func (r PCRole) String() string {
	if r == Publisher {
		return "publisher"
	}
	return "subscriber"
}

// Option configures Join.
type Option func(*config)

type config struct {
	logger          *slog.Logger
	clientName      string
	autoSubscribe   bool
	pingInterval    time.Duration // 0: the server's
	requestTimeout  time.Duration
	settingHooks    []func(PCRole, *webrtc.SettingEngine)
	configHooks     []func(PCRole, *webrtc.Configuration)
	interceptorHook func(PCRole, *webrtc.MediaEngine, *interceptor.Registry) error
	defaultIcpt     bool
	httpClient      *http.Client
	httpHeader      http.Header
	maxNacks        uint16
}

func defaultConfig() config {
	return config{
		logger:         slog.New(slog.DiscardHandler),
		clientName:     "cascade-go/1",
		autoSubscribe:  true,
		requestTimeout: 15 * time.Second,
		defaultIcpt:    true,
		maxNacks:       3,
	}
}

// WithLogger sets the logger for the client and for pion (adapted into it). Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithClientName sets the SDK name and version sent in join (for the server's logs).
func WithClientName(name string) Option { return func(c *config) { c.clientName = name } }

// WithAutoSubscribe turns automatic subscription to every published track on or off (default
// on). Off sends noAutoSubscribe; use Subscribe then.
func WithAutoSubscribe(on bool) Option { return func(c *config) { c.autoSubscribe = on } }

// WithPingInterval overrides the server's pingIntervalMs.
func WithPingInterval(d time.Duration) Option { return func(c *config) { c.pingInterval = d } }

// WithRequestTimeout bounds how long calls without a context (PublishTrack, Unpublish,
// Subscribe, ...) wait for the server. Default 15 s.
func WithRequestTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.requestTimeout = d
		}
	}
}

// WithSettingEngine lets the caller adjust the pion SettingEngine of each peer connection
// after the client's defaults (mDNS off, the slog logger). Hooks run in order.
func WithSettingEngine(hook func(role PCRole, se *webrtc.SettingEngine)) Option {
	return func(c *config) { c.settingHooks = append(c.settingHooks, hook) }
}

// WithIncludeLoopback advertises loopback ICE candidates, which single-host tests need.
func WithIncludeLoopback() Option {
	return WithSettingEngine(func(_ PCRole, se *webrtc.SettingEngine) { se.SetIncludeLoopbackCandidate(true) })
}

// WithNet runs both peer connections over n, for example a pion vnet for network-condition
// tests. (The WebSocket still uses the real network.)
func WithNet(n transport.Net) Option {
	return WithSettingEngine(func(_ PCRole, se *webrtc.SettingEngine) { se.SetNet(n) })
}

// WithConfiguration lets the caller adjust each peer connection's Configuration (ICE servers
// from the join response are already filled in).
func WithConfiguration(hook func(role PCRole, cfg *webrtc.Configuration)) Option {
	return func(c *config) { c.configHooks = append(c.configHooks, hook) }
}

// WithInterceptors is called for each peer connection after the codecs, header extensions and
// (unless WithDefaultInterceptors(false)) the default interceptors are registered, so it can
// add or replace interceptors.
func WithInterceptors(hook func(role PCRole, m *webrtc.MediaEngine, r *interceptor.Registry) error) Option {
	return func(c *config) { c.interceptorHook = hook }
}

// WithDefaultInterceptors turns the default interceptors off (they are on by default):
// publisher: NACK responder, RTCP sender/receiver reports, transport-wide sequence numbers;
// subscriber: NACK generator (at most WithMaxNacksPerPacket per lost packet), RTCP reports,
// transport-wide congestion control feedback. The client's own mid/rid stamper, which
// simulcast needs, is always installed.
func WithDefaultInterceptors(on bool) Option { return func(c *config) { c.defaultIcpt = on } }

// WithMaxNacksPerPacket caps how often the subscriber NACKs one missing packet (default 3; 0
// means no cap, pion's default, which can turn loss into a retransmission storm).
func WithMaxNacksPerPacket(n uint16) Option { return func(c *config) { c.maxNacks = n } }

// WithHTTPClient sets the HTTP client the WebSocket dial uses.
func WithHTTPClient(hc *http.Client) Option { return func(c *config) { c.httpClient = hc } }

// WithHTTPHeader adds headers to the WebSocket handshake.
func WithHTTPHeader(h http.Header) Option { return func(c *config) { c.httpHeader = h } }
