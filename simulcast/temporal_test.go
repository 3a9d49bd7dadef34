package simulcast

import "testing"

// vp8Pkt makes one VP8 packet of a single-layer stream with a 15-bit picture id.
func vp8Pkt(ext uint64, ts uint32, pic uint16, tl0, tid uint8, sync, start, key bool) *testPkt {
	b0 := byte(0x80)
	if start {
		b0 |= 0x10
	}
	tk := tid << 6
	if sync {
		tk |= 0x20
	}
	tag := byte(0xaa)
	if start {
		tag = 0x11
		if key {
			tag = 0x10
		}
	}
	b := []byte{b0, 0xe0, 0x80 | byte(pic>>8), byte(pic), tl0, tk, tag, byte(ext), 0xee}
	p := &testPkt{payload: b, frame: &testFrame{}}
	p.p = Packet{ExtSeq: ext, TS: ts}
	p.p.ParsePayload(CodecVP8, b)
	return p
}

// TestSelectorTemporalSwitchPoints checks where the forwarded temporal layer may move: up
// only at layer sync frames, one layer at a time, or at a key frame; down at the next frame
// boundary, never inside a frame.
func TestSelectorTemporalSwitchPoints(t *testing.T) {
	type fr struct {
		tid  uint8
		sync bool
		key  bool
	}
	// 0,2,1,2 with Y on the first upper frames after a base frame, unless noSync.
	stream := func(n int, noSync bool, keyAt int) []fr {
		var out []fr
		for i := 0; i < n; i++ {
			pos := i % 4
			if keyAt > 0 && i >= keyAt {
				pos = (i - keyAt) % 4
			}
			tid := testPattern[pos]
			out = append(out, fr{tid: tid, sync: !noSync && tid > 0 && pos <= 2, key: i == 0 || i == keyAt})
		}
		return out
	}
	tests := []struct {
		name   string
		frames []fr
		caps   map[int]uint8 // frame index → cap set before it
		// want[i]: whether frame i is forwarded
		want string
	}{
		{"all layers by default", stream(8, false, 0), nil, "11111111"},
		{"cap 0 from the start", stream(8, false, 0), map[int]uint8{0: 0}, "10001000"},
		{"cap 1 from the start", stream(8, false, 0), map[int]uint8{0: 1}, "10101010"},
		{"down at the next frame", stream(8, false, 0), map[int]uint8{3: 0}, "11101000"},
		// Up from 0 to 2 at frame 4: frame 5 (tl2, sync) is not the next layer up; frame 6
		// (tl1, sync) is; frame 7 (tl2, no sync) must wait; frame 9 (tl2, sync) brings tl2.
		{"up one layer at a time at sync frames", stream(12, false, 0), map[int]uint8{0: 0, 4: 2}, "100010101111"},
		{"up to 1 only", stream(12, false, 0), map[int]uint8{0: 0, 4: 1}, "100010101010"},
		{"no sync frames: up at the next key frame", stream(12, true, 9), map[int]uint8{0: 0, 4: 2}, "100010001111"},
		{"base layer frames are no switch point", stream(12, true, 0), map[int]uint8{0: 0, 2: 3}, "100010001000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSelector(90000, true, 1000, 0)
			var got []byte
			lastSeq := uint16(999)
			for i, f := range tc.frames {
				if c, ok := tc.caps[i]; ok {
					s.SetMaxTemporal(c)
				}
				fwd := byte('0')
				for k := 0; k < 3; k++ {
					p := vp8Pkt(uint64(100+3*i+k), uint32(3000*i), uint16(i), 0, f.tid, f.sync, k == 0, f.key && k == 0)
					var d Decision
					s.Select(&p.p, &d)
					if d.Forward {
						if d.Seq != lastSeq+1 || d.TS != uint32(3000*i) {
							t.Fatalf("frame %d packet %d: seq %d ts %d after seq %d", i, k, d.Seq, d.TS, lastSeq)
						}
						lastSeq = d.Seq
						fwd = '1'
					} else if fwd == '1' || !d.Dropped {
						t.Fatalf("frame %d split, or not marked dropped: %+v", i, d)
					}
				}
				got = append(got, fwd)
			}
			if string(got) != tc.want {
				t.Fatalf("forwarded %s, want %s", got, tc.want)
			}
		})
	}
}

// TestSelectorTemporalCapInsideFrame lowers the cap while a frame is half sent, and after a
// frame's first arriving packet: the frame is finished either way, the next one follows
// the cap.
// Streams without picture ids rely on the temporal filter alone; with them the VP8
// rewriter's frame memory agrees.
func TestSelectorTemporalCapInsideFrame(t *testing.T) {
	for _, noPic := range []bool{false, true} {
		testCapInsideFrame(t, noPic)
	}
}

func testCapInsideFrame(t *testing.T, noPic bool) {
	s := NewSelector(90000, true, 0, 0)
	var d Decision
	feed := func(ext uint64, frame int, tid uint8, start, key bool) Decision {
		p := vp8Pkt(ext, uint32(frame*3000), uint16(frame), 0, tid, false, start, key)
		if noPic { // drop the picture id: X, L, T only
			b := append([]byte{p.payload[0], 0x60}, p.payload[4:]...)
			p.p.ParsePayload(CodecVP8, b)
			if p.p.VP8.I || p.p.Keyframe != key {
				t.Fatal("test packet without picture id")
			}
		}
		s.Select(&p.p, &d)
		return d
	}
	feed(1, 0, 0, true, true)
	feed(2, 0, 0, false, false)
	// Frame 1 (tl2): its second packet arrives first, then the cap drops to 0.
	if !feed(4, 1, 2, false, false).Forward {
		t.Fatal("tl2 frame dropped under cap 3")
	}
	s.SetMaxTemporal(0)
	if d := feed(3, 1, 2, true, false); !d.Forward || d.Seq != 2 {
		t.Fatalf("first packet of a started frame: %+v", d)
	}
	if d := feed(5, 1, 2, false, false); !d.Forward || d.Seq != 4 {
		t.Fatalf("last packet of a started frame: %+v", d)
	}
	if feed(6, 2, 2, true, false).Forward || feed(7, 2, 2, false, false).Forward {
		t.Fatal("tl2 frame after the cap forwarded")
	}
	if d := feed(8, 3, 0, true, false); !d.Forward || d.Seq != 5 || d.TS != 9000 {
		t.Fatalf("base frame after drops: %+v", d)
	}
	if s.CurrentTemporal() != 0 || s.MaxTemporal() != 0 {
		t.Fatalf("temporal %d/%d", s.CurrentTemporal(), s.MaxTemporal())
	}
	s.SetMaxTemporal(200)
	if s.MaxTemporal() != MaxTemporal {
		t.Fatalf("cap not clamped: %d", s.MaxTemporal())
	}
}

// TestSelectorReorderAroundDrop checks how late packets map when frames around them were
// dropped: frames A (tl0: 100, 101), B (tl1: 102, 103), C (tl0: 104), D (tl2: 105),
// E (tl0: 106), with the cap at 0.
func TestSelectorReorderAroundDrop(t *testing.T) {
	type pk struct {
		frame int
		tid   uint8
	}
	layout := map[uint64]pk{100: {0, 0}, 101: {0, 0}, 102: {1, 1}, 103: {1, 1}, 104: {2, 0}, 105: {3, 2}, 106: {4, 0}}
	type res struct {
		ext  uint64
		fwd  bool
		hole bool
		seq  uint16 // output, relative to the first (500)
	}
	tests := []struct {
		name string
		want []res
	}{
		{"in order", []res{{100, true, false, 500}, {101, true, false, 501}, {102, false, false, 0},
			{103, false, false, 0}, {104, true, false, 502}, {105, false, false, 0}, {106, true, false, 503}}},
		{"forwarded packet late past a dropped frame keeps its number", []res{{100, true, false, 500},
			{102, false, false, 0}, {103, false, false, 0}, {104, true, false, 502}, {101, true, false, 501},
			{105, false, false, 0}, {106, true, false, 503}}},
		{"dropped packet late into a kept number leaves a hole", []res{{100, true, false, 500}, {101, true, false, 501},
			{103, false, false, 0}, {104, true, false, 503}, {102, false, true, 502}, {105, false, false, 0},
			{106, true, false, 504}}},
		{"whole dropped frame late", []res{{100, true, false, 500}, {101, true, false, 501}, {104, true, false, 504},
			{102, false, true, 502}, {103, false, true, 503}, {105, false, false, 0}, {106, true, false, 505}}},
		{"duplicates", []res{{100, true, false, 500}, {100, true, false, 500}, {101, true, false, 501},
			{102, false, false, 0}, {102, false, false, 0}, {103, false, false, 0}, {104, true, false, 502},
			{104, true, false, 502}}},
		{"a packet never seen keeps its number", []res{{100, true, false, 500}, {101, true, false, 501},
			{104, true, false, 504}, {105, false, false, 0}, {106, true, false, 505}}},
		{"late base frame after a later one", []res{{100, true, false, 500}, {101, true, false, 501},
			{106, true, false, 506}, {104, true, false, 504}, {105, false, true, 0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSelector(90000, true, 500, 7)
			s.SetMaxTemporal(0)
			for i, w := range tc.want {
				l := layout[w.ext]
				p := vp8Pkt(w.ext, uint32(1000+3000*l.frame), uint16(l.frame), 0, l.tid, false,
					w.ext == 100 || w.ext == 102 || w.ext >= 104, w.ext == 100)
				var d Decision
				s.Select(&p.p, &d)
				if d.Forward != w.fwd || d.Hole != w.hole {
					t.Fatalf("step %d (in %d): forward %v hole %v, want %v %v", i, w.ext, d.Forward, d.Hole, w.fwd, w.hole)
				}
				if w.fwd && d.Seq != w.seq {
					t.Fatalf("step %d (in %d): seq %d, want %d", i, w.ext, d.Seq, w.seq)
				}
				if (d.Forward || d.Hole) && d.TS != uint32(7+3000*l.frame) {
					t.Fatalf("step %d: ts %d, want %d (temporal drops leave timestamps alone)", i, d.TS, 7+3000*l.frame)
				}
				if !d.Forward && !d.Dropped {
					t.Fatalf("step %d: not forwarded and not marked dropped", i)
				}
			}
		})
	}
	// A packet later than the sequence map remembers is dropped.
	s := NewSelector(90000, true, 0, 0)
	var d Decision
	for i := uint64(0); i < 400; i++ {
		p := vp8Pkt(1000+i, uint32(i*3000), uint16(i), uint8(i), 0, false, true, i == 0)
		s.Select(&p.p, &d)
		if !d.Forward || d.Seq != uint16(i) {
			t.Fatalf("packet %d: %+v", i, d)
		}
	}
	p := vp8Pkt(1000+10, 10*3000, 10, 10, 0, false, true, false)
	if s.Select(&p.p, &d); d.Forward || !d.Dropped {
		t.Fatalf("ancient packet: %+v", d)
	}
}

// TestSelectorH264Unaffected: a stream without temporal information is forwarded whole
// whatever the cap.
func TestSelectorH264Unaffected(t *testing.T) {
	s := NewSelector(90000, true, 9, 0)
	s.SetMaxTemporal(0)
	var d Decision
	for i := 0; i < 20; i++ {
		var p Packet
		p.ExtSeq, p.TS = uint64(i), uint32(i/2*3000)
		payload := []byte{0x41, 0x9a}
		if i == 0 {
			payload = []byte{0x65, 0x88}
		}
		p.ParsePayload(CodecH264, payload)
		s.Select(&p, &d)
		if !d.Forward || d.Seq != uint16(9+i) || d.VP8.Active() {
			t.Fatalf("packet %d: %+v", i, d)
		}
	}
	// Padding-only packets belong to no frame and pass.
	var p Packet
	p.ExtSeq, p.TS = 20, 9*3000
	p.ParsePayload(CodecH264, nil)
	if s.Select(&p, &d); !d.Forward || d.Seq != 29 {
		t.Fatalf("padding: %+v", d)
	}
}

func BenchmarkSelectVP8Temporal(b *testing.B) {
	s := NewSelector(90000, true, 0, 0)
	s.SetMaxTemporal(1)
	// One 0,2,1,2 cycle of four three-packet frames, renumbered as the loop goes.
	var pkts []*testPkt
	for f := 0; f < 4; f++ {
		for k := 0; k < 3; k++ {
			pkts = append(pkts, vp8Pkt(uint64(3*f+k), uint32(3000*f), uint16(f), 0, testPattern[f], f > 0 && f <= 2, k == 0, f == 0 && k == 0))
		}
	}
	out := make([]byte, 1500)
	var d Decision
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p := pkts[i%len(pkts)]
		cycle := uint64(i / len(pkts))
		p.p.ExtSeq = cycle*12 + uint64(i%len(pkts))
		p.p.TS = uint32(cycle*12000) + uint32(i%len(pkts)/3*3000)
		p.p.Keyframe = false
		pic := uint16(cycle*4) + uint16(i%len(pkts)/3)
		p.payload[2], p.payload[3] = 0x80|byte(pic>>8), byte(pic)
		p.p.VP8.PictureID = pic & 0x7fff
		s.Select(&p.p, &d)
		if d.Forward {
			if _, err := d.VP8.Apply(p.payload, out); err != nil {
				b.Fatal(err)
			}
		}
		i++
	}
}
