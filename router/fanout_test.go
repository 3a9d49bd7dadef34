package router

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// chanSource feeds prepared packets to a receiver layer, one per ReadPacket.
type chanSource struct {
	ch chan []byte
}

func newChanSource() *chanSource { return &chanSource{ch: make(chan []byte, 64)} }

func (s *chanSource) ReadPacket(b []byte) (int, error) {
	p, ok := <-s.ch
	if !ok {
		return 0, io.EOF
	}
	return copy(b, p), nil
}

// captureWriter records what a down track writes, as a subscriber's PeerConnection would
// receive it after marshalling.
type captureWriter struct {
	mu      sync.Mutex
	packets []rtp.Packet
	count   atomic.Int64
	keep    bool
}

func (w *captureWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	w.count.Add(1)
	if w.keep {
		w.mu.Lock()
		w.packets = append(w.packets, rtp.Packet{Header: h.Clone(), Payload: append([]byte(nil), payload...)})
		w.mu.Unlock()
	}
	return h.MarshalSize() + len(payload), nil
}

func (w *captureWriter) Write(b []byte) (int, error) { return len(b), nil }

func (w *captureWriter) snapshot() []rtp.Packet {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]rtp.Packet(nil), w.packets...)
}

// bindCtx is a minimal webrtc.TrackLocalContext for binding a down track outside a
// PeerConnection.
type bindCtx struct {
	ssrc   webrtc.SSRC
	codecs []webrtc.RTPCodecParameters
	w      webrtc.TrackLocalWriter
}

func (c *bindCtx) CodecParameters() []webrtc.RTPCodecParameters           { return c.codecs }
func (c *bindCtx) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter { return nil }
func (c *bindCtx) SSRC() webrtc.SSRC                                      { return c.ssrc }
func (c *bindCtx) SSRCRetransmission() webrtc.SSRC                        { return 0 }
func (c *bindCtx) SSRCForwardErrorCorrection() webrtc.SSRC                { return 0 }
func (c *bindCtx) WriteStream() webrtc.TrackLocalWriter                   { return c.w }
func (c *bindCtx) ID() string                                             { return "ctx" }
func (c *bindCtx) RTCPReader() interceptor.RTCPReader                     { return nil }

var opusCodec = Codec{Kind: KindAudio, MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}

func subscriberCodecs() []webrtc.RTPCodecParameters {
	return []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 109},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 120},
	}
}

func bindDownTrack(t testing.TB, r *Receiver, ssrc uint32, w webrtc.TrackLocalWriter) *DownTrack {
	t.Helper()
	dt := NewDownTrack(DownTrackConfig{ID: fmt.Sprintf("dt%d", ssrc), StreamID: "s", Receiver: r})
	if _, err := dt.Bind(&bindCtx{ssrc: webrtc.SSRC(ssrc), codecs: subscriberCodecs(), w: w}); err != nil {
		t.Fatal(err)
	}
	if err := r.AddDownTrack(dt); err != nil {
		t.Fatal(err)
	}
	return dt
}

func makePacket(pt uint8, seq uint16, ts, ssrc uint32, payload []byte) []byte {
	h := rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: ssrc}
	b, _ := (&rtp.Packet{Header: h, Payload: payload}).Marshal()
	return b
}

// BenchmarkFanout measures the router's cost of one received packet fanned out to N down
// tracks: parse once, select, rewrite the header, hand to each subscriber's writer. The
// writer here only counts; SRTP and the socket are measured by BenchmarkForward. The
// packets are Opus; BenchmarkFanoutVP8 adds the VP8 descriptor rewrite (one payload copy
// per subscriber).
func BenchmarkFanout(b *testing.B) {
	benchFanout(b, opusCodec, 111, func(i int) []byte { return make([]byte, 160) })
}

// BenchmarkFanoutVP8 is BenchmarkFanout with 1100-byte VP8 packets, three temporal layers
// and a keyframe every 256 packets.
func BenchmarkFanoutVP8(b *testing.B) {
	vp8 := Codec{Kind: KindVideo, MimeType: "video/VP8", ClockRate: 90000}
	benchFanout(b, vp8, 96, func(i int) []byte {
		p := make([]byte, 1100)
		// X=1 S=1 PID=0; I, L, T; 15-bit picture id; TL0PICIDX; TID.
		p[0], p[1] = 0x90, 0xe0
		p[2], p[3] = 0x80|byte(i>>8), byte(i)
		p[4] = byte(i / 4)
		p[5] = byte([]int{0, 2, 1, 2}[i%4]) << 6
		if i%256 == 0 {
			p[6] = 0x00 // keyframe
		} else {
			p[6] = 0x01
		}
		return p
	})
}

func benchFanout(b *testing.B, codec Codec, pt uint8, payload func(i int) []byte) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			r := NewReceiver(ReceiverConfig{TrackID: "bench", Codec: codec})
			w := &captureWriter{}
			for i := 0; i < n; i++ {
				bindDownTrack(b, r, uint32(1000+i), w)
			}
			l := &layer{index: 0, ssrc: 1, ring: newRing(r.cfg.RingSize)}
			r.layers[0].Store(l)
			var unwrap seqUnwrapper
			var p extPacket
			pkts := make([][]byte, 256)
			for i := range pkts {
				pkts[i] = makePacket(pt, uint16(i), uint32(i/2*3000), 1, payload(i))
			}
			// Warm up: every down track starts at the first keyframe.
			for i := 0; i < 256; i++ {
				idx, buf := l.ring.begin()
				r.handlePacket(l, &unwrap, &p, idx, buf[:copy(buf, pkts[i])])
			}
			start := w.count.Load()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// One iteration is the read loop's body for one packet.
				seq := uint16(256 + i)
				raw := pkts[i&255]
				binary.BigEndian.PutUint16(raw[2:], seq)
				idx, buf := l.ring.begin()
				nb := copy(buf, raw)
				r.handlePacket(l, &unwrap, &p, idx, buf[:nb])
			}
			b.StopTimer()
			if got := w.count.Load() - start; got < int64(b.N*n)*9/10 {
				b.Fatalf("forwarded %d packets, want about %d", got, b.N*n)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/fwd")
		})
	}
}
