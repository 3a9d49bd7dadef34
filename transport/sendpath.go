package transport

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/prf"
	"github.com/pion/dtls/v3/pkg/protocol/extension"
	"github.com/pion/dtls/v3/pkg/protocol/handshake"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// SendPath is a subscriber connection's way out for media. It stamps every RTP packet with
// a transport-wide sequence number and logs it for bandwidth estimation (the connection's
// congestion interceptor), and once the connection is up it writes media itself: it
// encrypts with the connection's SRTP keys and sends from the ICE socket to the selected
// candidate pair's address, with no pion layer in between. A fan-out then costs one
// encryption per subscriber and one sendmmsg(2) for all of them (Batch).
//
// The keys come from the DTLS handshake, where the SFU is the server (the subscriber
// connection offers actpass and answerers take the client role): the server hello hook
// gives the server random, the cipher suite and the SRTP profile, the key log gives the
// client random and the master secret, and RFC 5705's exporter (RFC 5764 section 4.2)
// derives the same SRTP master keys pion's own session uses. The master secret is dropped
// once the keys are derived. When any of that is missing (the SFU ended up DTLS client, a
// cipher suite this code does not know, a candidate pair not on one of the node's UDP
// sockets), packets take pion's path: the interceptor chain and pion's SRTP session.
type SendPath struct {
	ci    *congestionInterceptor
	socks *socketSet

	hs    handshakeCapture
	keys  atomic.Pointer[sendKeys]
	route atomic.Pointer[sendRoute]
	done  atomic.Bool // the connection closed: no more direct writes

	direct atomic.Uint64 // packets written directly
	rtcpIn atomic.Uint64 // RTCP packets from the peer taken off the socket

	// RTCP from the peer, read on the socket (rtcpTap): decrypted with the peer's keys and
	// handed to the congestion interceptor and to the streams it names.
	taps     *tapTable
	rmu      sync.Mutex // guards rctx, rctxKeys, rbuf
	rctx     *srtp.Context
	rctxKeys *sendKeys
	rbuf     []byte
	hmu      sync.RWMutex
	handlers map[uint32]func([]rtcp.Packet) // by the SSRC of the stream sent
}

// sendKeys are a connection's SRTP master keys: the SFU's (key, salt) and the peer's.
type sendKeys struct {
	key, salt             []byte
	remoteKey, remoteSalt []byte
	profile               srtp.ProtectionProfile
}

type sendRoute struct {
	sock *Socket
	to   netip.AddrPort
}

// SetProbing marks the packets sent from now on as part of a bandwidth probe (or not).
func (s *SendPath) SetProbing(on bool) { s.ci.probing.Store(on) }

// Direct reports whether media currently leaves through the direct path.
func (s *SendPath) Direct() bool { return s.keys.Load() != nil && s.route.Load() != nil }

// DirectPackets is how many RTP packets went out through the direct path.
func (s *SendPath) DirectPackets() uint64 { return s.direct.Load() }

// watch follows the connection's DTLS state and selected candidate pair.
func (s *SendPath) watch(pc *webrtc.PeerConnection) {
	dt := pc.SCTP().Transport()
	dt.OnStateChange(func(st webrtc.DTLSTransportState) {
		switch st {
		case webrtc.DTLSTransportStateConnected:
			if k, err := s.hs.derive(); err == nil {
				s.keys.Store(k)
			}
		case webrtc.DTLSTransportStateClosed, webrtc.DTLSTransportStateFailed:
			s.close()
		}
	})
	dt.ICETransport().OnSelectedCandidatePairChange(func(p *webrtc.ICECandidatePair) {
		s.setRoute(p)
	})
}

// close stops direct writes; later packets go to pion, which refuses them.
func (s *SendPath) close() {
	s.done.Store(true)
	s.storeRoute(nil)
}

func (s *SendPath) setRoute(p *webrtc.ICECandidatePair) {
	if s.done.Load() || p == nil || p.Local == nil || p.Remote == nil || s.socks == nil {
		s.storeRoute(nil)
		return
	}
	sock := s.socks.lookup(p.Local)
	to, err := netip.ParseAddr(p.Remote.Address)
	if sock == nil || err != nil || p.Remote.Protocol != webrtc.ICEProtocolUDP {
		s.storeRoute(nil)
		return
	}
	s.storeRoute(&sendRoute{sock: sock, to: netip.AddrPortFrom(to.Unmap(), p.Remote.Port)})
}

// storeRoute sets the route and tells the RTCP tap where the peer's packets come from.
func (s *SendPath) storeRoute(r *sendRoute) {
	old := s.route.Swap(r)
	if s.taps == nil {
		return
	}
	if old != nil && (r == nil || old.to != r.to) {
		s.taps.remove(old.to, s)
	}
	if r != nil {
		s.taps.add(r.to, s)
	}
}

// takeRTCP handles an RTCP packet the peer sent, read off the socket, and reports whether
// it did; a packet it cannot decrypt (no keys yet, or not for these keys) goes on to pion.
// It runs on the socket's read goroutine.
func (s *SendPath) takeRTCP(pkt []byte) bool {
	keys := s.keys.Load()
	if keys == nil || s.done.Load() {
		return false
	}
	s.rmu.Lock()
	if s.rctxKeys != keys {
		c, err := srtp.CreateContext(keys.remoteKey, keys.remoteSalt, keys.profile)
		if err != nil {
			s.rmu.Unlock()
			return false
		}
		s.rctx, s.rctxKeys = c, keys
		s.rbuf = make([]byte, 0, 1500)
	}
	dec, err := s.rctx.DecryptRTCP(s.rbuf[:0], pkt, nil)
	if err != nil {
		s.rmu.Unlock()
		return false
	}
	pkts, err := rtcp.Unmarshal(dec)
	s.rmu.Unlock()
	s.rtcpIn.Add(1)
	if err != nil {
		return true // decrypted but malformed: the peer's problem, dropped here
	}
	s.ci.handleRTCP(pkts)
	// Each stream the packets name, once.
	var seen [16]uint32
	n := 0
	s.hmu.RLock()
	defer s.hmu.RUnlock()
	for _, p := range pkts {
		for _, ssrc := range p.DestinationSSRC() {
			h := s.handlers[ssrc]
			if h == nil || contains(seen[:n], ssrc) {
				continue
			}
			if n < len(seen) {
				seen[n] = ssrc
				n++
			}
			h(pkts)
		}
	}
	return true
}

func contains(s []uint32, v uint32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// RTCPPackets is how many RTCP packets from the peer the send path took off the socket.
func (s *SendPath) RTCPPackets() uint64 { return s.rtcpIn.Load() }

// NewFixedSendPath is a send path with its keys and route set: media for any stream goes to
// to from sock, encrypted with key and salt. Benchmarks and tests use it (send paths on one
// socket share its Socket, as the node's do); fb may be nil.
func NewFixedSendPath(sock *Socket, to netip.AddrPort, key, salt []byte, profile srtp.ProtectionProfile,
	fb FeedbackListener,
) *SendPath {
	s := &SendPath{ci: &congestionInterceptor{listener: fb}}
	s.keys.Store(&sendKeys{key: key, salt: salt, profile: profile})
	s.route.Store(&sendRoute{sock: sock, to: to})
	return s
}

// Writer is a down track's writer hook: it wraps the writer pion gives a track bound to
// the connection (w) in the direct path, and sends the track's RTCP that the direct path
// reads (NACK, PLI, FIR, receiver reports naming its SSRC) to rtcpFn.
func (s *SendPath) Writer(rtcpFn func([]rtcp.Packet)) func(webrtc.TrackLocalContext, webrtc.TrackLocalWriter) webrtc.TrackLocalWriter {
	return func(ctx webrtc.TrackLocalContext, w webrtc.TrackLocalWriter) webrtc.TrackLocalWriter {
		var id uint8
		for _, e := range ctx.HeaderExtensions() {
			if e.URI == ExtTWCC {
				id = uint8(e.ID)
			}
		}
		d := s.Stream(id, w)
		if rtcpFn != nil {
			d.ssrc, d.registered = uint32(ctx.SSRC()), true
			s.hmu.Lock()
			if s.handlers == nil {
				s.handlers = map[uint32]func([]rtcp.Packet){}
			}
			s.handlers[d.ssrc] = rtcpFn
			s.hmu.Unlock()
		}
		return d
	}
}

// Stream is the writer of one outgoing RTP stream: twccID is the negotiated id of the
// transport-wide sequence number extension (0: none), pion the writer of pion's path.
func (s *SendPath) Stream(twccID uint8, pion webrtc.TrackLocalWriter) *DirectStream {
	return &DirectStream{sp: s, pion: pion, twccID: twccID}
}

// DirectStream writes one RTP stream of a subscriber connection (see SendPath). Its writes
// may come from several goroutines.
type DirectStream struct {
	sp         *SendPath
	pion       webrtc.TrackLocalWriter
	twccID     uint8
	ssrc       uint32
	registered bool // ssrc has an RTCP handler

	mu      sync.Mutex // guards what follows
	ctx     *srtp.Context
	ctxKeys *sendKeys
	hdr     rtp.Header // EncryptRTP's parse of the marshalled header
	buf     []byte     // unbatched writes
}

// sealOverhead bounds what SRTP adds to a packet (the longest authentication tag, 16 bytes,
// with room to spare).
const sealOverhead = 32

// WriteRTP writes one packet now.
func (d *DirectStream) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	return d.write(nil, h, payload)
}

// WriteRTPBatch queues one packet in b (a *Batch), which sends it at its next Flush. Any
// other batch writes it now.
func (d *DirectStream) WriteRTPBatch(b interface{ Flush() }, h *rtp.Header, payload []byte) (int, error) {
	bt, _ := b.(*Batch)
	return d.write(bt, h, payload)
}

// Release forgets the stream's RTCP handler; the track was unbound.
func (d *DirectStream) Release() {
	if !d.registered {
		return
	}
	d.sp.hmu.Lock()
	delete(d.sp.handlers, d.ssrc)
	d.sp.hmu.Unlock()
}

// Write writes one marshalled RTP packet, through pion's path.
func (d *DirectStream) Write(b []byte) (int, error) { return d.pion.Write(b) }

var errNoPionWriter = errors.New("transport: stream has no pion writer")

func (d *DirectStream) write(b *Batch, h *rtp.Header, payload []byte) (int, error) {
	keys, route := d.sp.keys.Load(), d.sp.route.Load()
	size := h.MarshalSize() + len(payload) + int(h.PaddingSize)
	if d.twccID != 0 {
		size += 8 // at most: a one-byte extension header, and the two-byte value with its id, padded
	}
	if keys == nil || route == nil || size+sealOverhead > batchSlotSize {
		if d.pion == nil {
			return 0, errNoPionWriter
		}
		return d.pion.WriteRTP(h, payload)
	}
	if d.twccID != 0 {
		if err := d.sp.ci.stamp(h, d.twccID, len(payload)); err != nil {
			return 0, err
		}
	}
	var out []byte
	if b != nil {
		out = b.slot()
	} else {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.buf == nil {
			d.buf = make([]byte, batchSlotSize)
		}
		out = d.buf
	}
	n, err := rtp.MarshalPacketTo(out, h, payload) //nolint:staticcheck // the header-and-payload form avoids a copy
	if err != nil {
		return 0, err
	}
	if b != nil {
		d.mu.Lock()
	}
	enc, err := d.seal(keys, out, n)
	if b != nil {
		d.mu.Unlock()
	}
	if err != nil {
		return 0, err
	}
	d.sp.direct.Add(1)
	if b != nil {
		return len(enc), b.commit(route, enc)
	}
	return route.sock.writeTo(enc, route.to)
}

// seal encrypts the n-byte packet in out in place. d.mu is held.
func (d *DirectStream) seal(keys *sendKeys, out []byte, n int) ([]byte, error) {
	if d.ctxKeys != keys {
		c, err := srtp.CreateContext(keys.key, keys.salt, keys.profile)
		if err != nil {
			return nil, err
		}
		d.ctx, d.ctxKeys = c, keys
	}
	return d.ctx.EncryptRTP(out, out[:n], &d.hdr)
}

// handshakeCapture collects what the DTLS handshake of one connection says about its keys.
// It is the connection's DTLS key log writer.
type handshakeCapture struct {
	mu           sync.Mutex
	serverRandom []byte
	suite        uint16
	profile      dtls.SRTPProtectionProfile
	clientRandom []byte
	master       []byte
}

// serverHello is the DTLS server hello hook: it reads the hello and sends it unchanged.
func (h *handshakeCapture) serverHello(m handshake.MessageServerHello) handshake.Message {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := m.Random.MarshalFixed()
	h.serverRandom = append(h.serverRandom[:0], r[:]...)
	h.suite = 0
	if m.CipherSuiteID != nil {
		h.suite = *m.CipherSuiteID
	}
	h.profile = 0
	for _, e := range m.Extensions {
		if u, ok := e.(*extension.UseSRTP); ok && len(u.ProtectionProfiles) == 1 {
			h.profile = dtls.SRTPProtectionProfile(u.ProtectionProfiles[0])
		}
	}
	return &m
}

// Write takes one key log line: "CLIENT_RANDOM <client random> <master secret>" in hex.
func (h *handshakeCapture) Write(p []byte) (int, error) {
	f := strings.Fields(string(p))
	if len(f) != 3 || f[0] != "CLIENT_RANDOM" {
		return len(p), nil
	}
	cr, err1 := hex.DecodeString(f[1])
	ms, err2 := hex.DecodeString(f[2])
	if err1 != nil || err2 != nil {
		return len(p), nil
	}
	h.mu.Lock()
	h.clientRandom, h.master = cr, ms
	h.mu.Unlock()
	return len(p), nil
}

var errNoKeys = errors.New("transport: the handshake did not give the SRTP keys")

// derive computes the SFU's SRTP master key and salt (the server's write keys) and forgets
// the master secret.
func (h *handshakeCapture) derive() (*sendKeys, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	defer func() {
		clear(h.master)
		h.master = nil
	}()
	hash := prfHash(h.suite)
	if hash == nil || h.profile == 0 || len(h.serverRandom) != 32 || len(h.clientRandom) != 32 || len(h.master) == 0 {
		return nil, errNoKeys
	}
	cfg := srtp.Config{Profile: srtp.ProtectionProfile(h.profile)}
	if err := cfg.ExtractSessionKeysFromDTLS(exporter{h: h, hash: hash}, false); err != nil {
		return nil, err
	}
	k := cfg.Keys
	return &sendKeys{key: k.LocalMasterKey, salt: k.LocalMasterSalt, remoteKey: k.RemoteMasterKey,
		remoteSalt: k.RemoteMasterSalt, profile: cfg.Profile}, nil
}

// prfHash is the TLS 1.2 PRF hash of the cipher suites pion's DTLS offers, nil for others.
func prfHash(suite uint16) prf.HashFunc {
	switch dtls.CipherSuiteID(suite) {
	case dtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, dtls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:
		return sha512.New384
	case dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, dtls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		dtls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, dtls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
		dtls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, dtls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:
		return sha256.New
	}
	return nil
}

// exporter is RFC 5705's keying material exporter over a captured handshake (h.mu held).
type exporter struct {
	h    *handshakeCapture
	hash prf.HashFunc
}

func (e exporter) ExportKeyingMaterial(label string, context []byte, length int) ([]byte, error) {
	if len(context) != 0 {
		return nil, errNoKeys
	}
	seed := make([]byte, 0, len(label)+64)
	seed = append(append(append(seed, label...), e.h.clientRandom...), e.h.serverRandom...)
	return prf.PHash(e.h.master, seed, length, e.hash)
}
