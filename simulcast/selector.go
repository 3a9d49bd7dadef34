package simulcast

// Packet is what the selector needs to know about one received packet.
type Packet struct {
	Layer     int8
	ExtSeq    uint64 // extended (unwrapped) sequence number in its layer's stream
	TS        uint32
	Keyframe  bool  // first packet of a keyframe
	ArrivalNs int64 // monotonic arrival time
}

// Decision is the selector's verdict on one packet.
type Decision struct {
	Forward bool
	Seq     uint16 // rewritten sequence number
	TS      uint32 // rewritten timestamp
	// Switched is set on the first packet forwarded from a new layer.
	Switched bool
	// WantKeyframe names a layer the selector is waiting on a keyframe from, or NoLayer.
	WantKeyframe int8
}

// Selector decides, per down track, which received packets go out and with which sequence
// number and timestamp. It starts and switches layers only at keyframes (when the codec
// allows detecting them), and keeps output sequence numbers and timestamps continuous and
// monotonic across switches: a switch continues from the last number sent, so the decoder
// never sees a gap it would treat as loss (RFC 3550 section 5.1).
type Selector struct {
	clockRate    uint32
	needKeyframe bool // wait for a keyframe to start or switch

	current, target int8
	started         bool

	seqDelta  uint64 // added (mod 2^64) to ExtSeq of the current layer
	tsDelta   uint32 // added (mod 2^32) to TS of the current layer
	switchSeq uint64 // first ExtSeq of the current layer after the last switch

	lastOutExt uint64 // highest extended output sequence number sent
	lastOutTS  uint32 // timestamp of that packet
	lastOutNs  int64  // its arrival time
}

// NewSelector returns a selector for a stream with the given RTP clock rate. When
// needKeyframe is false (audio, or codecs whose keyframes cannot be detected) it starts on
// any packet. initSeq and initTS seed the output numbering (random per RFC 3550).
func NewSelector(clockRate uint32, needKeyframe bool, initSeq uint16, initTS uint32) *Selector {
	s := &Selector{}
	s.Reset(clockRate, needKeyframe, initSeq, initTS)
	return s
}

// Reset reinitialises the selector in place.
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

// LastOut returns the highest output sequence number and its timestamp.
func (s *Selector) LastOut() (seq uint16, ts uint32) { return uint16(s.lastOutExt), s.lastOutTS }

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
	outExt := p.ExtSeq + s.seqDelta
	d.Forward = true
	d.Seq = uint16(outExt)
	d.TS = p.TS + s.tsDelta
	if outExt > s.lastOutExt {
		s.lastOutExt = outExt
		s.lastOutTS = d.TS
		s.lastOutNs = p.ArrivalNs
	}
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
	s.seqDelta = s.lastOutExt + 1 - p.ExtSeq
	s.tsDelta = nextTS - p.TS
	s.switchSeq = p.ExtSeq
	s.current = p.Layer
	s.started = true
}
