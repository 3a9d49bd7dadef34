package synth

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/pion/rtp"
)

// H.264 NAL unit types this package writes and reads (RFC 6184 section 5.2; ITU-T H.264
// table 7-1).
const (
	h264NonIDR = 1
	h264IDR    = 5
	h264SPS    = 7
	h264PPS    = 8
	h264STAPA  = 24
	h264FUA    = 28

	h264ClockRate = 90000
)

// H264Fmtp is the fmtp line of the H.264 this package makes: constrained baseline, level 3.1,
// packetization mode 1 (STAP-A and FU-A allowed), as browsers offer it.
const H264Fmtp = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"

// Fixed parameter sets for constrained baseline level 3.1 (profile_idc 66, constraint flags
// 0xe0, level_idc 31). Nothing decodes synthetic slices, so only their NAL headers and
// profile bytes need to look right to the SFU and to packet inspectors.
var (
	h264SPSBytes = []byte{0x67, 0x42, 0xe0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xe8, 0x06, 0xd0, 0xa1, 0x35}
	h264PPSBytes = []byte{0x68, 0xce, 0x06, 0xe2}
)

// H264Config shapes a synthetic H.264 stream. It has the VP8Config fields that make sense
// for H.264 (no temporal layers); zero values take the same defaults.
type H264Config struct {
	FPS              int
	Bitrate          int
	KeyframeInterval time.Duration
	KeyframeFactor   int
	Width, Height    int
	MaxPayloadSize   int
	Layer            uint8
	PayloadType      uint8 // default 102
}

func (c H264Config) vp8() VP8Config {
	return VP8Config{FPS: c.FPS, Bitrate: c.Bitrate, KeyframeInterval: c.KeyframeInterval,
		KeyframeFactor: c.KeyframeFactor, Width: c.Width, Height: c.Height,
		MaxPayloadSize: c.MaxPayloadSize, Layer: c.Layer, PayloadType: c.PayloadType}
}

func (c H264Config) withDefaults() H264Config {
	if c.PayloadType == 0 {
		c.PayloadType = 102
	}
	v := c.vp8().withDefaults()
	return H264Config{FPS: v.FPS, Bitrate: v.Bitrate, KeyframeInterval: v.KeyframeInterval,
		KeyframeFactor: v.KeyframeFactor, Width: v.Width, Height: v.Height,
		MaxPayloadSize: v.MaxPayloadSize, Layer: v.Layer, PayloadType: v.PayloadType}
}

// Validate checks the config after defaults are applied.
func (c H264Config) Validate() error { return c.withDefaults().vp8().Validate() }

// H264Stream generates and packetizes synthetic H.264 access units (RFC 6184, packetization
// mode 1). A key frame is a STAP-A packet carrying SPS and PPS followed by an IDR slice; a
// delta frame is a non-IDR slice. A slice that does not fit one packet goes as FU-A fragments.
// The slice's bytes after its NAL header are the synthetic frame (header and pattern).
//
// Like VP8Stream it is pure and not safe for concurrent use, and the packets NextFrame returns
// stay valid until the next call.
type H264Stream struct {
	cfg      H264Config
	sizer    *VP8Stream // frame sizes and key frame schedule are the same as VP8's
	clock    captureClock
	seq      uint16
	frameNum uint32
	frames   uint64

	nal   []byte       // the slice being packetized
	arena []byte       // packet payloads
	pkts  []rtp.Packet // reused packet structs
}

// NewH264Stream returns a stream with random initial sequence number and timestamp.
func NewH264Stream(cfg H264Config) (*H264Stream, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	sizer, err := NewVP8Stream(cfg.vp8())
	if err != nil {
		return nil, err
	}
	return &H264Stream{cfg: cfg, sizer: sizer, clock: captureClock{tsBase: rand.Uint32()}, seq: uint16(rand.Uint32())}, nil
}

// Config returns the stream's configuration with defaults applied.
func (s *H264Stream) Config() H264Config { return s.cfg }

// SetBitrate changes the target bitrate from the next frame on.
func (s *H264Stream) SetBitrate(bps int) {
	s.sizer.SetBitrate(bps)
	s.cfg.Bitrate = s.sizer.cfg.Bitrate
}

// SetNextFrameNumber sets the number the next frame carries (simulcast layers share numbers).
func (s *H264Stream) SetNextFrameNumber(n uint32) { s.frameNum = n }

// NeedsKeyframe reports whether a frame captured at now is due to be a periodic key frame (or
// is the first frame).
func (s *H264Stream) NeedsKeyframe(now time.Time) bool {
	return s.clock.keyDue(now, s.cfg.KeyframeInterval)
}

// NextFrame makes the access unit captured at now, an IDR if key is set or one is due, stamps
// sendTime into it and packetizes it. The packets share a timestamp; the last has the marker
// bit set (RFC 6184 section 5.1).
func (s *H264Stream) NextFrame(now, sendTime time.Time, key bool) ([]rtp.Packet, FrameHeader) {
	key = key || s.NeedsKeyframe(now)
	ts := s.clock.stamp(now, key, h264ClockRate)

	size := s.sizer.frameSize(key, s.frameNum) // the slice NAL, header byte included
	if cap(s.nal) < size {
		s.nal = make([]byte, size*2)
	}
	nal := s.nal[:size]
	nal[0] = 0x41 // nal_ref_idc 2, non-IDR slice
	if key {
		nal[0] = 0x65 // nal_ref_idc 3, IDR slice
	}
	hdr := FrameHeader{
		Kind:        KindVideo,
		Keyframe:    key,
		Layer:       s.cfg.Layer,
		FrameNumber: s.frameNum,
		SendTime:    sendTime.UnixNano(),
		Length:      uint32(size - 1),
	}
	writeFrame(nal[1:], hdr)
	pkts := s.packetize(nal, key, ts)
	s.frameNum++
	s.frames++
	return pkts, hdr
}

// packetize emits the access unit: a STAP-A with SPS and PPS before an IDR, then the slice
// as one single-NAL packet or as near-equal FU-A fragments.
func (s *H264Stream) packetize(nal []byte, key bool, ts uint32) []rtp.Packet {
	maxPayload := s.cfg.MaxPayloadSize
	body := nal[1:]
	budget := maxPayload - 2 // FU indicator and FU header
	nFU := 1
	if len(nal) > maxPayload {
		nFU = (len(body) + budget - 1) / budget
	}
	n := nFU
	stapLen := 0
	if key {
		stapLen = 1 + 2 + len(h264SPSBytes) + 2 + len(h264PPSBytes)
		n++
	}
	total := stapLen + len(nal) + 2*nFU
	if cap(s.arena) < total {
		s.arena = make([]byte, total*2)
	}
	if cap(s.pkts) < n {
		s.pkts = make([]rtp.Packet, n*2)
	}
	arena := s.arena[:total]
	pkts := s.pkts[:0]
	aoff := 0
	add := func(p []byte) {
		pkts = append(pkts, rtp.Packet{
			Header:  rtp.Header{Version: 2, PayloadType: s.cfg.PayloadType, SequenceNumber: s.seq, Timestamp: ts},
			Payload: p,
		})
		s.seq++
	}
	if key {
		p := arena[:stapLen]
		p[0] = 0x60 | h264STAPA // F=0, NRI=3 (the highest of its units)
		i := 1
		for _, u := range [][]byte{h264SPSBytes, h264PPSBytes} {
			p[i], p[i+1] = byte(len(u)>>8), byte(len(u))
			i += 2 + copy(p[i+2:], u)
		}
		aoff = stapLen
		add(p)
	}
	if nFU == 1 && len(nal) <= maxPayload {
		p := arena[aoff : aoff+len(nal)]
		copy(p, nal)
		add(p)
	} else {
		base, extra := len(body)/nFU, len(body)%nFU
		off := 0
		for i := 0; i < nFU; i++ {
			chunk := base
			if i < extra {
				chunk++
			}
			p := arena[aoff : aoff+2+chunk]
			p[0] = nal[0]&0xe0 | h264FUA
			p[1] = nal[0] & 0x1f
			if i == 0 {
				p[1] |= 0x80 // S
			}
			if i == nFU-1 {
				p[1] |= 0x40 // E
			}
			copy(p[2:], body[off:off+chunk])
			off += chunk
			aoff += len(p)
			add(p)
		}
	}
	pkts[len(pkts)-1].Marker = true
	return pkts
}

// H264PacketInfo is what one RTP packet of a synthetic H.264 stream says on its own.
type H264PacketInfo struct {
	NALType uint8 // the packet's NAL unit type: a slice type, STAP-A or FU-A
	// AccessUnitStart: the packet begins an access unit as this package packetizes them: a
	// STAP-A (which always leads an IDR), or the first packet of a non-IDR slice.
	AccessUnitStart bool
	Keyframe        bool // carries SPS or the start of an IDR slice
	// HasHeader: the synthetic frame header was found (the first packet of a slice).
	HasHeader bool
	Header    FrameHeader
}

// ParseH264Packet reads a synthetic H.264 RTP payload. On the first packet of a slice it also
// reads the synthetic header (for latency measurement).
func ParseH264Packet(payload []byte) (H264PacketInfo, error) {
	if len(payload) < 1 {
		return H264PacketInfo{}, fmt.Errorf("%w: empty H.264 payload", ErrShortPacket)
	}
	info := H264PacketInfo{NALType: payload[0] & 0x1f}
	var slice []byte // slice bytes after the NAL header, when this packet starts a slice
	switch t := info.NALType; t {
	case h264NonIDR, h264IDR:
		info.AccessUnitStart = t == h264NonIDR
		info.Keyframe = t == h264IDR
		slice = payload[1:]
	case h264STAPA:
		info.AccessUnitStart = true
		for i := 1; i+2 <= len(payload); {
			size := int(payload[i])<<8 | int(payload[i+1])
			i += 2
			if size == 0 || i+size > len(payload) {
				return info, fmt.Errorf("%w: STAP-A unit of %d bytes", ErrShortPacket, size)
			}
			if nt := payload[i] & 0x1f; nt == h264SPS || nt == h264IDR {
				info.Keyframe = true
			}
			i += size
		}
	case h264FUA:
		if len(payload) < 2 {
			return info, fmt.Errorf("%w: FU-A header missing", ErrShortPacket)
		}
		if payload[1]&0x80 != 0 {
			inner := payload[1] & 0x1f
			info.AccessUnitStart = inner == h264NonIDR
			info.Keyframe = inner == h264IDR
			slice = payload[2:]
		}
	default:
		return info, fmt.Errorf("%w: unexpected H.264 NAL type %d", ErrNotSynthetic, t)
	}
	if slice != nil {
		h, err := ParseHeader(slice)
		if err != nil {
			return info, err
		}
		info.HasHeader, info.Header = true, h
	}
	return info, nil
}
