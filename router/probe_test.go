package router

import (
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/cascade-sfu/cascade/simulcast"
)

// TestWriteProbeTakesFreshNumbers: probe padding goes out between frames with sequence
// numbers of its own (a receiver's SRTP replay protection would drop a repeated one), media
// continues after it without a gap, and no probe lands inside a frame.
func TestWriteProbeTakesFreshNumbers(t *testing.T) {
	vp8 := Codec{Kind: KindVideo, MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	r := NewReceiver(ReceiverConfig{TrackID: "v", Codec: vp8, Keyframes: &pliCounter{ssrcs: make(chan uint32, 64)}})
	w := &captureWriter{keep: true}
	dt := bindDownTrack(t, r, 99, w)
	l := &layer{index: 0, ssrc: 10, ring: newRing(64)}
	r.layers[0].Store(l)
	var unwrap seqUnwrapper
	var p extPacket
	seq, ts := uint16(65533), uint32(1000)
	feed := func(key, start, marker bool) {
		pl := vp8Payload(key, start, seq, byte(seq))
		raw, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts,
			SSRC: 10, Marker: marker}, Payload: pl}).Marshal()
		seq++
		if marker {
			ts += 3000
		}
		idx, buf := l.ring.begin()
		r.handlePacket(l, &unwrap, &p, idx, buf[:copy(buf, raw)])
	}
	if dt.WriteProbe(2) == 0 {
		t.Fatal("no probe before the first frame")
	}
	feed(true, true, false)
	if dt.WriteProbe(2) != 0 {
		t.Fatal("probe sent inside a frame")
	}
	feed(false, false, true)
	if dt.WriteProbe(3) == 0 {
		t.Fatal("no probe between frames")
	}
	feed(false, true, true)
	dt.Pause()
	if dt.WriteProbe(1) == 0 {
		t.Fatal("no probe while paused")
	}
	dt.SetTargetLayer(simulcast.LayerQ)
	feed(true, true, true)

	pkts := w.snapshot()
	kinds := ""
	for i, pk := range pkts {
		if len(pk.Payload) == 0 {
			kinds += "p"
			if !pk.Header.Padding || pk.Header.PaddingSize == 0 {
				t.Fatalf("packet %d: empty payload without padding: %+v", i, pk.Header)
			}
		} else {
			kinds += "m"
		}
		if i > 0 {
			prev := pkts[i-1]
			if pk.SequenceNumber != prev.SequenceNumber+1 {
				t.Fatalf("packet %d (%s): seq %d after %d", i, kinds, pk.SequenceNumber, prev.SequenceNumber)
			}
			if int32(pk.Timestamp-prev.Timestamp) < 0 {
				t.Fatalf("packet %d (%s): timestamp %d after %d", i, kinds, pk.Timestamp, prev.Timestamp)
			}
		}
	}
	if kinds != "ppmmpppmpm" {
		t.Fatalf("sent %q, want padding only between frames", kinds)
	}
	if got := dt.probes.Load(); got != 6 {
		t.Fatalf("probe counter %d, want 6", got)
	}
}
