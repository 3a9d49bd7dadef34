package transport

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
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
	pc, sp, w, ssrc, got, _, _ := connectSubscriberRTCP(t, tr, peerRole)
	return pc, sp, w, ssrc, got
}

// connectSubscriberRTCP is connectSubscriber that also returns the peer and the RTCP the
// track's handler gets.
func connectSubscriberRTCP(t *testing.T, tr *Transport, peerRole webrtc.DTLSRole) (*webrtc.PeerConnection, *SendPath,
	webrtc.TrackLocalWriter, uint32, chan []byte, *webrtc.PeerConnection, chan []rtcp.Packet,
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
// PLI the peer sends reaches the track it names, and pion's path does not see it.
func TestSendPathTakesSubscriberRTCP(t *testing.T) {
	tr := newLoopbackTransport(t)
	_, sp, _, ssrc, _, peer, fromTap := connectSubscriberRTCP(t, tr, webrtc.DTLSRoleClient)
	waitFor(t, "the direct path", sp.Direct)
	before := sp.RTCPPackets()
	waitFor(t, "the PLI through the tap", func() bool {
		if err := peer.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}); err != nil {
			t.Fatal(err)
		}
		for {
			select {
			case pkts := <-fromTap:
				for _, p := range pkts {
					if pli, ok := p.(*rtcp.PictureLossIndication); ok && pli.MediaSSRC == ssrc {
						return true
					}
				}
			default:
				return false
			}
		}
	})
	if sp.RTCPPackets() == before {
		t.Fatal("the tap handed RTCP to the track without counting it")
	}
}

// Without the keys (the SFU is the DTLS client) the subscriber's RTCP stays on pion's path.
func TestSendPathLeavesRTCPWithoutKeys(t *testing.T) {
	tr := newLoopbackTransport(t)
	_, sp, _, ssrc, _, peer, fromTap := connectSubscriberRTCP(t, tr, webrtc.DTLSRoleServer)
	for i := 0; i < 20; i++ {
		if err := peer.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if n := sp.RTCPPackets(); n != 0 || len(fromTap) != 0 {
		t.Fatalf("the tap took %d RTCP packets without the keys", n)
	}
}
