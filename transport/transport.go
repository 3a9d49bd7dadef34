// Package transport owns everything pion is configured with: the ICE UDP mux socket, the
// SettingEngine, the codecs and header extensions, and the interceptor chains of the two
// kinds of PeerConnection (publisher and subscriber). Nothing else builds a webrtc.API.
package transport

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/interceptor/pkg/twcc"
	pionnet "github.com/pion/transport/v4"
	"github.com/pion/webrtc/v4"
)

// Config configures the RTC transport.
type Config struct {
	// Bind is the IP the UDP mux binds to; "" is every interface.
	Bind string
	// Port is the ICE UDP mux port (0 picks a free one).
	Port int
	// NodeIP, when set, replaces host candidate addresses (1:1 NAT, containers).
	NodeIP string
	// IncludeLoopback gathers loopback candidates (single-host use and tests).
	IncludeLoopback bool
	// Net replaces the OS network (pion vnet in network-condition tests).
	Net pionnet.Net
	// ICEServers are handed to clients (STUN/TURN).
	ICEServers []webrtc.ICEServer
	// MaxNACKsPerPacket caps how often a missing publisher packet is NACKed (default 3).
	MaxNACKsPerPacket uint16
	// DisconnectedTimeout and FailedTimeout are the ICE consent timeouts.
	DisconnectedTimeout, FailedTimeout time.Duration
}

// Validate checks the config.
func (c *Config) Validate() error {
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("transport: port %d out of range", c.Port)
	}
	if c.Bind != "" && net.ParseIP(c.Bind) == nil {
		return fmt.Errorf("transport: bind %q is not an IP", c.Bind)
	}
	if c.NodeIP != "" && net.ParseIP(c.NodeIP) == nil {
		return fmt.Errorf("transport: node IP %q is not an IP", c.NodeIP)
	}
	return nil
}

// Transport holds the UDP mux and the publisher and subscriber APIs.
type Transport struct {
	cfg       Config
	conn      net.PacketConn // set when bound to one address
	socks     *socketSet     // every socket the mux reads, for the direct send path
	taps      *tapTable      // subscribers' addresses, for the RTCP tap on those sockets
	sendStats SendStats
	addr      net.Addr
	mux       ice.UDPMux
	pub       *webrtc.API
	lf        LoggerFactory
	log       *slog.Logger
}

// New opens the UDP mux port and builds the APIs.
func New(cfg Config, log *slog.Logger) (*Transport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxNACKsPerPacket == 0 {
		cfg.MaxNACKsPerPacket = 3
	}
	if cfg.DisconnectedTimeout == 0 {
		cfg.DisconnectedTimeout = 5 * time.Second
	}
	if cfg.FailedTimeout == 0 {
		cfg.FailedTimeout = 10 * time.Second
	}
	t := &Transport{cfg: cfg, log: log}
	lf := LoggerFactory{Logger: log}
	err := t.listen(lf)
	if err != nil {
		return nil, err
	}
	if t.pub, err = t.buildAPI(true, lf, nil); err != nil {
		t.Close()
		return nil, err
	}
	t.lf = lf
	return t, nil
}

// socketBuffer is the kernel buffer asked for on the ICE mux socket (the kernel caps it at
// net.core.rmem_max / wmem_max unless run with CAP_NET_ADMIN).
const socketBuffer = 8 << 20

// listen opens the ICE UDP mux: one socket on Bind, or with no Bind one socket per local
// interface address on the same port (a socket on the unspecified address cannot tell
// which local address a packet came to, which ICE host candidates need). The sockets are
// the node's own, so the direct send path (SendPath) can write to them.
func (t *Transport) listen(lf LoggerFactory) error {
	t.socks = &socketSet{}
	t.taps = &tapTable{}
	if ip, err := netip.ParseAddr(t.cfg.NodeIP); err == nil {
		t.socks.nodeIP = ip.Unmap()
	}
	if t.cfg.Bind == "" && t.cfg.Net == nil {
		return t.listenEveryInterface(lf)
	}
	addr := net.JoinHostPort(t.cfg.Bind, strconv.Itoa(t.cfg.Port))
	var err error
	if t.cfg.Net != nil {
		t.conn, err = t.cfg.Net.ListenPacket("udp4", addr)
	} else {
		t.conn, err = net.ListenPacket("udp", addr)
	}
	if err != nil {
		return fmt.Errorf("transport: listen %s: %w", addr, err)
	}
	if uc, ok := t.conn.(*net.UDPConn); ok {
		setSocketBuffers(uc)
	}
	t.addr = t.conn.LocalAddr()
	t.socks.socks = append(t.socks.socks, NewSocket(t.conn))
	t.mux = webrtc.NewICEUDPMux(lf.NewLogger("udpmux"), tapped(t.conn, t.taps))
	return nil
}

// setSocketBuffers: every peer shares the socket, and a keyframe fanned out to many
// subscribers, or many publishers at once, overflows the default buffers.
func setSocketBuffers(uc *net.UDPConn) {
	_ = uc.SetReadBuffer(socketBuffer)
	_ = uc.SetWriteBuffer(socketBuffer)
}

// listenEveryInterface opens one socket per address of every interface that is up
// (loopback only with IncludeLoopback; IPv6 link-local addresses, which need a zone, are
// left out), all on one port: Port, or the port the first socket got.
func (t *Transport) listenEveryInterface(lf LoggerFactory) error {
	ips, err := localIPs(t.cfg.IncludeLoopback)
	if err != nil {
		return fmt.Errorf("transport: list interfaces: %w", err)
	}
	if len(ips) == 0 {
		return errors.New("transport: no interface address to listen on")
	}
	port := t.cfg.Port
	var muxes []ice.UDPMux
	fail := func(err error) error {
		for _, m := range muxes {
			_ = m.Close()
		}
		for _, s := range t.socks.socks {
			_ = s.conn.Close()
		}
		t.socks.socks = nil
		return err
	}
	for _, ip := range ips {
		uc, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip.AsSlice(), Port: port})
		if err != nil {
			return fail(fmt.Errorf("transport: listen on %s port %d: %w", ip, port, err))
		}
		if port == 0 {
			port = uc.LocalAddr().(*net.UDPAddr).Port
		}
		setSocketBuffers(uc)
		t.socks.socks = append(t.socks.socks, NewSocket(uc))
		muxes = append(muxes, ice.NewUDPMuxDefault(ice.UDPMuxParams{Logger: lf.NewLogger("udpmux"), UDPConn: tapped(uc, t.taps)}))
		if t.addr == nil {
			t.addr = uc.LocalAddr()
		}
	}
	t.mux = ice.NewMultiUDPMuxDefault(muxes...)
	return nil
}

// localIPs lists the addresses the node listens on with no Bind.
func localIPs(loopback bool) ([]netip.Addr, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || (ifc.Flags&net.FlagLoopback != 0 && !loopback) {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(n.IP)
			if !ok {
				continue
			}
			ip = ip.Unmap()
			if ip.Is6() && ip.IsLinkLocalUnicast() {
				continue
			}
			if ip.IsLoopback() && !loopback {
				continue
			}
			out = append(out, ip)
		}
	}
	return out, nil
}

// buildAPI makes the API for one role. A subscriber API gets the connection's own
// congestion interceptor, so it is built per connection.
func (t *Transport) buildAPI(publisher bool, lf LoggerFactory, sp *SendPath, cc ...interceptor.Factory) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := RegisterCodecs(m, publisher); err != nil {
		return nil, err
	}
	reg := &interceptor.Registry{}
	if publisher {
		// Toward publishers: NACKs (capped, see TOOLING), receiver reports, TWCC feedback,
		// each started by the connection's first received stream (lazyStart).
		gen, err := nack.NewGeneratorInterceptor(nack.GeneratorMaxNacksPerPacket(t.cfg.MaxNACKsPerPacket),
			nack.WithGeneratorLoggerFactory(lf))
		if err != nil {
			return nil, err
		}
		reg.Add(lazyFactory{gen})
		rr, err := report.NewReceiverInterceptor(report.WithReceiverLoggerFactory(lf))
		if err != nil {
			return nil, err
		}
		reg.Add(lazyFactory{rr})
		tw, err := twcc.NewSenderInterceptor(twcc.WithLoggerFactory(lf))
		if err != nil {
			return nil, err
		}
		reg.Add(lazyFactory{tw})
	} else {
		addSubscriberInterceptors(reg, cc...)
	}
	s := webrtc.SettingEngine{LoggerFactory: lf}
	s.SetICEUDPMux(t.mux)
	s.SetIncludeLoopbackCandidate(t.cfg.IncludeLoopback)
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	s.SetICETimeouts(t.cfg.DisconnectedTimeout, t.cfg.FailedTimeout, 2*time.Second)
	s.SetSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80)
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if t.cfg.Net != nil {
		s.SetNet(t.cfg.Net)
	}
	if t.cfg.NodeIP != "" {
		s.SetNAT1To1IPs([]string{t.cfg.NodeIP}, webrtc.ICECandidateTypeHost)
	}
	// Chromium offers a:setup:actpass; answering as DTLS client lets the SFU start the
	// handshake as soon as ICE connects.
	if err := s.SetAnsweringDTLSRole(webrtc.DTLSRoleClient); err != nil {
		return nil, err
	}
	if sp != nil {
		// The subscriber connection's SRTP keys, for its direct send path (SendPath).
		s.SetDTLSServerHelloMessageHook(sp.hs.serverHello)
		s.SetDTLSKeyLogWriter(&sp.hs)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(s)), nil
}

// PublisherAPI builds publisher PeerConnections (the client offers; media flows in).
func (t *Transport) PublisherAPI() *webrtc.API { return t.pub }

// NewSubscriberPeerConnection makes a subscriber connection (the SFU offers; media flows
// out) whose transport-wide feedback goes to fb, and its send path.
func (t *Transport) NewSubscriberPeerConnection(fb FeedbackListener) (*webrtc.PeerConnection, *SendPath, error) {
	sp := newSendPath(fb)
	sp.socks, sp.taps, sp.stats, sp.log = t.socks, t.taps, &t.sendStats, t.log
	api, err := t.buildAPI(false, t.lf, sp, congestionFactory{sp.ci})
	if err != nil {
		return nil, nil, err
	}
	pc, err := api.NewPeerConnection(t.Configuration())
	if err != nil {
		return nil, nil, err
	}
	sp.watch(pc)
	return pc, sp, nil
}

// SendStats are the node's direct send path totals.
func (t *Transport) SendStats() *SendStats { return &t.sendStats }

// SendErrors is how many datagrams the node's sockets refused on the direct send path.
func (t *Transport) SendErrors() uint64 {
	var n uint64
	for _, s := range t.socks.socks {
		n += s.errs.Load()
	}
	return n
}

// ICEServers are the servers clients should use.
func (t *Transport) ICEServers() []webrtc.ICEServer { return t.cfg.ICEServers }

// Configuration is the PeerConnection configuration for both roles.
func (t *Transport) Configuration() webrtc.Configuration {
	return webrtc.Configuration{
		BundlePolicy:  webrtc.BundlePolicyMaxBundle,
		RTCPMuxPolicy: webrtc.RTCPMuxPolicyRequire,
		SDPSemantics:  webrtc.SDPSemanticsUnifiedPlan,
	}
}

// LocalAddr is the UDP mux's bound address (the first one, with several interfaces).
func (t *Transport) LocalAddr() net.Addr { return t.addr }

// Close closes the mux and its socket.
func (t *Transport) Close() error {
	var errs []error
	if t.mux != nil {
		errs = append(errs, t.mux.Close())
	}
	if t.conn != nil {
		if err := t.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
