//go:build linux

// The benchmarks measure the kernel's UDP path and read thread CPU time with getrusage(2).

package router

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/cascade-sfu/cascade/transport"
)

// The forwarding-cost benchmarks. All send the same stream of 1200-byte video packets,
// SRTP-encrypted by a publisher, to N subscribers over real loopback UDP, and report the cost
// per forwarded packet (ns/fwd: elapsed time over packets written; allocs/op is per received
// packet, so per forwarded packet it is allocs/op / N).
//
//   - BenchmarkForward is Cascade's path from a received packet to the wire, as the node runs
//     it once a subscriber connection is up: SRTP decrypt into the ring slot, the receive
//     loop's per-packet work (parse, ring commit, keyframe check), each down track's selector
//     and header rewrite, then the connection's direct send path (transport.SendPath: the
//     transport-wide sequence number and send log, marshal, SRTP encryption with the
//     connection's keys) into the read goroutine's batch, which leaves in one sendmmsg(2) per
//     fan-out from one shared socket, as the ICE UDP mux's.
//   - BenchmarkForwardPion is the same through pion's layers, the path of a connection
//     without the direct one: the interceptor chain transport gives subscriber connections
//     (transport.NewSubscriberInterceptor), pion's SRTP session (marshal, encrypt) and one UDP
//     write per packet. pion's ICE and DTLS connection wrappers between the SRTP session and
//     the socket are left out (they need a handshake with a real peer per subscriber); the
//     node's profile in docs/performance.md shows what they add.
//   - BenchmarkBaseline is the physical limit of one write per packet: decrypt once, then per
//     subscriber encrypt with its own SRTP context and write, with no SFU logic.
//
// Two figures per run: ns/fwd is wall time over packets written; cpu-ns/fwd is the CPU time
// (user and kernel) of the benchmark's own thread over the same, which holds steady when
// other work shares the machine. The kernel's loopback delivery runs mostly in the sender's
// system call, so it is in all of them.
//
// Receivers are sockets nobody reads: once a socket's buffer is full the kernel drops what
// arrives, so no CPU goes to receiving and every benchmark pays the same kernel send path.
// All use AEAD_AES_128_GCM, the profile Cascade prefers (TOOLING.md).

var benchSubs = []int{1, 10, 100, 500}

const (
	benchProfile    = srtp.ProtectionProfileAeadAes128Gcm
	benchPayloadLen = 1160 // + 12 bytes of RTP header: a full-size video packet
	benchPackets    = 256  // distinct encrypted packets, replayed with rising sequence numbers
)

func srtpKeys(b testing.TB) (key, salt []byte) {
	b.Helper()
	kl, err := benchProfile.KeyLen()
	if err != nil {
		b.Fatal(err)
	}
	sl, err := benchProfile.SaltLen()
	if err != nil {
		b.Fatal(err)
	}
	key, salt = make([]byte, kl), make([]byte, sl)
	_, _ = rand.Read(key)
	_, _ = rand.Read(salt)
	return key, salt
}

func srtpContext(b testing.TB, key, salt []byte) *srtp.Context {
	b.Helper()
	c, err := srtp.CreateContext(key, salt, benchProfile)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// publisherStream is what arrives from a publisher: a VP8 keyframe start, then continuation
// packets, each SRTP-encrypted, with sequence numbers the benchmark loop rewrites.
type publisherStream struct {
	ctx     *srtp.Context // the SFU's context for the publisher's key: decrypts
	encCtx  *srtp.Context // the publisher's own: encrypts
	key     []byte        // first packet: a keyframe start
	packets [][]byte      // plain RTP, re-encrypted per iteration with its sequence number
	seq     uint16
	enc     []byte
	hdr     rtp.Header
}

func newPublisherStream(b testing.TB) *publisherStream {
	b.Helper()
	key, salt := srtpKeys(b)
	s := &publisherStream{ctx: srtpContext(b, key, salt), encCtx: srtpContext(b, key, salt), enc: make([]byte, 0, MaxPacketSize+32)}
	payload := make([]byte, benchPayloadLen)
	for i := range payload {
		payload[i] = byte(i)
	}
	// VP8 descriptor (RFC 7741): S=1, PID=0, then a key frame tag (P=0).
	kf := append([]byte{0x10, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a}, payload[7:]...)
	s.key = makePacket(96, 0, 0, 7777, kf)
	cont := append([]byte{0x00}, payload[1:]...) // continuation of a partition
	for i := 0; i < benchPackets; i++ {
		s.packets = append(s.packets, makePacket(96, 0, uint32(i/4)*3000, 7777, cont))
	}
	return s
}

// next returns the next packet encrypted as the publisher sent it. Encrypting it is the
// publisher's work, but it runs inside the timed loop: both benchmarks pay it alike, and
// BenchmarkBaseline/subs=1 shows its size.
func (s *publisherStream) next(first bool) []byte {
	raw := s.packets[int(s.seq)%benchPackets]
	if first {
		raw = s.key
	}
	binary.BigEndian.PutUint16(raw[2:], s.seq)
	s.seq++
	out, err := s.encCtx.EncryptRTP(s.enc[:0], raw, &s.hdr)
	if err != nil {
		panic(err)
	}
	return out
}

// sinkSockets opens n loopback sockets nobody reads.
func sinkSockets(b testing.TB, n int) []*net.UDPConn {
	b.Helper()
	out := make([]*net.UDPConn, n)
	for i := range out {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		out[i] = c
		b.Cleanup(func() { _ = c.Close() })
	}
	return out
}

func muxSocket(b testing.TB) *net.UDPConn {
	b.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return c
}

// muxConn is one subscriber's connection on the shared socket: writes go to its address,
// reads wait until it is closed (nothing comes back in this benchmark).
type muxConn struct {
	sock   *net.UDPConn
	remote *net.UDPAddr
	once   sync.Once
	closed chan struct{}
}

func (c *muxConn) Read([]byte) (int, error) {
	<-c.closed
	return 0, net.ErrClosed
}
func (c *muxConn) Write(b []byte) (int, error) { return c.sock.WriteToUDP(b, c.remote) }
func (c *muxConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}
func (c *muxConn) LocalAddr() net.Addr              { return c.sock.LocalAddr() }
func (c *muxConn) RemoteAddr() net.Addr             { return c.remote }
func (c *muxConn) SetDeadline(time.Time) error      { return nil }
func (c *muxConn) SetReadDeadline(time.Time) error  { return nil }
func (c *muxConn) SetWriteDeadline(time.Time) error { return nil }

// subscriberWriter is the TrackLocalWriter a bound down track gets from pion: the
// interceptor chain, ending in the SRTP session's write stream.
type subscriberWriter struct {
	w interceptor.RTPWriter
}

func (s *subscriberWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	return s.w.Write(h, payload, nil) // pion passes nil attributes here too
}
func (s *subscriberWriter) Write(b []byte) (int, error) {
	var p rtp.Packet
	if err := p.Unmarshal(b); err != nil {
		return 0, err
	}
	return s.WriteRTP(&p.Header, p.Payload)
}

// subscriberStack is one subscriber's half of a PeerConnection for writing.
type subscriberStack struct {
	conn    *muxConn
	session *srtp.SessionSRTP
	icpt    interceptor.Interceptor
	writer  *subscriberWriter
}

// quietLoggers silences pion's loggers (the sessions complain when the benchmark closes them).
func quietLoggers() logging.LoggerFactory {
	f := logging.NewDefaultLoggerFactory()
	f.DefaultLogLevel = logging.LogLevelDisabled
	return f
}

// twccExtID is the id a subscriber connection negotiates for transport-wide sequence numbers.
const twccExtID = 3

func newSubscriberStack(b testing.TB, sock *net.UDPConn, remote *net.UDPAddr, ssrc uint32) *subscriberStack {
	b.Helper()
	conn := &muxConn{sock: sock, remote: remote, closed: make(chan struct{})}
	key, salt := srtpKeys(b)
	rkey, rsalt := srtpKeys(b)
	sess, err := srtp.NewSessionSRTP(conn, &srtp.Config{
		Profile:       benchProfile,
		Keys:          srtp.SessionKeys{LocalMasterKey: key, LocalMasterSalt: salt, RemoteMasterKey: rkey, RemoteMasterSalt: rsalt},
		LoggerFactory: quietLoggers(),
	})
	if err != nil {
		b.Fatal(err)
	}
	ws, err := sess.OpenWriteStream()
	if err != nil {
		b.Fatal(err)
	}
	// The chain a subscriber connection of the node has: transport builds it.
	icpt, _, err := transport.NewSubscriberInterceptor(nil)
	if err != nil {
		b.Fatal(err)
	}
	icpt.BindRTCPWriter(interceptor.RTCPWriterFunc(func([]rtcp.Packet, interceptor.Attributes) (int, error) { return 0, nil }))
	info := &interceptor.StreamInfo{
		SSRC: ssrc, ClockRate: 90000, MimeType: webrtc.MimeTypeVP8, PayloadType: 120,
		RTPHeaderExtensions: []interceptor.RTPHeaderExtension{{URI: transport.ExtTWCC, ID: twccExtID}},
	}
	w := icpt.BindLocalStream(info, interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, _ interceptor.Attributes) (int, error) {
		return ws.WriteRTP(h, payload)
	}))
	return &subscriberStack{conn: conn, session: sess, icpt: icpt, writer: &subscriberWriter{w: w}}
}

func (s *subscriberStack) close() {
	_ = s.icpt.Close()
	_ = s.session.Close()
}

// BenchmarkForward: see the comment at the top of the file.
func BenchmarkForward(b *testing.B) {
	var (
		shared *transport.Socket
		conn   *net.UDPConn
	)
	benchForward(b, func(b *testing.B, sock *net.UDPConn, sink *net.UDPAddr, ssrc uint32) (webrtc.TrackLocalWriter, func()) {
		if conn != sock {
			conn, shared = sock, transport.NewSocket(sock) // one per socket, as the node has
		}
		key, salt := srtpKeys(b)
		sp := transport.NewFixedSendPath(shared, sink.AddrPort(), key, salt, benchProfile, nil)
		return sp.Stream(twccExtID, nil), func() {}
	}, true)
}

// BenchmarkForwardPion is BenchmarkForward through pion's layers: what a subscriber
// connection without the direct send path costs (the interceptor chain, pion's SRTP
// session, one write per packet).
func BenchmarkForwardPion(b *testing.B) {
	benchForward(b, func(b *testing.B, sock *net.UDPConn, sink *net.UDPAddr, ssrc uint32) (webrtc.TrackLocalWriter, func()) {
		s := newSubscriberStack(b, sock, sink, ssrc)
		return s.writer, s.close
	}, false)
}

type benchWriterFunc func(b *testing.B, sock *net.UDPConn, sink *net.UDPAddr, ssrc uint32) (webrtc.TrackLocalWriter, func())

func benchForward(b *testing.B, newWriter benchWriterFunc, batch bool) {
	for _, n := range benchSubs {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			sock := muxSocket(b)
			sinks := sinkSockets(b, n)
			vp8 := Codec{Kind: KindVideo, MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
			r := NewReceiver(ReceiverConfig{TrackID: "bench", Codec: vp8})
			dts := make([]*DownTrack, n)
			for i := range dts {
				ssrc := uint32(1000 + i)
				w, closeW := newWriter(b, sock, sinks[i].LocalAddr().(*net.UDPAddr), ssrc)
				defer closeW()
				dts[i] = bindDownTrack(b, r, ssrc, w)
			}
			l := &layer{index: 0, ssrc: 7777, ring: newRing(r.cfg.RingSize)}
			if batch {
				l.batch = transport.NewBatch()
			}
			r.layers[0].Store(l)
			pub := newPublisherStream(b)
			var (
				unwrap seqUnwrapper
				p      extPacket
				hdr    rtp.Header
			)
			receive := func(first bool) {
				enc := pub.next(first)
				idx, buf := l.ring.begin()
				plain, err := pub.ctx.DecryptRTP(buf[:0], enc, &hdr)
				if err != nil {
					b.Fatal(err)
				}
				r.handlePacket(l, &unwrap, &p, idx, plain)
			}
			receive(true) // the keyframe every down track starts on
			b.ReportAllocs()
			cpu := startThreadCPU()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				receive(false)
			}
			b.StopTimer()
			cpu.report(b, b.N*n)
			var sent uint64
			for _, dt := range dts {
				sent += dt.Stats().Packets
			}
			if want := uint64(b.N+1) * uint64(n); sent != want {
				b.Fatalf("forwarded %d packets, want %d", sent, want)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/fwd")
		})
	}
}

// BenchmarkBaseline: see the comment at the top of the file.
func BenchmarkBaseline(b *testing.B) {
	for _, n := range benchSubs {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			sock := muxSocket(b)
			sinks := sinkSockets(b, n)
			addrs := make([]*net.UDPAddr, n)
			ctxs := make([]*srtp.Context, n)
			for i := range ctxs {
				addrs[i] = sinks[i].LocalAddr().(*net.UDPAddr)
				key, salt := srtpKeys(b)
				ctxs[i] = srtpContext(b, key, salt)
			}
			pub := newPublisherStream(b)
			plainBuf := make([]byte, MaxPacketSize)
			out := make([]byte, MaxPacketSize+64)
			var hdr rtp.Header
			b.ReportAllocs()
			cpu := startThreadCPU()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				enc := pub.next(false)
				plain, err := pub.ctx.DecryptRTP(plainBuf[:0], enc, &hdr)
				if err != nil {
					b.Fatal(err)
				}
				for j, c := range ctxs {
					// One subscriber's SSRC, then encrypt and send.
					binary.BigEndian.PutUint32(plain[8:], uint32(1000+j))
					pkt, err := c.EncryptRTP(out[:0], plain, &hdr)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := sock.WriteToUDP(pkt, addrs[j]); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			cpu.report(b, b.N*n)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/fwd")
		})
	}
}

// threadCPU measures the CPU time of the calling goroutine's thread, which it locks.
type threadCPU struct{ start time.Duration }

func startThreadCPU() threadCPU {
	runtime.LockOSThread()
	return threadCPU{start: threadCPUTime()}
}

// report adds cpu-ns/fwd for n forwarded packets and unlocks the thread.
func (c threadCPU) report(b *testing.B, n int) {
	d := threadCPUTime() - c.start
	runtime.UnlockOSThread()
	b.ReportMetric(float64(d.Nanoseconds())/float64(n), "cpu-ns/fwd")
}

// rusageThread is RUSAGE_THREAD (getrusage(2)): the calling thread only.
const rusageThread = 1

func threadCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
