package transport

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/cascade-sfu/cascade/bwe"
)

type nopFeedback struct{}

func (nopFeedback) OnTransportFeedback([]bwe.PacketResult) {}
func (nopFeedback) OnREMB(int)                             {}

// testTrack is a local track whose writer is the send path's, as a router down track's is.
type testTrack struct {
	sp     *SendPath
	bound  chan webrtc.TrackLocalWriter
	ssrc   chan uint32
	stream string
	rtcp   chan []rtcp.Packet // what the send path's RTCP tap hands the track
}

func (t *testTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	for _, c := range ctx.CodecParameters() {
		if c.MimeType == webrtc.MimeTypeOpus {
			t.ssrc <- uint32(ctx.SSRC())
			t.bound <- t.sp.Writer(func(p []rtcp.Packet) { t.rtcp <- p })(ctx, ctx.WriteStream())
			return c, nil
		}
	}
	return webrtc.RTPCodecParameters{}, fmt.Errorf("no opus")
}
func (t *testTrack) Unbind(webrtc.TrackLocalContext) error { return nil }
func (t *testTrack) ID() string                            { return "audio" }
func (t *testTrack) RID() string                           { return "" }
func (t *testTrack) StreamID() string                      { return t.stream }
func (t *testTrack) Kind() webrtc.RTPCodecType             { return webrtc.RTPCodecTypeAudio }

// connectSubscriber connects a subscriber connection of tr to a plain pion peer over
// loopback and returns the track's writer, its SSRC and the payloads the peer receives.
func connectSubscriber(t *testing.T, tr *Transport, peerRole webrtc.DTLSRole) (*webrtc.PeerConnection, *SendPath, webrtc.TrackLocalWriter, uint32, chan []byte) {
	pc, sp, w, ssrc, got, _, _ := connectSubscriberRTCP(t, tr, peerRole, nil)
	return pc, sp, w, ssrc, got
}

// connectSubscriberRTCP is connectSubscriber that also returns the peer and the RTCP the
// track's handler gets.
// peerSettings, when set, adjusts the peer's SettingEngine.
func connectSubscriberRTCP(t *testing.T, tr *Transport, peerRole webrtc.DTLSRole, peerSettings func(*webrtc.SettingEngine)) (
	*webrtc.PeerConnection, *SendPath, webrtc.TrackLocalWriter, uint32, chan []byte, *webrtc.PeerConnection, chan []rtcp.Packet,
) {
	t.Helper()
	pc, sp, err := tr.NewSubscriberPeerConnection(nopFeedback{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	track := &testTrack{sp: sp, bound: make(chan webrtc.TrackLocalWriter, 1), ssrc: make(chan uint32, 1), stream: "s",
		rtcp: make(chan []rtcp.Packet, 64)}
	if _, err := pc.AddTrack(track); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	if peerSettings != nil {
		peerSettings(&se)
	}
	if err := se.SetAnsweringDTLSRole(peerRole); err != nil {
		t.Fatal(err)
	}
	peer, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = peer.Close() })
	got := make(chan []byte, 256)
	peer.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			got <- append([]byte(nil), p.Payload...)
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-done
	if err := peer.SetRemoteDescription(*pc.LocalDescription()); err != nil {
		t.Fatal(err)
	}
	answer, err := peer.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	done = webrtc.GatheringCompletePromise(peer)
	if err := peer.SetLocalDescription(answer); err != nil {
		t.Fatal(err)
	}
	<-done
	if err := pc.SetRemoteDescription(*peer.LocalDescription()); err != nil {
		t.Fatal(err)
	}
	w := <-track.bound
	ssrc := <-track.ssrc
	waitFor(t, "connected", func() bool { return pc.ConnectionState() == webrtc.PeerConnectionStateConnected })
	return pc, sp, w, ssrc, got, peer, track.rtcp
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}

func newLoopbackTransport(t *testing.T) *Transport {
	t.Helper()
	tr, err := New(Config{Bind: "127.0.0.1", IncludeLoopback: true}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

// writeAndReceive writes count packets, the odd ones through a batch, checks the peer
// decrypts every one, in order, and returns how many of them took the direct path.
func writeAndReceive(t *testing.T, sp *SendPath, w webrtc.TrackLocalWriter, ssrc uint32, got chan []byte, count int) uint64 {
	t.Helper()
	b := NewBatch()
	bw, canBatch := w.(interface {
		WriteRTPBatch(interface{ Flush() }, *rtp.Header, []byte) (int, error)
	})
	// The first packets may arrive before the peer's track reader runs: send until one
	// arrives, then the numbered run.
	h := rtp.Header{Version: 2, PayloadType: 111, SSRC: ssrc, SequenceNumber: 100}
	warm := []byte("warm-up")
	waitFor(t, "a first packet", func() bool {
		h.SequenceNumber++
		h.Timestamp += 960
		if _, err := w.WriteRTP(&h, warm); err != nil {
			t.Fatal(err)
		}
		select {
		case <-got:
			return true
		default:
			return false
		}
	})
	time.Sleep(50 * time.Millisecond)
	for len(got) > 0 {
		<-got
	}
	before := sp.DirectPackets()
	for i := 0; i < count; i++ {
		h.SequenceNumber++
		h.Timestamp += 960
		h.Extension, h.Extensions = false, h.Extensions[:0]
		payload := []byte(fmt.Sprintf("packet %03d %s", i, bytes.Repeat([]byte{byte(i)}, i)))
		var err error
		if i%2 == 1 && canBatch {
			_, err = bw.WriteRTPBatch(b, &h, payload)
			if i%6 == 5 {
				b.Flush()
			}
		} else {
			b.Flush() // keep the packets in order
			_, err = w.WriteRTP(&h, payload)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	b.Flush()
	for i := 0; i < count; i++ {
		select {
		case p := <-got:
			want := fmt.Sprintf("packet %03d %s", i, bytes.Repeat([]byte{byte(i)}, i))
			if string(p) != want {
				t.Fatalf("packet %d: got %q, want %q", i, p, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("received %d of %d packets", i, count)
		}
	}
	return sp.DirectPackets() - before
}

func TestSendPathWritesDirectly(t *testing.T) {
	tr := newLoopbackTransport(t)
	// Answerers take the DTLS client role, so the SFU is the server and learns the keys.
	_, sp, w, ssrc, got := connectSubscriber(t, tr, webrtc.DTLSRoleClient)
	waitFor(t, "the direct path", sp.Direct)
	if n := writeAndReceive(t, sp, w, ssrc, got, 60); n != 60 {
		t.Fatalf("%d packets went the direct path, want 60", n)
	}
}

func TestSendPathFallsBackWhenSFUIsDTLSClient(t *testing.T) {
	tr := newLoopbackTransport(t)
	_, sp, w, ssrc, got := connectSubscriber(t, tr, webrtc.DTLSRoleServer)
	writeAndReceive(t, sp, w, ssrc, got, 20)
	if sp.Direct() || sp.DirectPackets() != 0 {
		t.Fatalf("direct path in use (%d packets) without the server's keys", sp.DirectPackets())
	}
}

func TestSendPathStopsAtClose(t *testing.T) {
	tr := newLoopbackTransport(t)
	pc, sp, w, ssrc, _ := connectSubscriber(t, tr, webrtc.DTLSRoleClient)
	waitFor(t, "the direct path", sp.Direct)
	if err := pc.Close(); err != nil {
		t.Fatal(err)
	}
	if sp.Direct() {
		t.Fatal("direct path still on after the connection closed")
	}
	before := sp.DirectPackets()
	h := rtp.Header{Version: 2, PayloadType: 111, SSRC: ssrc}
	if _, err := w.WriteRTP(&h, []byte("late")); err == nil {
		t.Fatal("a write after close succeeded")
	}
	if sp.DirectPackets() != before {
		t.Fatal("a write after close went out directly")
	}
}

// A subscriber's RTCP is read off the socket by the send path once it has the keys: the
// PLIs the peer sends reach the track they name, and pion's path sees at most one a second
// (what keeps its ICE agent's view of the pair alive).
func TestSendPathTakesSubscriberRTCP(t *testing.T) {
	tr := newLoopbackTransport(t)
	pc, sp, _, ssrc, _, peer, fromTap := connectSubscriberRTCP(t, tr, webrtc.DTLSRoleClient, nil)
	waitFor(t, "the direct path", sp.Direct)
	fromPion := pionRTCP(pc)
	waitForPLI(t, peer, ssrc, func() bool { return gotPLI(fromTap, ssrc) })
	start, before := time.Now(), sp.RTCPPackets()
	const sent = 30
	for i := 0; i < sent; i++ {
		if err := peer.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the PLIs", func() bool { return sp.RTCPPackets()-before+uint64(len(fromPion)) >= sent })
	if taken := sp.RTCPPackets() - before; taken < sent-2 {
		t.Fatalf("the tap took %d of %d packets", taken, sent)
	}
	if passed, most := len(fromPion), int(time.Since(start)/pionPassInterval)+2; passed > most {
		t.Fatalf("pion's path saw %d packets in %v", passed, time.Since(start))
	}
}

// Without the keys (the SFU is the DTLS client) the subscriber's RTCP stays on pion's path.
func TestSendPathLeavesRTCPWithoutKeys(t *testing.T) {
	tr := newLoopbackTransport(t)
	pc, sp, _, ssrc, _, peer, fromTap := connectSubscriberRTCP(t, tr, webrtc.DTLSRoleServer, nil)
	fromPion := pionRTCP(pc)
	waitForPLI(t, peer, ssrc, func() bool { return gotPLI(fromPion, ssrc) })
	if n := sp.RTCPPackets(); n != 0 || len(fromTap) != 0 {
		t.Fatalf("the tap took %d RTCP packets without the keys", n)
	}
}

// pionRTCP is what pion's path delivers to the connection's first sender.
func pionRTCP(pc *webrtc.PeerConnection) chan []rtcp.Packet {
	sender := pc.GetSenders()[0]
	ch := make(chan []rtcp.Packet, 64)
	go func() {
		for {
			pkts, _, err := sender.ReadRTCP()
			if err != nil {
				return
			}
			ch <- pkts
		}
	}()
	return ch
}

// waitForPLI sends PLIs for ssrc until arrived reports one came. The peer's side of the
// handshake may finish after the SFU's: until then its writes fail and are tried again.
func waitForPLI(t *testing.T, peer *webrtc.PeerConnection, ssrc uint32, arrived func() bool) {
	t.Helper()
	waitFor(t, "the PLI", func() bool {
		if err := peer.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}); err != nil {
			return false
		}
		return arrived()
	})
}

// gotPLI drains ch and reports whether a PLI for ssrc was in it.
func gotPLI(ch chan []rtcp.Packet, ssrc uint32) bool {
	found := false
	for {
		select {
		case pkts := <-ch:
			for _, p := range pkts {
				if pli, ok := p.(*rtcp.PictureLossIndication); ok && pli.MediaSSRC == ssrc {
					found = true
				}
			}
		default:
			return found
		}
	}
}

// An SRTCP packet the tap has taken once is dropped when it comes again (a replay), and
// counted as dropped.
func TestSendPathDropsReplayedRTCP(t *testing.T) {
	tr := newLoopbackTransport(t)
	_, sp, _, ssrc, _, _, fromTap := connectSubscriberRTCP(t, tr, webrtc.DTLSRoleClient, nil)
	waitFor(t, "the direct path", sp.Direct)
	sp.passEvery.Store(int64(time.Hour)) // every packet below is the tap's to take
	sp.lastPass.Store(time.Now().UnixNano())
	keys := sp.keys.Load()
	// Seal a PLI as the peer would, with an SRTCP index far past what the peer has used.
	peerCtx, err := srtp.CreateContext(keys.remoteKey, keys.remoteSalt, keys.profile)
	if err != nil {
		t.Fatal(err)
	}
	peerCtx.SetIndex(4242, 1<<20)
	plain, err := rtcp.Marshal([]rtcp.Packet{&rtcp.PictureLossIndication{SenderSSRC: 4242, MediaSSRC: ssrc}})
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := peerCtx.EncryptRTCP(nil, plain, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !sp.takeRTCP(sealed) {
		t.Fatal("the tap refused a packet sealed with the peer's keys")
	}
	waitFor(t, "the PLI", func() bool { return gotPLI(fromTap, ssrc) })
	dropped := tr.SendStats().RTCPDropped.Load()
	if !sp.takeRTCP(sealed) {
		t.Fatal("the replay went on to pion")
	}
	if tr.SendStats().RTCPDropped.Load() != dropped+1 {
		t.Fatal("the replay was not counted as dropped")
	}
	// Nothing more reaches the track: a fresh packet after the replay is the next one seen.
	fresh, err := peerCtx.EncryptRTCP(nil, plain, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !sp.takeRTCP(fresh) {
		t.Fatal("the tap refused a fresh packet")
	}
	waitFor(t, "the fresh PLI", func() bool { return gotPLI(fromTap, ssrc) })
	if len(fromTap) != 0 {
		t.Fatal("more than the fresh PLI reached the track")
	}
}

// Each packet of a compound goes once to each stream it names, alone: an RR naming 16
// streams and three NACKs for a 17th give each of the 16 the RR once and the 17th each NACK.
func TestSendPathDispatchesEachPacketToItsStreams(t *testing.T) {
	s := newSendPath(nopFeedback{})
	calls := map[uint32][][]rtcp.Packet{}
	s.handlers = map[uint32]func([]rtcp.Packet){}
	for ssrc := uint32(1); ssrc <= 17; ssrc++ {
		s.handlers[ssrc] = func(p []rtcp.Packet) { calls[ssrc] = append(calls[ssrc], p) }
	}
	rr := &rtcp.ReceiverReport{SSRC: 99}
	for ssrc := uint32(1); ssrc <= 16; ssrc++ {
		rr.Reports = append(rr.Reports, rtcp.ReceptionReport{SSRC: ssrc})
	}
	pkts := []rtcp.Packet{rr}
	for i := 0; i < 3; i++ {
		pkts = append(pkts, &rtcp.TransportLayerNack{SenderSSRC: 99, MediaSSRC: 17, Nacks: []rtcp.NackPair{{PacketID: uint16(i)}}})
	}
	b, err := rtcp.Marshal(pkts)
	if err != nil {
		t.Fatal(err)
	}
	s.handleRTCP(b)
	for ssrc := uint32(1); ssrc <= 16; ssrc++ {
		if c := calls[ssrc]; len(c) != 1 || len(c[0]) != 1 {
			t.Fatalf("stream %d: %d calls, want one with the RR alone", ssrc, len(c))
		}
	}
	if c := calls[17]; len(c) != 3 || len(c[0]) != 1 || len(c[1]) != 1 || len(c[2]) != 1 {
		t.Fatalf("stream 17: %d calls, want one per NACK", len(c))
	}
}

// A route set while the connection closes never outlives the close.
func TestSendPathRouteDoesNotOutliveClose(t *testing.T) {
	sock := NewSocket(newUDP(t))
	pair := &webrtc.ICECandidatePair{
		Local:  &webrtc.ICECandidate{Address: sock.addr.Addr().String(), Port: sock.addr.Port(), Protocol: webrtc.ICEProtocolUDP},
		Remote: &webrtc.ICECandidate{Address: "127.0.0.1", Port: 9, Protocol: webrtc.ICEProtocolUDP},
	}
	for i := 0; i < 2000; i++ {
		taps := &tapTable{}
		s := newSendPath(nil)
		s.socks, s.taps = &socketSet{socks: []*Socket{sock}}, taps
		done := make(chan struct{})
		go func() {
			s.setRoute(pair)
			close(done)
		}()
		s.close()
		<-done
		if s.route.Load() != nil || len(taps.m) != 0 {
			t.Fatalf("run %d: a route outlived close", i)
		}
	}
}

func newUDP(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// The keys come out right whatever the peer's DTLS cipher suite and SRTP profile: media and
// RTCP both pass.
func TestSendPathKeysForEverySuite(t *testing.T) {
	for _, c := range []struct {
		name string
		set  func(*webrtc.SettingEngine)
	}{
		{"ecdsa-aes128-gcm", nil},
		{"ecdsa-aes256-gcm-sha384", func(se *webrtc.SettingEngine) {
			se.SetDTLSCipherSuites(dtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384)
		}},
		{"ecdsa-chacha20", func(se *webrtc.SettingEngine) {
			se.SetDTLSCipherSuites(dtls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256)
		}},
		{"ecdsa-aes256-cbc", func(se *webrtc.SettingEngine) { se.SetDTLSCipherSuites(dtls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA) }},
		{"srtp-aes128-cm-hmac-sha1-80", func(se *webrtc.SettingEngine) {
			se.SetSRTPProtectionProfiles(dtls.SRTP_AES128_CM_HMAC_SHA1_80)
		}},
		{"no-extended-master-secret", func(se *webrtc.SettingEngine) {
			se.SetDTLSExtendedMasterSecret(dtls.DisableExtendedMasterSecret)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := newLoopbackTransport(t)
			_, sp, w, ssrc, got, peer, fromTap := connectSubscriberRTCP(t, tr, webrtc.DTLSRoleClient, c.set)
			waitFor(t, "the direct path", sp.Direct)
			if n := writeAndReceive(t, sp, w, ssrc, got, 20); n != 20 {
				t.Fatalf("%d of 20 packets went the direct path", n)
			}
			waitForPLI(t, peer, ssrc, func() bool { return gotPLI(fromTap, ssrc) })
		})
	}
}

// With no bind address the node listens on every interface address, on sockets of its own,
// and the direct path finds the one the selected pair uses.
func TestSendPathOnEveryInterface(t *testing.T) {
	tr, err := New(Config{IncludeLoopback: true}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	if len(tr.socks.socks) == 0 {
		t.Fatal("no sockets opened")
	}
	port := tr.socks.socks[0].addr.Port()
	for _, s := range tr.socks.socks {
		if s.addr.Port() != port {
			t.Fatalf("sockets on ports %d and %d", port, s.addr.Port())
		}
	}
	_, sp, w, ssrc, got := connectSubscriber(t, tr, webrtc.DTLSRoleClient)
	waitFor(t, "the direct path", sp.Direct)
	if n := writeAndReceive(t, sp, w, ssrc, got, 20); n != 20 {
		t.Fatalf("%d of 20 packets went the direct path", n)
	}
}
