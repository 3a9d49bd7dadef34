package simulcast

// VP8Descriptor is the VP8 RTP payload descriptor (RFC 7741 section 4.2):
//
//	      0 1 2 3 4 5 6 7
//	     +-+-+-+-+-+-+-+-+
//	     |X|R|N|S|R| PID | (REQUIRED)
//	     +-+-+-+-+-+-+-+-+
//	X:   |I|L|T|K| RSV   | (OPTIONAL)
//	     +-+-+-+-+-+-+-+-+
//	I:   |M| PictureID   | (OPTIONAL; M=1: 15 bits over two bytes)
//	     +-+-+-+-+-+-+-+-+
//	     |   PictureID   |
//	     +-+-+-+-+-+-+-+-+
//	L:   |   TL0PICIDX   | (OPTIONAL)
//	     +-+-+-+-+-+-+-+-+
//	T/K: |TID|Y| KEYIDX  | (OPTIONAL)
//	     +-+-+-+-+-+-+-+-+
//
// Fields whose presence bit is clear are zero.
type VP8Descriptor struct {
	// Len is the descriptor's size in bytes: the VP8 payload header (on the first packet of
	// a frame) or partition data starts at payload[Len]. Zero when nothing was parsed.
	Len int

	X   bool  // extended control bits present
	N   bool  // non-reference frame: may be discarded without affecting any other frame
	S   bool  // start of a VP8 partition
	PID uint8 // partition index

	I bool // picture id present
	L bool // TL0PICIDX present
	T bool // TID (and Y) present
	K bool // KEYIDX present

	M         bool   // the picture id has 15 bits (else 7)
	PictureID uint16 // 7 or 15 bits
	TL0PICIDX uint8  // running index of temporal base layer (TID 0) frames
	TID       uint8  // temporal layer, 0..3
	Y         bool   // layer sync: the frame depends only on the base layer (TL0) frame
	KEYIDX    uint8  // 5-bit running index of key frames (temporal key frame index)
}

// Unmarshal parses the descriptor at the start of a VP8 RTP payload. It never reads past
// p and never allocates; on error d is zeroed.
func (d *VP8Descriptor) Unmarshal(p []byte) error {
	*d = VP8Descriptor{}
	if len(p) < 1 {
		return ErrVP8Truncated
	}
	b := p[0]
	x := b&0x80 != 0
	n := 1
	var desc VP8Descriptor
	desc.X = x
	desc.N = b&0x20 != 0
	desc.S = b&0x10 != 0
	desc.PID = b & 0x07
	if x {
		if len(p) < 2 {
			return ErrVP8Truncated
		}
		e := p[1]
		n = 2
		desc.I = e&0x80 != 0
		desc.L = e&0x40 != 0
		desc.T = e&0x20 != 0
		desc.K = e&0x10 != 0
		if desc.I {
			if len(p) < n+1 {
				return ErrVP8Truncated
			}
			if p[n]&0x80 != 0 {
				if len(p) < n+2 {
					return ErrVP8Truncated
				}
				desc.M = true
				desc.PictureID = uint16(p[n]&0x7f)<<8 | uint16(p[n+1])
				n += 2
			} else {
				desc.PictureID = uint16(p[n] & 0x7f)
				n++
			}
		}
		if desc.L {
			if len(p) < n+1 {
				return ErrVP8Truncated
			}
			desc.TL0PICIDX = p[n]
			n++
		}
		// One octet carries TID, Y and KEYIDX; it is present when either T or K is set,
		// and each part is meaningful only under its own bit.
		if desc.T || desc.K {
			if len(p) < n+1 {
				return ErrVP8Truncated
			}
			t := p[n]
			if desc.T {
				desc.TID = t >> 6
				desc.Y = t&0x20 != 0
			}
			if desc.K {
				desc.KEYIDX = t & 0x1f
			}
			n++
		}
	}
	desc.Len = n
	*d = desc
	return nil
}

// FrameStart reports whether the packet begins a frame: the start of partition 0 (RFC 7741
// section 4.2, S=1 and PID=0).
func (d *VP8Descriptor) FrameStart() bool { return d.Len > 0 && d.S && d.PID == 0 }

// Keyframe reports whether payload, whose descriptor d is, is the first packet of a key
// frame: the frame starts here and the P bit of the VP8 payload header (the inverse key
// frame flag, RFC 7741 section 4.3, RFC 6386 section 9.1) is clear.
func (d *VP8Descriptor) Keyframe(payload []byte) bool {
	return d.FrameStart() && len(payload) > d.Len && payload[d.Len]&0x01 == 0
}

// VP8TemporalID is the temporal layer of a VP8 packet: the TID field, 0 when T is clear or
// the descriptor is malformed.
func VP8TemporalID(payload []byte) uint8 {
	var d VP8Descriptor
	if d.Unmarshal(payload) != nil {
		return 0
	}
	return d.TID
}

// VP8Rewrite is what a forwarded VP8 packet's payload descriptor becomes for one
// subscriber: new PictureID, TL0PICIDX and KEYIDX written where the input descriptor has
// them, in the input's own widths (a 7-bit picture id stays 7 bits, the M bit is kept), so
// the payload keeps its length. The zero value leaves a payload unchanged.
type VP8Rewrite struct {
	PictureID uint16 // 15 bits, or 7 when the input's picture id has 7
	TL0PICIDX uint8
	KEYIDX    uint8 // 5 bits

	size uint8 // input descriptor length; 0: no rewrite
	pic  uint8 // offset of the picture id, 0 when absent (offset 0 is never a field)
	tl0  uint8 // offset of TL0PICIDX, 0 when absent
	key  uint8 // offset of the TID/Y/KEYIDX octet when K is set, else 0
	long bool  // 15-bit picture id
}

// Active reports whether the rewrite changes anything.
func (r *VP8Rewrite) Active() bool { return r.size != 0 }

// layout records where d's renumbered fields sit.
func (r *VP8Rewrite) layout(d *VP8Descriptor) {
	r.size = uint8(d.Len)
	off := uint8(2)
	if d.X && d.I {
		r.pic = off
		r.long = d.M
		off++
		if d.M {
			off++
		}
	}
	if d.X && d.L {
		r.tl0 = off
		off++
	}
	if d.X && d.K {
		r.key = off
	}
	if r.pic == 0 && r.tl0 == 0 && r.key == 0 {
		*r = VP8Rewrite{} // nothing to renumber
	}
}

// Apply copies the payload in into out with the descriptor rewritten and returns the
// bytes written (len(in)). in must be the payload whose descriptor the rewrite was made
// from; out must hold len(in) bytes and may be in itself when the caller owns in. An
// inactive rewrite copies in unchanged.
func (r *VP8Rewrite) Apply(in, out []byte) (int, error) {
	if len(out) < len(in) {
		return 0, ErrShortBuffer
	}
	if r.size == 0 {
		return copy(out, in), nil
	}
	if len(in) < int(r.size) {
		return 0, ErrVP8Truncated
	}
	n := copy(out, in)
	if r.pic != 0 {
		if r.long {
			out[r.pic] = 0x80 | byte(r.PictureID>>8)&0x7f
			out[r.pic+1] = byte(r.PictureID)
		} else {
			out[r.pic] = byte(r.PictureID) & 0x7f
		}
	}
	if r.tl0 != 0 {
		out[r.tl0] = r.TL0PICIDX
	}
	if r.key != 0 {
		out[r.key] = out[r.key]&0xe0 | r.KEYIDX&0x1f
	}
	return n, nil
}
