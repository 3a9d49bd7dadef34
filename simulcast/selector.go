package simulcast

// Decision is the selector's verdict on one packet.
type Decision struct {
	Forward bool
	Seq     uint16 // rewritten sequence number
	TS      uint32 // rewritten timestamp
	// Switched is set on the first packet forwarded from a new layer.
	Switched bool
	// WantKeyframe names a layer the selector is waiting on a keyframe from, or NoLayer.
	WantKeyframe int8
	// Dropped is set on a packet of the current layer that is not forwarded: its frame is
	// above the temporal cap, or it came too late to place.
	Dropped bool
	// Hole is set with Dropped when the packet's output number was already reserved (it
	// was late, and later packets went out before it) so the subscriber sees a gap at Seq.
	// Seq and TS are valid then; a caller may fill the gap with a padding-only packet, or
	// leave it (it looks like one lost packet).
	Hole bool
	// VP8 rewrites the payload descriptor of a forwarded VP8 packet (VP8.Apply); inactive
	// for other codecs.
	VP8 VP8Rewrite
}

// Selector decides, per down track, which received packets go out and with which sequence
// number, timestamp and (VP8) picture numbering. It starts and switches spatial layers only
// at keyframes (when the codec allows detecting them), drops temporal layers above a cap a
// frame at a time, and keeps what the subscriber sees continuous: a switch continues from
// the last number sent, and packets dropped on purpose take no sequence number or picture
// id, so the decoder never sees a gap it would treat as loss (RFC 3550 section 5.1, RFC
// 7741 section 4.2). Losses before the SFU stay visible, so they can be repaired.
//
// A Selector is not safe for concurrent use; its owner serialises calls.
type Selector struct {
	clockRate    uint32
	needKeyframe bool // wait for a keyframe to start or switch

	current, target int8
	started         bool

	tsDelta   uint32 // added (mod 2^32) to TS of the current layer
	switchSeq uint64 // first ExtSeq of the current layer after the last switch

	lastOutExt uint64 // highest extended output sequence number sent
	lastOutTS  uint32 // timestamp of that packet
	lastOutNs  int64  // its arrival time
	// lastOutOpen: the packet with the highest output number did not end its frame, so a
	// number taken now would land inside the frame.
	lastOutOpen bool
	// newestTS is the output timestamp of the newest packet of the run seen so far
	// (forwarded, dropped, or with packets before it still on their way).
	newestTS uint32

	temporal temporalFilter
	seq      seqMap
	vp8      VP8Munger
}

// NewSelector returns a selector for a stream with the given RTP clock rate. When
// needKeyframe is false (audio, or codecs whose keyframes cannot be detected) it starts on
// any packet. initSeq and initTS seed the output numbering (random per RFC 3550); the VP8
// picture id, TL0PICIDX and KEYIDX seeds are derived from them.
func NewSelector(clockRate uint32, needKeyframe bool, initSeq uint16, initTS uint32) *Selector {
	s := &Selector{}
	s.Reset(clockRate, needKeyframe, initSeq, initTS)
	return s
}

// Reset reinitialises the selector in place. The temporal cap goes back to MaxTemporal.
func (s *Selector) Reset(clockRate uint32, needKeyframe bool, initSeq uint16, initTS uint32) {
	if clockRate == 0 {
		clockRate = 90000
	}
	*s = Selector{
		clockRate:    clockRate,
		needKeyframe: needKeyframe,
		current:      NoLayer,
		target:       LayerQ,
		lastOutExt:   uint64(initSeq) - 1 + 1<<16,
		lastOutTS:    initTS,
	}
	s.temporal.max = MaxTemporal
	s.temporal.cur = MaxTemporal
	s.vp8.Reset(uint16(initTS>>8)&0x7fff, uint8(initTS), uint8(initTS>>24))
}

// SetTarget sets the layer to forward. The switch happens at the target's next keyframe.
func (s *Selector) SetTarget(layer int8) { s.target = layer }

// Target is the layer being aimed for.
func (s *Selector) Target() int8 { return s.target }

// Current is the layer being forwarded, or NoLayer before the first packet.
func (s *Selector) Current() int8 {
	if !s.started {
		return NoLayer
	}
	return s.current
}

// Resync stops forwarding until the target layer's next keyframe (any packet of it, when
// the selector does not wait for keyframes), as after a pause. Numbering then continues
// from the last packet sent, as at a switch: the subscriber sees a gap in time, never a
// gap in sequence numbers or picture ids. Current reports NoLayer meanwhile.
func (s *Selector) Resync() {
	if s.started {
		s.current = NoLayer
	}
}

// SetMaxTemporal caps the temporal layer forwarded (0 is the base layer only; MaxTemporal
// or more is everything). Lowering takes effect at the next frame; raising takes effect one
// layer at a time at layer sync frames, or at once at a keyframe (see temporalFilter).
func (s *Selector) SetMaxTemporal(tid uint8) { s.temporal.max = min(tid, MaxTemporal) }

// MaxTemporal is the temporal cap.
func (s *Selector) MaxTemporal() uint8 { return s.temporal.max }

// CurrentTemporal is the highest temporal layer being forwarded now; it trails the cap
// upwards until the stream offers a place to switch.
func (s *Selector) CurrentTemporal() uint8 { return s.temporal.cur }

// Select decides what to do with p and fills d.
func (s *Selector) Select(p *Packet, d *Decision) {
	*d = Decision{WantKeyframe: NoLayer}
	if p.Layer == s.target && (!s.started || s.current != s.target) {
		if s.needKeyframe && !p.Keyframe {
			d.WantKeyframe = s.target
			if !s.started || p.Layer != s.current {
				return
			}
		} else {
			s.switchTo(p)
			d.Switched = true
		}
	}
	if !s.started || p.Layer != s.current || p.ExtSeq < s.switchSeq {
		return
	}
	if !s.seq.late(p.ExtSeq) {
		s.newestTS = p.TS + s.tsDelta
	}
	fwd := s.temporal.forward(p)
	if p.VP8.Len > 0 {
		r, ok := s.vp8.Munge(&p.VP8, FrameContext{Switched: d.Switched, Dropped: !fwd, Late: s.seq.late(p.ExtSeq)})
		fwd = ok
		d.VP8 = r
	} else if d.Switched {
		s.vp8.munge(&p.VP8, FrameContext{Switched: true}) // the next VP8 packet starts a run
	}
	outExt, res := s.seq.mapSeq(p.ExtSeq, fwd)
	switch res {
	case seqDrop:
		d.Dropped = true
		d.VP8 = VP8Rewrite{}
		return
	case seqHole:
		d.Dropped = true
		d.Hole = true
		d.Seq = uint16(outExt)
		d.TS = p.TS + s.tsDelta
		d.VP8 = VP8Rewrite{}
		return
	}
	d.Forward = true
	d.Seq = uint16(outExt)
	d.TS = p.TS + s.tsDelta
	if outExt > s.lastOutExt {
		s.lastOutExt = outExt
		s.lastOutTS = d.TS
		s.lastOutNs = p.ArrivalNs
		s.lastOutOpen = !p.Marker && !p.Padding
	}
}

// LastSent returns the timestamp of the packet with the highest output number and when it
// arrived (its ArrivalNs); ok is false before the first packet.
func (s *Selector) LastSent() (ts uint32, arrivalNs int64, ok bool) {
	return s.lastOutTS, s.lastOutNs, s.started
}

// ReservePadding takes n output sequence numbers for padding-only packets (bandwidth
// probes) and returns the first, with the timestamp they carry (the last one sent). The
// numbers come after every number already sent or held for a packet still expected, and
// media sent later continues after them, so the subscriber sees padding that fills no
// gap and repeats nothing: SRTP replay protection accepts it, and its transport-wide
// feedback reports it. Padding goes only between frames (never inside one, where a
// receiver would see the frame's packets split); ok is false while a frame is open.
func (s *Selector) ReservePadding(n int) (first uint16, ts uint32, ok bool) {
	if n <= 0 {
		return 0, 0, false
	}
	inRun := s.started && s.current != NoLayer
	if inRun && s.lastOutOpen {
		return 0, 0, false
	}
	next := s.lastOutExt + 1
	ts = s.lastOutTS
	if inRun {
		held := s.seq.nextOut()
		next = max(next, held)
		s.seq.delta += next + uint64(n) - held // the run's next packet follows the padding
		if int32(s.newestTS-ts) > 0 {
			// Numbers held for late packets come before the padding: it carries the
			// newest timestamp, so timestamps never go back in sequence order.
			ts = s.newestTS
		}
	}
	s.lastOutExt = next + uint64(n) - 1
	s.lastOutTS = ts
	return uint16(next), ts, true
}

// switchTo makes p's layer current, continuing numbering from the last packet sent.
func (s *Selector) switchTo(p *Packet) {
	// The new stream's timestamps are unrelated to the old one's; advance by the wall-clock
	// time since the last packet sent (at least one tick) so timestamps stay monotonic.
	adv := uint32(1)
	if s.started && p.ArrivalNs > s.lastOutNs {
		if t := uint32(uint64(p.ArrivalNs-s.lastOutNs) * uint64(s.clockRate) / 1e9); t > 0 {
			adv = t
		}
	}
	nextTS := s.lastOutTS + adv
	if !s.started {
		nextTS = s.lastOutTS
	}
	s.seq.rebase(p.ExtSeq, s.lastOutExt+1)
	s.tsDelta = nextTS - p.TS
	s.newestTS = nextTS
	s.switchSeq = p.ExtSeq
	s.current = p.Layer
	s.started = true
	s.temporal.restart()
}
