package simulcast

// Packet is what the selector needs to know about one received packet. The receiver
// fills it once per packet, however many down tracks see it.
type Packet struct {
	Layer     int8
	ExtSeq    uint64 // extended (unwrapped) sequence number in its layer's stream
	TS        uint32
	Keyframe  bool  // first packet of a keyframe
	Marker    bool  // RTP marker: the last packet of a frame (video)
	ArrivalNs int64 // monotonic arrival time

	// Filled by ParsePayload; zero for audio and for packets nobody parsed, which the
	// selector then treats as temporal layer 0 with nothing to rewrite.

	// TemporalID is the packet's temporal layer (VP8 TID; 0 when absent).
	TemporalID uint8
	// LayerSync is the VP8 Y bit: the frame depends only on the base layer (TL0), so a
	// subscriber may start receiving layer TemporalID here (RFC 7741 section 4.2).
	LayerSync bool
	// Padding marks a packet without payload (padding only, e.g. a bandwidth probe): it
	// belongs to no frame.
	Padding bool
	// VP8 is the parsed VP8 payload descriptor; VP8.Len is 0 for other codecs and for a
	// VP8 payload whose descriptor is malformed (such a packet is forwarded unchanged).
	VP8 VP8Descriptor
}

// ParsePayload fills the payload-derived fields of p (Keyframe, TemporalID, LayerSync,
// Padding, VP8) from an RTP payload of codec c. It never allocates and never panics on
// hostile input.
func (p *Packet) ParsePayload(c Codec, payload []byte) {
	p.TemporalID = 0
	p.LayerSync = false
	p.Padding = len(payload) == 0
	p.VP8 = VP8Descriptor{}
	p.Keyframe = false
	if p.Padding {
		return
	}
	if c != CodecVP8 {
		p.Keyframe = IsKeyframe(c, payload)
		return
	}
	if p.VP8.Unmarshal(payload) != nil {
		return
	}
	p.Keyframe = p.VP8.Keyframe(payload)
	if p.VP8.T {
		p.TemporalID = p.VP8.TID
		p.LayerSync = p.VP8.Y
	}
}
