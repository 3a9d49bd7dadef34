package simulcast

// MaxTemporal is the highest temporal layer id a VP8 descriptor can carry (TID has two
// bits, RFC 7741 section 4.2).
const MaxTemporal uint8 = 3

// frameMemory is how many recent frames the temporal filter remembers (a power of two).
const frameMemory = 8

type frameSlot struct {
	ts    uint32
	fwd   bool
	valid bool
}

// temporalFilter drops frames above a temporal layer cap, a frame at a time: every packet
// of a frame shares its fate, decided at the first packet of the frame that arrives, so a
// decoder never gets part of a frame. Frames are told apart by RTP timestamp.
//
// The effective layer follows the cap:
//   - down at once: at the next frame boundary. Lower layers never reference higher ones,
//     so any boundary is safe.
//   - up one layer at a time, at a frame of the next layer with the layer sync bit Y
//     set: it depends only on the base layer, which the subscriber has (RFC 7741 section
//     4.2). A base-layer (TL0) frame is not a safe place: the next frame of a higher layer
//     may refer to an earlier frame of that layer, which was dropped. A key frame resets
//     every reference, so at one the effective layer goes straight to the cap. If a
//     publisher never sets Y, upper layers come back at its next key frame.
type temporalFilter struct {
	max, cur   uint8
	newestTS   uint32
	haveNewest bool
	next       uint8
	frames     [frameMemory]frameSlot
}

// restart begins a layer run (at its key frame): everything up to the cap is decodable.
func (t *temporalFilter) restart() {
	t.cur = t.max
	t.haveNewest = false
	t.frames = [frameMemory]frameSlot{}
}

// forward decides whether p's frame goes out.
func (t *temporalFilter) forward(p *Packet) bool {
	if p.Padding {
		return true // no frame, nothing to decode; keeps the sequence as the publisher sent it
	}
	if !t.haveNewest || int32(p.TS-t.newestTS) > 0 {
		t.newestTS = p.TS
		t.haveNewest = true
		switch {
		case t.cur > t.max:
			t.cur = t.max
		case t.cur < t.max && p.Keyframe:
			t.cur = t.max
		case t.cur < t.max && p.LayerSync && p.TemporalID == t.cur+1:
			t.cur++
		}
		fwd := p.TemporalID <= t.cur
		t.frames[t.next%frameMemory] = frameSlot{ts: p.TS, fwd: fwd, valid: true}
		t.next++
		return fwd
	}
	if p.TS == t.newestTS {
		if p.Keyframe && t.cur < t.max {
			t.cur = t.max // the key frame's first packet came after others of its frame
		}
		return t.frames[(t.next-1)%frameMemory].fwd
	}
	for i := range t.frames {
		if f := &t.frames[i]; f.valid && f.ts == p.TS {
			return f.fwd
		}
	}
	// A frame older than we remember: judge it by today's layer.
	return p.TemporalID <= t.cur
}
