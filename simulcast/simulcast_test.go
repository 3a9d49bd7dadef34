package simulcast

import "testing"

func TestIsKeyframe(t *testing.T) {
	tests := []struct {
		name    string
		codec   Codec
		payload []byte
		want    bool
	}{
		{"vp8 key, 15-bit picture id", CodecVP8, []byte{0x90, 0x80, 0x81, 0x23, 0x00}, true},
		{"vp8 delta", CodecVP8, []byte{0x90, 0x80, 0x81, 0x23, 0x01}, false},
		{"vp8 key, 7-bit picture id, tl0picidx, tid", CodecVP8, []byte{0x90, 0xe0, 0x12, 0x05, 0x40, 0x00}, true},
		{"vp8 key, no extension", CodecVP8, []byte{0x10, 0x00}, true},
		{"vp8 not start of partition", CodecVP8, []byte{0x80, 0x80, 0x81, 0x23, 0x00}, false},
		{"vp8 partition 1", CodecVP8, []byte{0x11, 0x00}, false},
		{"vp8 truncated", CodecVP8, []byte{0x90, 0x80, 0x81}, false},
		{"vp8 empty", CodecVP8, nil, false},
		{"h264 IDR single NAL", CodecH264, []byte{0x65, 0x88}, true},
		{"h264 SPS single NAL", CodecH264, []byte{0x67, 0x42}, true},
		{"h264 non-IDR slice", CodecH264, []byte{0x41, 0x9a}, false},
		{"h264 STAP-A with SPS", CodecH264, []byte{0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce}, true},
		{"h264 STAP-A without IDR", CodecH264, []byte{0x78, 0x00, 0x02, 0x41, 0x42}, false},
		{"h264 STAP-A bad length", CodecH264, []byte{0x78, 0x00, 0x09, 0x67}, false},
		{"h264 FU-A IDR start", CodecH264, []byte{0x7c, 0x85, 0x00}, true},
		{"h264 FU-A IDR middle", CodecH264, []byte{0x7c, 0x05, 0x00}, false},
		{"h264 FU-A non-IDR start", CodecH264, []byte{0x7c, 0x81, 0x00}, false},
		{"opus never", CodecOpus, []byte{0x00}, false},
		// VP9 (RFC 9628 section 4.2): |I|P|L|F|B|E|V|Z|.
		{"vp9 key, no layers, 7-bit pid", CodecVP9, []byte{0x8c, 0x12, 0x00}, true},
		{"vp9 key, 15-bit pid, non-flexible, SID 0", CodecVP9, []byte{0xa8, 0x81, 0x02, 0x00, 0x07, 0x00}, true},
		{"vp9 key, flexible, SID 0", CodecVP9, []byte{0xb8, 0x81, 0x02, 0x00, 0x00}, true},
		{"vp9 key picture, spatial layer 1", CodecVP9, []byte{0xa8, 0x81, 0x02, 0x03, 0x07, 0x00}, false},
		{"vp9 inter predicted", CodecVP9, []byte{0xc8, 0x12, 0x00}, false},
		{"vp9 not start of frame", CodecVP9, []byte{0x84, 0x12, 0x00}, false},
		{"vp9 with scalability structure", CodecVP9, []byte{0x8a, 0x12, 0x18, 0x01}, true},
		{"vp9 truncated picture id", CodecVP9, []byte{0xa8, 0x81}, false},
		{"vp9 truncated layer byte", CodecVP9, []byte{0xa8, 0x81, 0x02}, false},
		{"vp9 descriptor only", CodecVP9, []byte{0xa8, 0x01, 0x00, 0x07}, false},
		{"vp9 empty", CodecVP9, nil, false},
		// AV1 aggregation header: |Z|Y| W |N|-|-|-|.
		{"av1 new coded video sequence", CodecAV1, []byte{0x18, 0x0a, 0x0b}, true},
		{"av1 delta", CodecAV1, []byte{0x10, 0x32, 0x00}, false},
		{"av1 N with Z (continuation) is not a start", CodecAV1, []byte{0x88, 0x32}, false},
		{"av1 header only", CodecAV1, []byte{0x08}, false},
		{"av1 empty", CodecAV1, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsKeyframe(tc.codec, tc.payload); got != tc.want {
				t.Fatalf("IsKeyframe = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCanDetectKeyframes(t *testing.T) {
	for c, want := range map[Codec]bool{CodecVP8: true, CodecH264: true, CodecVP9: true, CodecAV1: true,
		CodecOpus: false, CodecUnknown: false} {
		if c.CanDetectKeyframes() != want {
			t.Fatalf("codec %d: CanDetectKeyframes = %v", c, !want)
		}
	}
}

func TestLayerForRID(t *testing.T) {
	for rid, want := range map[string]int8{"": LayerQ, "q": LayerQ, "h": LayerH, "f": LayerF} {
		if got, ok := LayerForRID(rid); !ok || got != want {
			t.Fatalf("LayerForRID(%q) = %d, %v", rid, got, ok)
		}
		if rid != "" && RID(want) != rid {
			t.Fatalf("RID(%d) = %q", want, RID(want))
		}
	}
	if _, ok := LayerForRID("x"); ok {
		t.Fatal("unknown rid accepted")
	}
}

// TestSelectorContinuity drives a selector through starts, switches up and down, reordered
// and lost packets, and checks what a decoder would see.
func TestSelectorContinuity(t *testing.T) {
	s := NewSelector(90000, true, 65534, 4294967000)
	var d Decision
	type step struct {
		layer  int8
		ext    uint64
		ts     uint32
		key    bool
		target int8 // set before the packet, NoLayer to leave
		fwd    bool
		seq    uint16
	}
	ns := int64(0)
	steps := []step{
		{layer: 0, ext: 100, ts: 1000, target: NoLayer}, // no keyframe yet
		{layer: 0, ext: 101, ts: 4000, key: true, fwd: true, seq: 65534, target: NoLayer},
		{layer: 0, ext: 102, ts: 7000, fwd: true, seq: 65535, target: NoLayer},
		{layer: 0, ext: 104, ts: 13000, fwd: true, seq: 1, target: NoLayer}, // 103 lost: gap kept
		{layer: 0, ext: 103, ts: 10000, fwd: true, seq: 0, target: NoLayer}, // late 103 fills it
		{layer: 2, ext: 900, ts: 55, target: LayerF},                        // f delta: wait
		{layer: 0, ext: 105, ts: 16000, fwd: true, seq: 2, target: NoLayer}, // q continues meanwhile
		{layer: 2, ext: 901, ts: 3055, key: true, fwd: true, seq: 3, target: NoLayer},
		{layer: 0, ext: 106, ts: 19000, target: NoLayer}, // q no longer forwarded
		{layer: 2, ext: 899, ts: 1, target: NoLayer},     // f from before the switch
		{layer: 2, ext: 902, ts: 6055, fwd: true, seq: 4, target: NoLayer},
		{layer: 1, ext: 50, ts: 77, key: true, fwd: true, seq: 5, target: LayerH}, // down at once on a keyframe
		{layer: 1, ext: 51, ts: 3077, fwd: true, seq: 6, target: NoLayer},
	}
	var lastTS uint32
	started := false
	for i, st := range steps {
		ns += 33_000_000
		if st.target != NoLayer {
			s.SetTarget(st.target)
		}
		s.Select(&Packet{Layer: st.layer, ExtSeq: st.ext, TS: st.ts, Keyframe: st.key, ArrivalNs: ns}, &d)
		if d.Forward != st.fwd {
			t.Fatalf("step %d: forward=%v want %v", i, d.Forward, st.fwd)
		}
		if !d.Forward {
			continue
		}
		if d.Seq != st.seq {
			t.Fatalf("step %d: seq %d, want %d", i, d.Seq, st.seq)
		}
		if started && st.ext != 103 && int32(d.TS-lastTS) <= 0 {
			t.Fatalf("step %d: timestamp went from %d to %d", i, lastTS, d.TS)
		}
		if st.ext != 103 {
			lastTS = d.TS
		}
		started = true
	}
	if s.Current() != LayerH || s.Target() != LayerH {
		t.Fatalf("current %d target %d", s.Current(), s.Target())
	}
}

func TestSelectorAudioStartsAtOnce(t *testing.T) {
	s := NewSelector(48000, false, 10, 20)
	var d Decision
	s.Select(&Packet{Layer: 0, ExtSeq: 5000, TS: 123}, &d)
	if !d.Forward || d.Seq != 10 || d.TS != 20 {
		t.Fatalf("first audio packet: %+v", d)
	}
	s.Select(&Packet{Layer: 0, ExtSeq: 5001, TS: 123 + 960}, &d)
	if !d.Forward || d.Seq != 11 || d.TS != 20+960 {
		t.Fatalf("second audio packet: %+v", d)
	}
}

func BenchmarkSelect(b *testing.B) {
	s := NewSelector(90000, true, 0, 0)
	var d Decision
	p := Packet{Layer: 0, Keyframe: true}
	s.Select(&p, &d)
	p.Keyframe = false
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p.ExtSeq++
		p.TS += 3000
		s.Select(&p, &d)
	}
}

// TestSelectorResync pauses and resumes on the same layer: nothing goes out until its next
// keyframe, then numbering continues, timestamps advanced by the time paused.
func TestSelectorResync(t *testing.T) {
	s := NewSelector(90000, true, 100, 5000)
	var d Decision
	feed := func(ext uint64, ts uint32, key bool, ns int64) Decision {
		s.Select(&Packet{Layer: LayerQ, ExtSeq: ext, TS: ts, Keyframe: key, ArrivalNs: ns}, &d)
		return d
	}
	feed(1, 0, true, 0)
	feed(2, 3000, false, 33e6)
	s.Resync()
	if s.Current() != NoLayer {
		t.Fatalf("current %d after Resync", s.Current())
	}
	if d := feed(3, 6000, false, 66e6); d.Forward || d.WantKeyframe != LayerQ {
		t.Fatalf("delta after Resync: %+v", d)
	}
	d = feed(40, 120000, true, 1_033_000_000)
	if !d.Forward || !d.Switched || d.Seq != 102 || d.TS != 5000+3000+90000 {
		t.Fatalf("keyframe after Resync: %+v", d)
	}
	if s.Current() != LayerQ {
		t.Fatalf("current %d after resuming", s.Current())
	}
	// Before anything was sent, Resync changes nothing.
	s = NewSelector(90000, true, 0, 0)
	s.Resync()
	if d = feed(1, 0, true, 0); !d.Forward || d.Seq != 0 {
		t.Fatalf("first packet after an early Resync: %+v", d)
	}
}

// TestSelectorReservePadding: probe padding takes numbers of its own only between frames,
// after every number sent or held for a packet still expected, and media continues after
// it, before the first packet, in a run, and while paused.
func TestSelectorReservePadding(t *testing.T) {
	s := NewSelector(90000, true, 1000, 7000)
	var d Decision
	feed := func(ext uint64, ts uint32, key, marker bool, ns int64) Decision {
		s.Select(&Packet{Layer: LayerQ, ExtSeq: ext, TS: ts, Keyframe: key, Marker: marker, ArrivalNs: ns}, &d)
		return d
	}
	want := func(what string, first uint16, ts uint32, ok bool, wantFirst uint16, wantTS uint32) {
		t.Helper()
		if !ok || first != wantFirst || ts != wantTS {
			t.Fatalf("%s: ReservePadding = %d, %d, %v; want %d, %d, true", what, first, ts, ok, wantFirst, wantTS)
		}
	}
	if _, _, ok := s.ReservePadding(0); ok {
		t.Fatal("ReservePadding(0) reserved something")
	}
	// Before any media: the first numbers; media then follows them with the same timestamp.
	f, ts, ok := s.ReservePadding(2)
	want("before media", f, ts, ok, 1000, 7000)
	if d := feed(50, 90, true, false, 0); !d.Forward || d.Seq != 1002 || d.TS != 7000 {
		t.Fatalf("first media after padding: %+v", d)
	}
	// Inside a frame (no marker yet): refused.
	if _, _, ok := s.ReservePadding(1); ok {
		t.Fatal("padding reserved inside a frame")
	}
	feed(51, 90, false, true, 1e6) // the frame ends: 1003
	f, ts, ok = s.ReservePadding(3)
	want("between frames", f, ts, ok, 1004, 7000)
	if d := feed(52, 3090, false, true, 33e6); !d.Forward || d.Seq != 1007 || d.TS != 10000 {
		t.Fatalf("media after padding: %+v", d)
	}
	// 53 and 54 lost on the way to the SFU: 55 takes 1010, 1008-1009 are held for them.
	feed(55, 9090, false, true, 99e6)
	f, ts, ok = s.ReservePadding(2)
	want("with packets held", f, ts, ok, 1011, 16000)
	if d := feed(54, 6090, false, true, 100e6); !d.Forward || d.Seq != 1009 {
		t.Fatalf("late packet after padding: %+v", d)
	}
	if d := feed(56, 12090, false, true, 132e6); !d.Forward || d.Seq != 1013 {
		t.Fatalf("media after padding with packets held: %+v", d)
	}
	// Paused: padding continues the numbering and resuming continues after it.
	s.Resync()
	feed(57, 15090, false, false, 165e6) // not forwarded, mid-frame: padding is still fine
	f, ts, ok = s.ReservePadding(4)
	want("paused", f, ts, ok, 1014, 19000)
	if d := feed(58, 18090, true, true, 198e6); !d.Forward || d.Seq != 1018 || int32(d.TS-19000) <= 0 {
		t.Fatalf("resumed after padding: %+v", d)
	}
}
