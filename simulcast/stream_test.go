package simulcast

import (
	"bytes"
	"sort"
	"testing"
)

// The test publisher: synthetic VP8 simulcast layers with real payload descriptors, a
// 0,2,1,2 temporal pattern whose first upper-layer frames after a base frame carry the
// layer sync bit Y (as libvpx-style encoders set it), and a fixed number of packets per
// frame. Every payload is unique, so the checker can tell forwarded bytes apart.

var testPattern = [4]uint8{0, 2, 1, 2}

type testLayer struct {
	layer    int8
	seq      uint64
	ts       uint32
	pic      uint16
	long     bool // 15-bit picture ids
	tl0      uint8
	keyIdx   uint8
	useK     bool
	perFrame int
	idx      int // position in the temporal pattern
	n        int // frames made
}

type testFrame struct {
	id       int
	layer    int8
	n        int // index within its layer
	tid      uint8
	key      bool
	sync     bool
	pkts     int
	lost     int // packets never delivered
	received int // distinct packets delivered
}

type testPkt struct {
	p       Packet
	payload []byte
	frame   *testFrame
	index   int // within its frame
}

func frameID(layer int8, n int) int { return int(layer)*100000 + n }

func (l *testLayer) frame(key bool) []*testPkt {
	if key {
		l.idx = 0
		l.keyIdx++
	}
	pos := l.idx % len(testPattern)
	tid := testPattern[pos]
	l.idx++
	if tid == 0 && l.n > 0 && !key {
		l.tl0++
	} else if key && l.n > 0 {
		l.tl0++
	}
	f := &testFrame{id: frameID(l.layer, l.n), layer: l.layer, n: l.n, tid: tid, key: key,
		sync: tid > 0 && pos <= 2, pkts: l.perFrame}
	out := make([]*testPkt, l.perFrame)
	for i := range out {
		b0 := byte(0x80) // X
		if i == 0 {
			b0 |= 0x10 // S, partition 0
		}
		if tid == 2 {
			b0 |= 0x20 // N: the top layer is never referenced
		}
		x := byte(0xe0) // I, L, T
		if l.useK {
			x |= 0x10
		}
		b := []byte{b0, x}
		if l.long {
			b = append(b, 0x80|byte(l.pic>>8), byte(l.pic))
		} else {
			b = append(b, byte(l.pic)&0x7f)
		}
		b = append(b, l.tl0)
		tk := tid << 6
		if f.sync {
			tk |= 0x20
		}
		if l.useK {
			tk |= l.keyIdx & 0x1f
		}
		b = append(b, tk)
		tag := byte(0xaa)
		if i == 0 {
			tag = 0x11 // show_frame, P=1 (inter frame)
			if key {
				tag = 0x10
			}
		}
		b = append(b, tag, byte(l.layer), byte(l.n), byte(l.n>>8), byte(i), 0xee, 0xee)
		p := &testPkt{payload: b, frame: f, index: i}
		p.p = Packet{Layer: l.layer, ExtSeq: l.seq, TS: l.ts}
		p.p.ParsePayload(CodecVP8, b)
		if p.p.Keyframe != (key && i == 0) {
			panic("test generator: keyframe flag")
		}
		out[i] = p
		l.seq++
	}
	l.ts += 3000
	if l.long {
		l.pic = (l.pic + 1) & 0x7fff
	} else {
		l.pic = (l.pic + 1) & 0x7f
	}
	l.n++
	return out
}

// A scripted run: per tick every layer makes a frame; events change the selector before the
// tick's packets; perturbations lose, delay and duplicate packets on the way to the SFU.
type event struct {
	target      int8 // NoLayer: unchanged
	maxTemporal int  // -1: unchanged
}

type perturb struct {
	layer int8
	tick  int
	index int // packet within the frame; -1 for the whole frame
	kind  byte
	delay int // ticks, for kind 'd'
}

type script struct {
	ticks     int
	layers    []*testLayer
	keyframes map[int8][]int
	events    map[int]event
	perturbs  []perturb
}

// arrivals builds the order packets reach the SFU, and the frames they belong to.
func (sc *script) arrivals() ([]*testPkt, map[int]*testFrame) {
	frames := map[int]*testFrame{}
	byTick := make([][]*testPkt, sc.ticks+8)
	type key struct {
		layer int8
		tick  int
	}
	made := map[key][]*testPkt{}
	for tick := 0; tick < sc.ticks; tick++ {
		for _, l := range sc.layers {
			isKey := false
			for _, k := range sc.keyframes[l.layer] {
				isKey = isKey || k == tick
			}
			pk := l.frame(isKey)
			frames[pk[0].frame.id] = pk[0].frame
			made[key{l.layer, tick}] = pk
			byTick[tick] = append(byTick[tick], pk...)
		}
	}
	remove := func(list []*testPkt, p *testPkt) []*testPkt {
		for i, q := range list {
			if q == p {
				return append(list[:i:i], list[i+1:]...)
			}
		}
		panic("test script: packet not found")
	}
	for _, pt := range sc.perturbs {
		pk := made[key{pt.layer, pt.tick}]
		sel := pk
		if pt.index >= 0 {
			sel = pk[pt.index : pt.index+1]
		}
		for _, p := range sel {
			switch pt.kind {
			case 'l':
				byTick[pt.tick] = remove(byTick[pt.tick], p)
				p.frame.lost++
			case 'd':
				byTick[pt.tick] = remove(byTick[pt.tick], p)
				byTick[pt.tick+pt.delay] = append(byTick[pt.tick+pt.delay], p)
			case 'u':
				byTick[pt.tick+pt.delay] = append(byTick[pt.tick+pt.delay], p)
			}
		}
	}
	var all []*testPkt
	for tick, list := range byTick {
		for i, p := range list {
			p.p.ArrivalNs = int64(tick)*33_000_000 + int64(i)*10_000
		}
		all = append(all, list...)
	}
	return all, frames
}

// outRec is one packet as the subscriber sees it (or a hole the selector reported).
type outRec struct {
	ext     int64 // unwrapped output sequence number
	ts      uint32
	hole    bool
	run     int
	in      *testPkt
	desc    VP8Descriptor
	payload []byte
}

// harness drives a selector and records what comes out, checking every forwarded packet
// as it goes.
type harness struct {
	t       *testing.T
	s       *Selector
	recs    []outRec
	run     int
	lastExt int64
	started bool
	buf     []byte
	seen    map[*testPkt]bool
	lost    map[lostKey]bool
}

func newHarness(t *testing.T, s *Selector) *harness {
	return &harness{t: t, s: s, buf: make([]byte, 1500), seen: map[*testPkt]bool{}}
}

func (h *harness) feed(p *testPkt) Decision {
	t := h.t
	t.Helper()
	if !h.seen[p] {
		h.seen[p] = true
		p.frame.received++
	}
	var d Decision
	h.s.Select(&p.p, &d)
	if d.Switched {
		h.run++
	}
	if !d.Forward && !d.Hole {
		return d
	}
	ext := int64(d.Seq)
	if h.started {
		ext = h.lastExt + int64(int16(d.Seq-uint16(h.lastExt)))
	}
	if !h.started || ext > h.lastExt {
		h.lastExt = ext
	}
	h.started = true
	r := outRec{ext: ext, ts: d.TS, hole: d.Hole, run: h.run, in: p}
	if d.Forward {
		n, err := d.VP8.Apply(p.payload, h.buf)
		if err != nil || n != len(p.payload) {
			t.Fatalf("Apply: %d, %v", n, err)
		}
		r.payload = append([]byte(nil), h.buf[:n]...)
		if err := r.desc.Unmarshal(r.payload); err != nil {
			t.Fatalf("rewritten descriptor: %v", err)
		}
		in := p.p.VP8
		got := r.desc
		// Everything but the renumbered fields is the publisher's.
		got.PictureID, got.TL0PICIDX, got.KEYIDX = in.PictureID, in.TL0PICIDX, in.KEYIDX
		if got != in || !bytes.Equal(r.payload[in.Len:], p.payload[in.Len:]) {
			t.Fatalf("frame %d packet %d: rewrite changed more than the numbering:\n in % x\nout % x", p.frame.id, p.index, p.payload, r.payload)
		}
	}
	h.recs = append(h.recs, r)
	return d
}

// check verifies what a decoder would see, over every packet sent: sequence numbers
// contiguous but for packets lost before the SFU, timestamps monotonic and constant within
// a frame, no partial frames, picture ids one up per forwarded frame (plus frames lost
// before the SFU), TL0PICIDX one up per base-layer frame, KEYIDX one up per key frame.
func (h *harness) check(frames map[int]*testFrame, seed VP8Rewrite) (forwarded map[int]int) {
	t := h.t
	t.Helper()
	byExt := map[int64]outRec{}
	var recs []outRec
	for _, r := range h.recs {
		if prev, dup := byExt[r.ext]; dup {
			if prev.in != r.in || prev.hole || r.hole || !bytes.Equal(prev.payload, r.payload) {
				t.Fatalf("output seq %d used twice: frame %d/%d and frame %d/%d", r.ext, prev.in.frame.id, prev.in.index, r.in.frame.id, r.in.index)
			}
			continue
		}
		byExt[r.ext] = r
		recs = append(recs, r)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].ext < recs[j].ext })

	lostPackets := func(a, b *testPkt) int { // packets never delivered strictly between a and b
		n := 0
		for id := a.frame.n; id <= b.frame.n; id++ {
			f := frames[frameID(a.frame.layer, id)]
			for i := 0; i < f.pkts; i++ {
				if (id == a.frame.n && i <= a.index) || (id == b.frame.n && i >= b.index) {
					continue
				}
				// A packet counts as lost when its whole frame was; partial losses are
				// tracked per frame below, so count them by position.
				if f.lost == f.pkts || h.lostIndex(f, i) {
					n++
				}
			}
		}
		return n
	}
	forwarded = map[int]int{}
	for i, r := range recs {
		if !r.hole {
			forwarded[r.in.frame.id]++
		}
		if i == 0 {
			continue
		}
		a := recs[i-1]
		want := int64(1)
		if a.run == r.run {
			if r.in.p.ExtSeq <= a.in.p.ExtSeq {
				t.Fatalf("output order differs from input order at seq %d", r.ext)
			}
			want += int64(lostPackets(a.in, r.in))
		}
		if r.ext-a.ext != want {
			t.Fatalf("seq %d (frame %d/%d) follows %d (frame %d/%d): gap %d, want %d",
				r.ext, r.in.frame.id, r.in.index, a.ext, a.in.frame.id, a.in.index, r.ext-a.ext, want)
		}
		if a.in.frame == r.in.frame {
			if r.ts != a.ts {
				t.Fatalf("frame %d: timestamps %d and %d", r.in.frame.id, a.ts, r.ts)
			}
		} else if int32(r.ts-a.ts) <= 0 {
			t.Fatalf("seq %d: timestamp %d after %d", r.ext, r.ts, a.ts)
		}
	}
	for id, n := range forwarded {
		f := frames[id]
		if n != f.received {
			t.Fatalf("frame %d (layer %d tid %d): %d of its %d delivered packets forwarded", id, f.layer, f.tid, n, f.received)
		}
	}

	// Frame numbering, over forwarded frames in output order.
	type outFrame struct {
		f    *testFrame
		desc VP8Descriptor
		run  int
	}
	var seq []outFrame
	done := map[int]bool{}
	for _, r := range recs {
		if r.hole {
			continue
		}
		if len(seq) > 0 && seq[len(seq)-1].f == r.in.frame {
			if d := seq[len(seq)-1].desc; d.PictureID != r.desc.PictureID || d.TL0PICIDX != r.desc.TL0PICIDX || d.KEYIDX != r.desc.KEYIDX {
				t.Fatalf("frame %d: packets numbered differently: %+v and %+v", r.in.frame.id, d, r.desc)
			}
			continue
		}
		if done[r.in.frame.id] {
			t.Fatalf("frame %d split in the output", r.in.frame.id)
		}
		done[r.in.frame.id] = true
		seq = append(seq, outFrame{r.in.frame, r.desc, r.run})
	}
	lastPic, lastTL0, lastKey := uint16(seed.PictureID-1), seed.TL0PICIDX-1, (seed.KEYIDX-1)&0x1f
	long := true
	for i, g := range seq {
		lostFrames, lostTL0 := 0, 0
		if i > 0 && seq[i-1].run == g.run {
			for n := seq[i-1].f.n + 1; n < g.f.n; n++ {
				if f := frames[frameID(g.f.layer, n)]; f.lost == f.pkts {
					lostFrames++
					if f.tid == 0 {
						lostTL0++
					}
				}
			}
		}
		mod := uint16(1 << 15)
		if !long || !g.desc.M {
			mod = 1 << 7
		}
		if want := (lastPic + 1 + uint16(lostFrames)) % mod; g.desc.PictureID%mod != want {
			t.Fatalf("frame %d (layer %d, #%d in output): picture id %d, want %d (previous %d, %d lost between)",
				g.f.id, g.f.layer, i, g.desc.PictureID, want, lastPic, lostFrames)
		}
		wantTL0 := lastTL0 + uint8(lostTL0)
		if g.f.tid == 0 {
			wantTL0++
		}
		if i > 0 && g.desc.TL0PICIDX != wantTL0 || i == 0 && g.desc.TL0PICIDX != seed.TL0PICIDX {
			t.Fatalf("frame %d (tid %d): TL0PICIDX %d, want %d", g.f.id, g.f.tid, g.desc.TL0PICIDX, wantTL0)
		}
		if g.desc.K {
			wantKey := lastKey
			if g.f.key {
				wantKey = (lastKey + 1) & 0x1f
			}
			if g.desc.KEYIDX != wantKey {
				t.Fatalf("frame %d (key %v): KEYIDX %d, want %d", g.f.id, g.f.key, g.desc.KEYIDX, wantKey)
			}
			lastKey = g.desc.KEYIDX
		}
		lastPic, lastTL0, long = g.desc.PictureID, g.desc.TL0PICIDX, g.desc.M
	}
	return forwarded
}

// lostIndex reports whether packet i of f was lost (the script loses single packets by
// index; the harness learns which from the packets that never arrived).
func (h *harness) lostIndex(f *testFrame, i int) bool { return h.lost[lostKey{f.id, i}] }

type lostKey struct{ frame, index int }

// play runs sc through s and returns the harness with its records.
func play(t *testing.T, s *Selector, sc *script) (*harness, map[int]*testFrame) {
	t.Helper()
	pkts, frames := sc.arrivals()
	h := newHarness(t, s)
	h.lost = map[lostKey]bool{}
	for _, pt := range sc.perturbs {
		if pt.kind == 'l' && pt.index >= 0 {
			h.lost[lostKey{frameID(pt.layer, pt.tick), pt.index}] = true
		}
	}
	tick := -1
	for _, p := range pkts {
		for tk := tick + 1; tk <= int(p.p.ArrivalNs/33_000_000); tk++ {
			if ev, ok := sc.events[tk]; ok {
				if ev.target != NoLayer {
					s.SetTarget(ev.target)
				}
				if ev.maxTemporal >= 0 {
					s.SetMaxTemporal(uint8(ev.maxTemporal))
				}
			}
			tick = tk
		}
		h.feed(p)
	}
	return h, frames
}

// TestSelectorVP8Continuity switches q → f → h with temporal caps moving down and up,
// packets lost, reordered (within a frame, whole frames, across a temporal drop) and
// duplicated, and publisher picture ids wrapping in 15 and 7 bits; the output numbering
// wraps too. Every forwarded packet is checked.
func TestSelectorVP8Continuity(t *testing.T) {
	const initSeq, initTS = 65530, 0x1f7ff0fe
	s := NewSelector(90000, true, initSeq, initTS)
	seed := VP8Rewrite{PictureID: 0x7ff0, TL0PICIDX: 0xfe, KEYIDX: 0x1f}
	sc := &script{
		ticks: 64,
		layers: []*testLayer{
			{layer: LayerQ, seq: 1 << 16, ts: 1000, pic: 32760, long: true, tl0: 10, perFrame: 1},
			{layer: LayerH, seq: 5 << 16, ts: 777777, pic: 77, long: false, tl0: 200, useK: true, keyIdx: 9, perFrame: 2},
			{layer: LayerF, seq: 9<<16 + 65000, ts: 4294960000, pic: 32742, long: true, tl0: 250, useK: true, keyIdx: 30, perFrame: 3},
		},
		keyframes: map[int8][]int{LayerQ: {0}, LayerH: {0, 47}, LayerF: {0, 22}},
		events: map[int]event{
			0:  {target: LayerQ, maxTemporal: -1},
			10: {target: NoLayer, maxTemporal: 1},
			20: {target: LayerF, maxTemporal: -1},
			30: {target: NoLayer, maxTemporal: 0},
			35: {target: NoLayer, maxTemporal: 2},
			45: {target: LayerH, maxTemporal: -1},
			57: {target: NoLayer, maxTemporal: 3},
		},
		perturbs: []perturb{
			{layer: LayerQ, tick: 4, index: -1, kind: 'l'},            // a whole base-layer frame lost
			{layer: LayerQ, tick: 7, index: -1, kind: 'd', delay: 1},  // a whole frame late
			{layer: LayerF, tick: 24, index: 0, kind: 'd', delay: 0},  // first packet after the rest
			{layer: LayerF, tick: 25, index: 1, kind: 'l'},            // a packet inside a frame lost
			{layer: LayerF, tick: 27, index: -1, kind: 'l'},           // a whole upper-layer frame lost
			{layer: LayerF, tick: 30, index: 2, kind: 'd', delay: 1},  // late past dropped frames
			{layer: LayerH, tick: 50, index: -1, kind: 'l'},           // a whole frame lost
			{layer: LayerH, tick: 52, index: 1, kind: 'd', delay: 1},  // late past the next frame
			{layer: LayerH, tick: 53, index: 0, kind: 'l'},            // a frame's first packet lost
			{layer: LayerH, tick: 56, index: 0, kind: 'u', delay: 1},  // duplicated
			{layer: LayerH, tick: 58, index: -1, kind: 'd', delay: 2}, // a whole upper-layer frame late
		},
	}
	h, frames := play(t, s, sc)
	fwd := h.check(frames, seed)

	if s.Current() != LayerH {
		t.Fatalf("current layer %d, want h", s.Current())
	}
	// What went out, per layer and temporal layer, when.
	count := func(layer int8, from, to int, tid uint8) (n int) {
		for tick := from; tick < to; tick++ {
			if f := frames[frameID(layer, tick)]; f.tid == tid && fwd[f.id] > 0 {
				n++
			}
		}
		return n
	}
	for _, c := range []struct {
		what     string
		layer    int8
		from, to int
		tid      uint8
		min, max int
	}{
		{"q before the cap: all layers", LayerQ, 0, 10, 2, 3, 5},
		{"q under cap 1: no tl2", LayerQ, 11, 22, 2, 0, 0},
		{"q under cap 1: tl1", LayerQ, 11, 22, 1, 2, 3},
		{"q after the switch", LayerQ, 23, 64, 0, 0, 0},
		{"f before its key frame", LayerF, 0, 22, 0, 0, 0},
		{"f under cap 1: no tl2", LayerF, 22, 31, 2, 0, 0},
		{"f under cap 0: no tl1", LayerF, 31, 36, 1, 0, 0},
		{"f under cap 0: base", LayerF, 31, 36, 0, 1, 2},
		{"f back to tl2 via sync frames", LayerF, 37, 47, 2, 2, 5},
		{"h from its key frame", LayerH, 47, 64, 0, 3, 5},
		{"h tl2", LayerH, 47, 64, 2, 4, 9},
	} {
		if n := count(c.layer, c.from, c.to, c.tid); n < c.min || n > c.max {
			t.Errorf("%s: %d frames, want %d..%d", c.what, n, c.min, c.max)
		}
	}
}
