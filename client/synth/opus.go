package synth

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/pion/rtp"
)

// AudioLevelURI is the RFC 6464 client-to-mixer audio level header extension.
const AudioLevelURI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

// Opus packet timing: 20 ms frames on the 48 kHz RTP clock (RFC 7587).
const (
	OpusPacketInterval = 20 * time.Millisecond
	opusClockRate      = 48000
	opusSamplesPerPkt  = opusClockRate / 50
	// opusTOC is a TOC byte (RFC 6716 section 3.1): config 15 (hybrid, fullband, 20 ms),
	// mono, one frame in the packet.
	opusTOC = 15 << 3
	// SilenceLevel is the RFC 6464 level of digital silence (-127 dBov).
	SilenceLevel = 127
)

// OpusConfig shapes a synthetic Opus stream. Zero values take the defaults.
type OpusConfig struct {
	Bitrate     int   // bits per second (default 32 kbit/s)
	PayloadType uint8 // default 111; pion's tracks rewrite it to the negotiated one
}

func (c OpusConfig) withDefaults() OpusConfig {
	if c.Bitrate == 0 {
		c.Bitrate = 32000
	}
	if c.PayloadType == 0 {
		c.PayloadType = 111
	}
	return c
}

// Validate checks the config after defaults are applied.
func (c OpusConfig) Validate() error {
	c = c.withDefaults()
	if c.Bitrate < 6000 || c.Bitrate > 510000 {
		return fmt.Errorf("%w: opus bitrate %d out of 6000..510000", ErrBadConfig, c.Bitrate)
	}
	return nil
}

// OpusStream generates Opus-shaped packets: a TOC byte, the synthetic header (the packet
// number is the frame number) and the pattern, one packet per 20 ms. When given an extension
// id it writes the RFC 6464 audio level into every packet. Pure and not safe for concurrent use;
// a returned packet is valid until the next call.
type OpusStream struct {
	cfg      OpusConfig
	seq      uint16
	ts       uint32
	frameNum uint32
	frames   uint64
	size     int
	buf      []byte
	level    [1]byte
	pkt      rtp.Packet
	exts     []rtp.Extension // reused backing for the header's extension list
}

// NewOpusStream returns a stream with random initial sequence number and timestamp.
func NewOpusStream(cfg OpusConfig) (*OpusStream, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &OpusStream{cfg: cfg, seq: uint16(rand.Uint32()), ts: rand.Uint32()}
	s.size = max(cfg.Bitrate/8/50, 1+HeaderSize+8)
	s.buf = make([]byte, s.size)
	s.exts = make([]rtp.Extension, 0, 4)
	return s, nil
}

// EncodeAudioLevel makes the RFC 6464 extension byte: V (voice activity) then the level in
// -dBov, 0 (loudest) .. 127 (silence).
func EncodeAudioLevel(dBov int, voice bool) byte {
	dBov = min(max(dBov, 0), SilenceLevel)
	b := byte(dBov)
	if voice {
		b |= 0x80
	}
	return b
}

// DecodeAudioLevel reads an RFC 6464 extension byte.
func DecodeAudioLevel(b byte) (dBov int, voice bool) { return int(b & 0x7f), b&0x80 != 0 }

// NextPacket makes the next 20 ms packet, stamped with sendTime. levelExtID is the negotiated
// id of the audio level extension (0: write none) and level its RFC 6464 byte.
func (s *OpusStream) NextPacket(sendTime time.Time, levelExtID uint8, level byte) *rtp.Packet {
	writeFrame(s.buf[1:], FrameHeader{
		Kind:        KindAudio,
		FrameNumber: s.frameNum,
		SendTime:    sendTime.UnixNano(),
		Length:      uint32(s.size - 1),
	})
	s.buf[0] = opusTOC
	s.pkt = rtp.Packet{
		Header: rtp.Header{
			Version:        2,
			PayloadType:    s.cfg.PayloadType,
			SequenceNumber: s.seq,
			Timestamp:      s.ts,
			Marker:         s.frames == 0, // first packet of a talkspurt (RFC 3551 section 4.1)
		},
		Payload: s.buf,
	}
	if levelExtID != 0 {
		s.level[0] = level
		s.pkt.Header.Extensions = s.exts[:0]
		// The one-byte form (RFC 8285 section 4.2) fits ids 1..14; SetExtension only fails
		// outside that, and then the packet simply goes without a level.
		_ = s.pkt.Header.SetExtension(levelExtID, s.level[:])
	}
	s.seq++
	s.ts += opusSamplesPerPkt
	s.frameNum++
	s.frames++
	return &s.pkt
}
