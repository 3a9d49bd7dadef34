package router

import (
	"bytes"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/cascade-sfu/cascade/simulcast"
)

type pliCounter struct{ ssrcs chan uint32 }

func (p *pliCounter) RequestKeyframe(ssrc uint32) {
	select {
	case p.ssrcs <- ssrc:
	default:
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// vp8Payload builds a VP8 payload: descriptor with a 15-bit picture id, then a frame
// header byte whose low bit is the inverse keyframe flag.
func vp8Payload(key bool, start bool, pic uint16, fill byte) []byte {
	b0 := byte(0x80) // X
	if start {
		b0 |= 0x10 // S
	}
	frame := byte(0x01)
	if key {
		frame = 0x00
	}
	p := []byte{b0, 0x80, 0x80 | byte(pic>>8), byte(pic), frame}
	return append(p, bytes.Repeat([]byte{fill}, 100)...)
}

func TestDownTrackRewritesAndRepairsLoss(t *testing.T) {
	src := newChanSource()
	plis := &pliCounter{ssrcs: make(chan uint32, 16)}
	r := NewReceiver(ReceiverConfig{TrackID: "a", Codec: opusCodec, Keyframes: plis})
	w := &captureWriter{keep: true}
	dt := bindDownTrack(t, r, 5555, w)
	if err := r.AddLayer(0, 1, src); err != nil {
		t.Fatal(err)
	}
	// Packets 100..119 with 105 and 110 lost on the way to the SFU.
	sent := 0
	for s := 100; s < 120; s++ {
		if s == 105 || s == 110 {
			continue
		}
		src.ch <- makePacket(111, uint16(s), uint32(s*960), 1, []byte{byte(s), 1, 2, 3})
		sent++
	}
	waitFor(t, "forwarding", func() bool { return w.count.Load() == int64(sent) })
	pkts := w.snapshot()
	first := pkts[0].SequenceNumber
	for _, p := range pkts {
		src := int(p.Payload[0])
		if p.SSRC != 5555 || p.PayloadType != 109 {
			t.Fatalf("header not rewritten: ssrc=%d pt=%d", p.SSRC, p.PayloadType)
		}
		// Upstream loss stays a gap (so the subscriber can NACK it), nothing else moves.
		if want := first + uint16(src-100); p.SequenceNumber != want {
			t.Fatalf("packet from %d has seq %d, want %d", src, p.SequenceNumber, want)
		}
		if want := pkts[0].Timestamp + uint32((src-100)*960); p.Timestamp != want {
			t.Fatalf("packet from %d has ts %d, want %d", src, p.Timestamp, want)
		}
	}
	// The subscriber lost out seqs for 103 and 104: they are resent from the ring, once
	// each however often asked within the resend gap; 105 never arrived and cannot be.
	lost := []uint16{first + 3, first + 4, first + 5}
	nack := &rtcp.TransportLayerNack{MediaSSRC: 5555, Nacks: rtcp.NackPairsFromSequenceNumbers(lost)}
	dt.HandleRTCP([]rtcp.Packet{nack, nack})
	pkts = w.snapshot()
	if len(pkts) != sent+2 {
		t.Fatalf("got %d packets after NACK, want %d", len(pkts), sent+2)
	}
	for i, p := range pkts[sent:] {
		if p.SequenceNumber != lost[i] || int(p.Payload[0]) != 103+i || !bytes.Equal(p.Payload[1:], []byte{1, 2, 3}) {
			t.Fatalf("retransmission %d: seq=%d payload=%v", i, p.SequenceNumber, p.Payload)
		}
	}
	if st := dt.Stats(); st.Retransmits != 2 || st.NACKs != 2 {
		t.Fatalf("stats %+v", st)
	}
	// Audio has no keyframes: a PLI from the subscriber is not passed on.
	for len(plis.ssrcs) > 0 {
		<-plis.ssrcs
	}
	dt.HandleRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: 5555}})
	if len(plis.ssrcs) != 0 {
		t.Fatal("an audio PLI reached the publisher")
	}
	close(src.ch)
	r.Close()
	r.Wait()
	if !dt.Closed() {
		t.Fatal("down track not closed with its receiver")
	}
}

func TestDownTrackSimulcastSwitchKeepsNumbersContinuous(t *testing.T) {
	vp8 := Codec{Kind: KindVideo, MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	plis := &pliCounter{ssrcs: make(chan uint32, 64)}
	r := NewReceiver(ReceiverConfig{TrackID: "v", Codec: vp8, Simulcast: true, Keyframes: plis})
	w := &captureWriter{keep: true}
	dt := bindDownTrack(t, r, 77, w)
	l := [3]*layer{}
	for i := range l {
		l[i] = &layer{index: int8(i), ssrc: uint32(10 + i), ring: newRing(64)}
		r.layers[i].Store(l[i])
	}
	var unwraps [3]seqUnwrapper
	var p extPacket
	seqs := [3]uint16{1000, 30000, 65530}
	tss := [3]uint32{5, 1 << 31, 4000000000}
	feed := func(layer int, key bool, tag byte) {
		pl := vp8Payload(key, true, uint16(seqs[layer]), tag)
		pl[len(pl)-2] = byte(layer)
		raw := makePacket(96, seqs[layer], tss[layer], uint32(10+layer), pl)
		seqs[layer]++
		tss[layer] += 3000
		idx, buf := l[layer].ring.begin()
		n := copy(buf, raw)
		r.handlePacket(l[layer], &unwraps[layer], &p, idx, buf[:n])
	}
	round := func(keyLayer int, tag byte) {
		for i := 0; i < 3; i++ {
			feed(i, i == keyLayer, tag)
		}
	}
	round(-1, 1) // no keyframe yet: nothing forwarded
	if w.count.Load() != 0 {
		t.Fatal("forwarded before a keyframe")
	}
	round(0, 2) // keyframe on q: start on q
	round(-1, 3)
	dt.SetTargetLayer(simulcast.LayerF)
	round(-1, 4) // still q until f has a keyframe
	round(2, 5)  // switch to f
	round(-1, 6)
	dt.SetTargetLayer(simulcast.LayerH)
	round(1, 7) // switch down to h
	round(-1, 8)
	pkts := w.snapshot()
	// Within a round layers are fed q, h, f: the switch to f happens after q's packet of
	// that round went out.
	wantRounds := []byte{2, 3, 4, 5, 5, 6, 7, 8}
	wantSrcSSRC := []int{0, 0, 0, 0, 2, 2, 1, 1}
	if len(pkts) != len(wantRounds) {
		t.Fatalf("forwarded %d packets, want %d", len(pkts), len(wantRounds))
	}
	for i, pk := range pkts {
		if pk.Payload[len(pk.Payload)-1] != wantRounds[i] {
			t.Fatalf("packet %d carries round %d", i, pk.Payload[len(pk.Payload)-1])
		}
		if int(pk.Payload[len(pk.Payload)-2]) != wantSrcSSRC[i] {
			t.Fatalf("packet %d came from layer %d", i, pk.Payload[len(pk.Payload)-2])
		}
		if i == 0 {
			continue
		}
		prev := pkts[i-1]
		if pk.SequenceNumber != prev.SequenceNumber+1 {
			t.Fatalf("seq jumps %d -> %d at packet %d", prev.SequenceNumber, pk.SequenceNumber, i)
		}
		if d := pk.Timestamp - prev.Timestamp; d == 0 || d > 1<<31 {
			t.Fatalf("timestamp not monotonic %d -> %d at packet %d", prev.Timestamp, pk.Timestamp, i)
		}
		// Every packet is a frame: the rewritten picture id goes up by one each time,
		// whichever layer it came from.
		pic := func(b []byte) uint16 { return uint16(b[2]&0x7f)<<8 | uint16(b[3]) }
		if (pic(prev.Payload)+1)&0x7fff != pic(pk.Payload) {
			t.Fatalf("picture id %d -> %d at packet %d", pic(prev.Payload), pic(pk.Payload), i)
		}
	}
	if dt.CurrentLayer() != simulcast.LayerH {
		t.Fatalf("current layer %d", dt.CurrentLayer())
	}
	if len(plis.ssrcs) == 0 {
		t.Fatal("no keyframe requested while waiting to switch")
	}
}
