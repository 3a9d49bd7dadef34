package transport

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
	stats *SendStats // the node's totals (nil in tests and benchmarks)
	log   *slog.Logger

	hs    handshakeCapture
	keys  atomic.Pointer[sendKeys]
	route atomic.Pointer[sendRoute]
	done  atomic.Bool // the connection closed: no more direct writes
	// routeMu serializes route changes with close, so a route set by the ICE agent's
	// goroutine cannot outlive a close from the DTLS transport's.
	routeMu sync.Mutex

	direct    atomic.Uint64 // packets written directly
	rtcpIn    atomic.Uint64 // RTCP packets from the peer taken off the socket
	lastPass  atomic.Int64  // when an RTCP packet was last left to pion (unix ns)
	passEvery atomic.Int64  // ns; pionPassInterval

	// RTCP from the peer, read on the socket (rtcpTap): decrypted there with the peer's keys
	// (replay-protected) and queued to the connection's own RTCP goroutine, which parses it
	// and hands it to the congestion interceptor and to the streams it names. The socket's
	// read goroutine, shared by every peer, does no more than the decryption.
	taps     *tapTable
	rmu      sync.Mutex // guards rctx and rctxKeys
	rctx     *srtp.Context
	rctxKeys *sendKeys
	rtcpQ    chan *[]byte // decrypted compound packets, bounded; dropped when full
	rtcpOnce sync.Once    // starts the RTCP goroutine
	stop     chan struct{}
	hmu      sync.RWMutex
	handlers map[uint32]func([]rtcp.Packet) // by the SSRC of the stream sent
}

// SendStats are the node's direct send path totals since it started.
type SendStats struct {
	DirectPackets atomic.Uint64 // RTP packets sent through direct send paths
	RTCPTaken     atomic.Uint64 // subscriber RTCP packets read off the sockets
	RTCPDropped   atomic.Uint64 // of those, dropped: replayed, undecryptable or queue full
	PionPath      atomic.Uint64 // subscriber connections whose media took pion's path
}

// rtcpQueue bounds the RTCP waiting for one connection's goroutine; a subscriber sending
// faster than it is handled loses its own RTCP, nobody else's.
const rtcpQueue = 64

var rtcpBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1500); return &b }}

func newSendPath(fb FeedbackListener) *SendPath {
	s := &SendPath{ci: &congestionInterceptor{listener: fb}, rtcpQ: make(chan *[]byte, rtcpQueue), stop: make(chan struct{})}
	s.passEvery.Store(int64(pionPassInterval))
	return s
}

// sendKeys are a connection's SRTP master keys: the SFU's (key, salt) and the peer's.
type sendKeys struct {
	key, salt             []byte
	remoteKey, remoteSalt []byte
	profile               srtp.ProtectionProfile
	gcm                   *gcmSealer // the connection's RTP sealer under an AES-GCM profile, else nil
}

// newSendKeys completes keys with the sealer its profile allows.
func newSendKeys(k *sendKeys) *sendKeys {
	if g, err := newGCMSealer(k.profile, k.key, k.salt); err == nil {
		k.gcm = g
	}
	return k
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

// watch follows the connection's DTLS state, ICE state and selected candidate pair.
func (s *SendPath) watch(pc *webrtc.PeerConnection) {
	dt := pc.SCTP().Transport()
	dt.OnStateChange(func(st webrtc.DTLSTransportState) {
		switch st {
		case webrtc.DTLSTransportStateConnected:
			k, err := s.hs.derive()
			if err != nil {
				s.pionPath("no SRTP keys from the handshake: " + err.Error())
				return
			}
			s.keys.Store(k)
			if s.route.Load() == nil {
				s.pionPath("the selected candidate pair is not on one of the node's UDP sockets")
			}
		case webrtc.DTLSTransportStateClosed, webrtc.DTLSTransportStateFailed:
			s.close()
		}
	})
	ice := dt.ICETransport()
	ice.OnSelectedCandidatePairChange(func(p *webrtc.ICECandidatePair) {
		s.setRoute(p)
	})
	// pion drops the selected pair on failure and on an ICE restart without telling the
	// pair handler; media must not go on to an address that no longer answers.
	ice.OnConnectionStateChange(func(st webrtc.ICETransportState) {
		if st == webrtc.ICETransportStateFailed || st == webrtc.ICETransportStateClosed {
			s.routeMu.Lock()
			s.storeRouteLocked(nil)
			s.routeMu.Unlock()
		}
	})
}

// pionPath notes once that the connection's media does not take the direct path, and why.
func (s *SendPath) pionPath(why string) {
	if s.stats != nil {
		s.stats.PionPath.Add(1)
	}
	if s.log != nil {
		s.log.Info("subscriber media takes pion's send path", "why", why)
	}
}

// close stops direct writes and the RTCP goroutine; later packets go nowhere.
func (s *SendPath) close() {
	s.routeMu.Lock()
	defer s.routeMu.Unlock()
	if s.done.Swap(true) {
		return
	}
	s.storeRouteLocked(nil)
	close(s.stop)
}

func (s *SendPath) setRoute(p *webrtc.ICECandidatePair) {
	var r *sendRoute
	if p != nil && p.Local != nil && p.Remote != nil && s.socks != nil && p.Remote.Protocol == webrtc.ICEProtocolUDP {
		sock := s.socks.lookup(p.Local)
		to, err := netip.ParseAddr(p.Remote.Address)
		if sock != nil && err == nil {
			r = &sendRoute{sock: sock, to: netip.AddrPortFrom(to.Unmap(), p.Remote.Port)}
		}
	}
	s.routeMu.Lock()
	defer s.routeMu.Unlock()
	if s.done.Load() {
		return
	}
	s.storeRouteLocked(r)
}

// storeRouteLocked sets the route and tells the RTCP tap where the peer's packets come
// from. routeMu is held.
func (s *SendPath) storeRouteLocked(r *sendRoute) {
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

// takeRTCP takes an RTCP packet the peer sent, read off the socket, and reports whether it
// did. A packet that does not authenticate with the peer's keys (none yet, or not this
// connection's) goes on to pion. One that authenticates but was seen before (a replay) is
// dropped. It runs on the socket's read goroutine and does nothing but the decryption.
func (s *SendPath) takeRTCP(pkt []byte) bool {
	keys := s.keys.Load()
	if keys == nil || s.done.Load() {
		return false
	}
	// One packet a second goes on to pion, which handles it as before the tap existed
	// (the connection's per-sender readers): the ICE agent counts only traffic it sees
	// toward the pair's liveness, and STUN keepalives alone, lost a few in a row on a
	// congested link, would make it declare the connection dead.
	if now := time.Now().UnixNano(); now-s.lastPass.Load() >= s.passEvery.Load() {
		s.lastPass.Store(now)
		return false
	}
	bp := rtcpBufs.Get().(*[]byte)
	s.rmu.Lock()
	if s.rctxKeys != keys {
		c, err := srtp.CreateContext(keys.remoteKey, keys.remoteSalt, keys.profile,
			srtp.SRTCPReplayProtection(rtcpReplayWindow))
		if err != nil {
			s.rmu.Unlock()
			rtcpBufs.Put(bp)
			return false
		}
		s.rctx, s.rctxKeys = c, keys
	}
	dec, err := s.rctx.DecryptRTCP((*bp)[:0], pkt, nil)
	s.rmu.Unlock()
	if errors.Is(err, srtp.ErrFailedToVerifyAuthTag) {
		rtcpBufs.Put(bp)
		return false
	}
	s.rtcpIn.Add(1)
	if s.stats != nil {
		s.stats.RTCPTaken.Add(1)
	}
	if err != nil {
		rtcpBufs.Put(bp)
		s.dropped()
		return true
	}
	*bp = dec
	s.rtcpOnce.Do(func() { go s.rtcpLoop() })
	select {
	case s.rtcpQ <- bp:
	default:
		rtcpBufs.Put(bp)
		s.dropped()
	}
	return true
}

// pionPassInterval spaces the subscriber RTCP packets left to pion (see takeRTCP).
const pionPassInterval = time.Second

// rtcpReplayWindow is the SRTCP replay window, as pion's own sessions keep.
const rtcpReplayWindow = 64

func (s *SendPath) dropped() {
	if s.stats != nil {
		s.stats.RTCPDropped.Add(1)
	}
}

// rtcpLoop handles the connection's RTCP until it closes.
func (s *SendPath) rtcpLoop() {
	for {
		select {
		case bp := <-s.rtcpQ:
			s.handleRTCP(*bp)
			rtcpBufs.Put(bp)
		case <-s.stop:
			return
		}
	}
}

// handleRTCP parses one decrypted compound packet and hands what it says: the downlink to
// the congestion interceptor, each packet to the stream of every SSRC it names (once).
func (s *SendPath) handleRTCP(b []byte) {
	pkts, err := rtcp.Unmarshal(b)
	if err != nil {
		s.dropped() // decrypted but malformed: the peer's problem
		return
	}
	s.ci.handleRTCP(pkts)
	for i, p := range pkts {
		dests := p.DestinationSSRC()
		for j, ssrc := range dests {
			if contains(dests[:j], ssrc) {
				continue
			}
			s.hmu.RLock()
			h := s.handlers[ssrc]
			s.hmu.RUnlock()
			if h != nil {
				h(pkts[i : i+1])
			}
		}
	}
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
	s := newSendPath(fb)
	s.keys.Store(newSendKeys(&sendKeys{key: key, salt: salt, profile: profile}))
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
	registered bool         // ssrc has an RTCP handler
	wentDirect atomic.Bool  // a packet took the direct path: the stream's SRTP state is ours
	pending    atomic.Int32 // packets of the stream waiting in a batch

	mu      sync.Mutex    // guards what follows
	ctx     *srtp.Context // profiles other than AES-GCM
	gcm     gcmStream     // AES-GCM: the rollover counter (the cipher is the connection's)
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

// Write writes one marshalled RTP packet now, by the same path as WriteRTP.
func (d *DirectStream) Write(b []byte) (int, error) {
	var p rtp.Packet
	if err := p.Unmarshal(b); err != nil {
		return 0, err
	}
	return d.write(nil, &p.Header, p.Payload)
}

var (
	errNoPionWriter = errors.New("transport: stream has no pion writer")
	errRouteLost    = errors.New("transport: the connection's direct route is gone")
)

func (d *DirectStream) write(b *Batch, h *rtp.Header, payload []byte) (int, error) {
	keys, route := d.sp.keys.Load(), d.sp.route.Load()
	size := h.MarshalSize() + len(payload) + int(h.PaddingSize)
	if d.twccID != 0 {
		size += 8 // at most: a one-byte extension header, and the two-byte value with its id, padded
	}
	if keys == nil || route == nil || size+sealOverhead > batchSlotSize {
		if d.wentDirect.Load() {
			// pion's SRTP context would not know the stream's rollover count: what it
			// sent would not decrypt.
			return 0, errRouteLost
		}
		if d.pion == nil {
			return 0, errNoPionWriter
		}
		return d.pion.WriteRTP(h, payload)
	}
	if !d.wentDirect.Load() {
		d.wentDirect.Store(true)
	}
	if b == nil {
		d.waitForBatch()
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
	enc, err := d.seal(keys, h, out, n, n-len(payload)-int(h.PaddingSize))
	if b != nil {
		d.mu.Unlock()
	}
	if err != nil {
		return 0, err
	}
	d.sp.direct.Add(1)
	if d.sp.stats != nil {
		d.sp.stats.DirectPackets.Add(1)
	}
	if b != nil {
		d.pending.Add(1)
		return len(enc), b.commit(route, enc, d)
	}
	return route.sock.writeTo(enc, route.to)
}

// batchWait bounds how long an unbatched write waits for the stream's batched packets.
const batchWait = 2 * time.Millisecond

// waitForBatch holds an unbatched write (probe padding, a retransmission) until the stream's
// packets waiting in a forwarding goroutine's batch have left, at most batchWait (a fan-out
// takes well under that). Packets then reach the wire in the order of their transport-wide
// sequence numbers, which bandwidth estimation reads: padding numbered after a media packet
// must not overtake it. The batch's own goroutine never writes unbatched, so it cannot wait
// on itself.
func (d *DirectStream) waitForBatch() {
	if d.pending.Load() <= 0 {
		return
	}
	deadline := time.Now().Add(batchWait)
	for d.pending.Load() > 0 && time.Now().Before(deadline) {
		runtime.Gosched()
	}
}

// seal encrypts the n-byte packet in out, whose header is h (headerLen bytes marshalled), in
// place. d.mu is held.
func (d *DirectStream) seal(keys *sendKeys, h *rtp.Header, out []byte, n, headerLen int) ([]byte, error) {
	if d.ctxKeys != keys {
		d.ctx, d.gcm = nil, gcmStream{}
		if keys.gcm == nil {
			c, err := srtp.CreateContext(keys.key, keys.salt, keys.profile)
			if err != nil {
				return nil, err
			}
			d.ctx = c
		}
		d.ctxKeys = keys
	}
	if keys.gcm != nil {
		return keys.gcm.seal(out, n, headerLen, h.SSRC, h.SequenceNumber, &d.gcm)
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
	return newSendKeys(&sendKeys{key: k.LocalMasterKey, salt: k.LocalMasterSalt, remoteKey: k.RemoteMasterKey,
		remoteSalt: k.RemoteMasterSalt, profile: cfg.Profile}), nil
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
