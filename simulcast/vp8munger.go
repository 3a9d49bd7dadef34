package simulcast

// vp8Frames is how many recent frames the VP8 rewriter remembers (a power of two). A packet
// arriving more than this many frames late is dropped: a decoder has long given up on it.
const vp8Frames = 64

// picSlot is what the rewriter remembers about one input frame.
type picSlot struct {
	in, out uint64 // extended input and output picture ids
	state   slotState
}

// FrameContext is how the selector treats one packet, as the VP8 rewriter needs to know it.
type FrameContext struct {
	// Switched marks the first packet forwarded from a layer (a key frame, after a switch
	// or at the start): the input numbering restarts, the output continues from the last
	// values sent.
	Switched bool
	// Dropped marks a packet whose frame is not forwarded (temporal layer above the cap).
	// The rewriter notes the frame as skipped so the next forwarded frame takes the number
	// it would have had: the subscriber sees no gap.
	Dropped bool
	// Late marks a packet that arrived after one with a higher sequence number. A late
	// packet of a frame older than the rewriter remembers is dropped; a packet that is not
	// late with such a picture id means the publisher's picture ids jumped back, and the
	// numbering is re-based there.
	Late bool
}

// VP8Munger keeps the VP8 PictureID, TL0PICIDX and KEYIDX a subscriber sees continuous
// (RFC 7741 section 4.2) across simulcast switches and frames dropped for temporal
// scalability, so its decoder never takes a switch or a drop for lost frames:
//
//   - the output picture id grows by exactly one per forwarded frame; a frame dropped on
//     purpose takes no number, a frame lost before the SFU keeps its number (so the
//     decoder knows a reference is missing, and a late packet of it still has a place);
//   - TL0PICIDX grows by one per forwarded base-layer frame: base frames are never
//     dropped for temporal scalability, so a constant offset per layer run suffices;
//   - KEYIDX continues likewise, taking the next index at a switch (a switch happens at a
//     key frame).
//
// Late packets of an already numbered frame get that frame's number from a short history.
// A Selector owns one and drives it; VP8Munger can also be driven directly through
// Rewrite. It is not safe for concurrent use.
type VP8Munger struct {
	lastPic uint64 // highest extended output picture id sent (the seed minus one before any)
	lastTL0 uint8  // highest TL0PICIDX sent
	lastKey uint8  // highest KEYIDX sent

	// A run is a stretch of one layer's input numbering; a switch starts a new one. Each
	// field gets its offset from the first packet of the run that carries it.
	picRun, tl0Run, keyRun bool

	picIn  uint64 // highest extended input picture id of the run
	picOff uint64 // output = input + picOff (mod 2^64) for frames first seen from now on
	tl0Off uint8
	keyOff uint8
	pics   [vp8Frames]picSlot
}

// NewVP8Munger returns a rewriter whose first forwarded frame gets picture id pic (15
// bits, masked to 7 when the stream uses 7), TL0PICIDX tl0 and KEYIDX keyIdx.
func NewVP8Munger(pic uint16, tl0, keyIdx uint8) *VP8Munger {
	m := &VP8Munger{}
	m.Reset(pic, tl0, keyIdx)
	return m
}

// Reset reinitialises m in place as NewVP8Munger does.
func (m *VP8Munger) Reset(pic uint16, tl0, keyIdx uint8) {
	*m = VP8Munger{
		lastPic: uint64(pic&0x7fff) - 1,
		lastTL0: tl0 - 1,
		lastKey: (keyIdx - 1) & 0x1f,
	}
}

// verdict is the rewriter's decision on a packet.
type verdict uint8

const (
	verdictSend  verdict = iota
	verdictDrop          // the frame is not forwarded
	verdictStale         // too late to place
)

// Munge updates the rewriter with one packet of the current layer whose descriptor is d and
// returns how to rewrite it. ok is false when the packet must not be sent: its frame is
// dropped (ctx.Dropped now, or when its first packet was seen), or it is too late to
// place. A descriptor with Len 0 (not parsed) gives an inactive rewrite.
func (m *VP8Munger) Munge(d *VP8Descriptor, ctx FrameContext) (r VP8Rewrite, ok bool) {
	r, v := m.munge(d, ctx)
	return r, v == verdictSend
}

// Rewrite parses the descriptor of the payload in, updates the rewriter as Munge does and
// writes the rewritten payload (same length) into out, returning its length. n == 0 with a
// nil error means the packet's frame is dropped: send nothing. ErrVP8Stale means the
// packet is too late to place. On any error the rewriter's state is unchanged, apart from
// ErrVP8Stale.
func (m *VP8Munger) Rewrite(in, out []byte, ctx FrameContext) (n int, err error) {
	var d VP8Descriptor
	if err := d.Unmarshal(in); err != nil {
		return 0, err
	}
	if len(out) < len(in) {
		return 0, ErrShortBuffer
	}
	r, v := m.munge(&d, ctx)
	switch v {
	case verdictDrop:
		return 0, nil
	case verdictStale:
		return 0, ErrVP8Stale
	}
	return r.Apply(in, out)
}

func (m *VP8Munger) munge(d *VP8Descriptor, ctx FrameContext) (r VP8Rewrite, v verdict) {
	if ctx.Switched {
		m.picRun, m.tl0Run, m.keyRun = false, false, false
	}
	if d.Len == 0 {
		if ctx.Dropped {
			return r, verdictDrop
		}
		return r, verdictSend
	}
	if d.I {
		out, v := m.picture(d.PictureID, d.M, ctx)
		if v != verdictSend {
			return VP8Rewrite{}, v
		}
		if d.M {
			r.PictureID = uint16(out) & 0x7fff
		} else {
			r.PictureID = uint16(out) & 0x7f
		}
	} else if ctx.Dropped {
		// Without picture ids there is nothing to renumber; the frame just goes.
		return r, verdictDrop
	}
	r.layout(d)
	if d.L {
		r.TL0PICIDX = m.tl0(d)
	}
	if d.K {
		r.KEYIDX = m.key(d.KEYIDX)
	}
	return r, verdictSend
}

// picture maps an input picture id (7 or 15 bits) to the extended output picture id.
func (m *VP8Munger) picture(id uint16, long bool, ctx FrameContext) (uint64, verdict) {
	mod := uint64(1) << 7
	if long {
		mod = 1 << 15
	}
	if !m.picRun {
		m.startPicRun(uint64(id))
	}
	// Unwrap against the newest frame: the nearer of the two directions mod 2^bits.
	ext := m.picIn
	if fwd := (uint64(id) - m.picIn) & (mod - 1); fwd < mod/2 {
		ext += fwd
	} else {
		ext -= mod - fwd
	}
	if int64(ext-m.picIn) > 0 {
		return m.newFrame(ext, ctx.Dropped)
	}
	if m.picIn-ext >= vp8Frames {
		if ctx.Late {
			return 0, verdictStale
		}
		// In sequence order yet far behind: the publisher's picture ids jumped back.
		m.startPicRun(uint64(id))
		return m.newFrame(uint64(id), ctx.Dropped)
	}
	s := &m.pics[ext%vp8Frames]
	if s.state == slotEmpty || s.in != ext {
		return 0, verdictStale // older than the run
	}
	switch s.state {
	case slotForwarded:
		return s.out, verdictSend
	case slotDropped:
		return 0, verdictDrop
	}
	// A frame that was missing when later ones went out: it kept its number.
	if ctx.Dropped {
		s.state = slotDropped
		return 0, verdictDrop
	}
	s.state = slotForwarded
	m.notePic(s.out)
	return s.out, verdictSend
}

// startPicRun makes ext the first frame of a run, numbered right after the last one sent.
func (m *VP8Munger) startPicRun(ext uint64) {
	m.picRun = true
	m.picIn = ext - 1
	m.picOff = m.lastPic + 1 - ext
	m.pics = [vp8Frames]picSlot{}
}

// newFrame numbers frame ext, newer than any seen in the run. Frames skipped over keep
// their numbers for packets still on the way.
func (m *VP8Munger) newFrame(ext uint64, dropped bool) (uint64, verdict) {
	from := m.picIn + 1
	if ext-from >= vp8Frames {
		from = ext - (vp8Frames - 1)
	}
	for x := from; x != ext; x++ {
		m.pics[x%vp8Frames] = picSlot{in: x, out: x + m.picOff, state: slotReserved}
	}
	m.picIn = ext
	out := ext + m.picOff
	if dropped {
		m.pics[ext%vp8Frames] = picSlot{in: ext, out: out, state: slotDropped}
		m.picOff-- // the next frame takes this one's number
		return 0, verdictDrop
	}
	m.pics[ext%vp8Frames] = picSlot{in: ext, out: out, state: slotForwarded}
	m.notePic(out)
	return out, verdictSend
}

func (m *VP8Munger) notePic(out uint64) {
	if int64(out-m.lastPic) > 0 {
		m.lastPic = out
	}
}

// tl0 maps TL0PICIDX. Base-layer frames are never dropped for temporal scalability, so a
// run needs only an offset: the first base frame of a run follows the last one sent, and
// an upper-layer frame (which names the base frame it follows) starting a run names the
// last one sent.
func (m *VP8Munger) tl0(d *VP8Descriptor) uint8 {
	if !m.tl0Run {
		m.tl0Run = true
		next := m.lastTL0 + 1
		if d.T && d.TID > 0 {
			next = m.lastTL0
		}
		m.tl0Off = next - d.TL0PICIDX
	}
	v := d.TL0PICIDX + m.tl0Off
	if int8(v-m.lastTL0) > 0 {
		m.lastTL0 = v
	}
	return v
}

// key maps the 5-bit KEYIDX: a run starts at the next index (it starts at a key frame).
func (m *VP8Munger) key(k uint8) uint8 {
	if !m.keyRun {
		m.keyRun = true
		m.keyOff = (m.lastKey + 1 - k) & 0x1f
	}
	v := (k + m.keyOff) & 0x1f
	if d := (v - m.lastKey) & 0x1f; d != 0 && d < 16 {
		m.lastKey = v
	}
	return v
}
