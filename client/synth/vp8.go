package synth

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/pion/rtp"
)

// VP8Config shapes a synthetic VP8 stream. Zero values take the defaults.
type VP8Config struct {
	FPS              int           // frames per second (default 30)
	Bitrate          int           // target bits per second, key frames included (default 500 kbit/s)
	KeyframeInterval time.Duration // periodic key frames (default 3 s); negative: only on request
	KeyframeFactor   int           // key frame size over a delta frame's (default 5)
	Width, Height    int           // written into key frame headers (default 640x360)
	TemporalLayers   int           // 1..3 (default 1); 3 uses the usual 0,2,1,2 pattern
	MaxPayloadSize   int           // RTP payload bytes per packet, descriptor included (default 1200)
	Layer            uint8         // simulcast layer index written into the frame header (0..15)
	PayloadType      uint8         // default 96; pion's tracks rewrite it to the negotiated one
}

// Defaults for VP8Config.
const (
	DefaultFPS              = 30
	DefaultVideoBitrate     = 500_000
	DefaultKeyframeInterval = 3 * time.Second
	DefaultKeyframeFactor   = 5
	DefaultMaxPayloadSize   = 1200
	vp8ClockRate            = 90000
)

// withDefaults returns the config with zero fields filled in.
func (c VP8Config) withDefaults() VP8Config {
	if c.FPS == 0 {
		c.FPS = DefaultFPS
	}
	if c.Bitrate == 0 {
		c.Bitrate = DefaultVideoBitrate
	}
	if c.KeyframeInterval == 0 {
		c.KeyframeInterval = DefaultKeyframeInterval
	}
	if c.KeyframeFactor == 0 {
		c.KeyframeFactor = DefaultKeyframeFactor
	}
	if c.Width == 0 {
		c.Width = 640
	}
	if c.Height == 0 {
		c.Height = 360
	}
	if c.TemporalLayers == 0 {
		c.TemporalLayers = 1
	}
	if c.MaxPayloadSize == 0 {
		c.MaxPayloadSize = DefaultMaxPayloadSize
	}
	if c.PayloadType == 0 {
		c.PayloadType = 96
	}
	return c
}

// Validate checks the config after defaults are applied.
func (c VP8Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.FPS < 1 || c.FPS > 240:
		return fmt.Errorf("%w: fps %d out of 1..240", ErrBadConfig, c.FPS)
	case c.Bitrate < 1000:
		return fmt.Errorf("%w: bitrate %d below 1000 bit/s", ErrBadConfig, c.Bitrate)
	case c.KeyframeFactor < 1:
		return fmt.Errorf("%w: keyframe factor %d below 1", ErrBadConfig, c.KeyframeFactor)
	case c.TemporalLayers < 1 || c.TemporalLayers > 3:
		return fmt.Errorf("%w: %d temporal layers, want 1..3", ErrBadConfig, c.TemporalLayers)
	case c.MaxPayloadSize < 100 || c.MaxPayloadSize > 65000:
		return fmt.Errorf("%w: max payload %d out of 100..65000", ErrBadConfig, c.MaxPayloadSize)
	case c.Width < 1 || c.Width > 16383 || c.Height < 1 || c.Height > 16383:
		return fmt.Errorf("%w: size %dx%d out of range", ErrBadConfig, c.Width, c.Height)
	case c.Layer > 15:
		return fmt.Errorf("%w: layer %d above 15", ErrBadConfig, c.Layer)
	}
	return nil
}

// temporalPatterns are the temporal layer ids of successive frames, by layer count.
var temporalPatterns = [4][]uint8{nil, {0}, {0, 1}, {0, 2, 1, 2}}

// vp8DescSize is the size of the descriptors this package writes: X, a 15-bit picture id,
// TL0PICIDX and the TID byte.
const vp8DescSize = 6

// VP8Stream generates and packetizes synthetic VP8 frames. It is pure: no goroutines, the time
// is an argument, and it is not safe for concurrent use. Packets returned by NextFrame stay
// valid until the next call (their buffers are reused, so steady state allocates nothing).
type VP8Stream struct {
	cfg VP8Config

	clock     captureClock
	seq       uint16
	pictureID uint16 // 15 bits
	tl0       uint8
	tIdx      int    // position in the temporal pattern
	frameNum  uint32 // carried by the next frame
	frames    uint64 // frames made so far

	deltaSize, keySize int

	frame []byte       // the frame being packetized
	arena []byte       // packet payloads
	pkts  []rtp.Packet // reused packet structs
}

// NewVP8Stream returns a stream with random initial sequence number, timestamp and picture id,
// as a real sender would have.
func NewVP8Stream(cfg VP8Config) (*VP8Stream, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &VP8Stream{
		cfg:       cfg,
		clock:     captureClock{tsBase: rand.Uint32()},
		seq:       uint16(rand.Uint32()),
		pictureID: uint16(rand.Uint32()) & 0x7fff,
		tl0:       uint8(rand.Uint32()),
	}
	s.sizeFrames()
	return s, nil
}

// Config returns the stream's configuration with defaults applied.
func (s *VP8Stream) Config() VP8Config { return s.cfg }

// SetBitrate changes the target bitrate from the next frame on.
func (s *VP8Stream) SetBitrate(bps int) {
	if bps < 1000 {
		bps = 1000
	}
	s.cfg.Bitrate = bps
	s.sizeFrames()
}

// SetNextFrameNumber sets the number the next frame carries (simulcast layers share numbers).
func (s *VP8Stream) SetNextFrameNumber(n uint32) { s.frameNum = n }

// sizeFrames splits the bitrate between key and delta frames so that one key frame interval
// averages to the target: key = factor * delta, and interval*fps frames hold one key frame.
func (s *VP8Stream) sizeFrames() {
	avg := float64(s.cfg.Bitrate) / 8 / float64(s.cfg.FPS)
	delta := avg
	if s.cfg.KeyframeInterval > 0 {
		n := s.cfg.KeyframeInterval.Seconds() * float64(s.cfg.FPS)
		if n < 1 {
			n = 1
		}
		delta = avg * n / (float64(s.cfg.KeyframeFactor) + n - 1)
	}
	s.deltaSize = int(delta)
	s.keySize = int(delta) * s.cfg.KeyframeFactor
}

// minFrameSize holds the VP8 key frame header, the synthetic header and a little body.
const minFrameSize = vp8KeyHeaderSize + HeaderSize + 16

// frameSize picks a frame's size: the nominal size with a deterministic +-10% wobble, as a
// real encoder's output varies with content.
func (s *VP8Stream) frameSize(key bool, n uint32) int {
	size := s.deltaSize
	if key {
		size = s.keySize
	}
	wobble := int(patternSeed(KindVideo, s.cfg.Layer, n)%21) - 10 // -10..10 percent
	size += size * wobble / 100
	if size < minFrameSize {
		size = minFrameSize
	}
	return size
}

// NeedsKeyframe reports whether a frame captured at now is due to be a periodic key frame (or
// is the first frame).
func (s *VP8Stream) NeedsKeyframe(now time.Time) bool {
	return s.clock.keyDue(now, s.cfg.KeyframeInterval)
}

// NextFrame makes the frame captured at now, a key frame if key is set or one is due, stamps
// sendTime into it and packetizes it. The returned packets share a timestamp; the last has
// the marker bit set.
func (s *VP8Stream) NextFrame(now, sendTime time.Time, key bool) ([]rtp.Packet, FrameHeader) {
	key = key || s.NeedsKeyframe(now)
	ts := s.clock.stamp(now, key, vp8ClockRate)

	// Temporal layer: a key frame restarts the pattern at the base layer.
	pattern := temporalPatterns[s.cfg.TemporalLayers]
	if key {
		s.tIdx = 0
	}
	tid := pattern[s.tIdx%len(pattern)]
	idx := s.tIdx % len(pattern)
	s.tIdx++
	if tid == 0 && s.frames > 0 {
		s.tl0++ // TL0PICIDX counts base-layer frames (RFC 7741 section 4.2)
	}

	size := s.frameSize(key, s.frameNum)
	if cap(s.frame) < size {
		s.frame = make([]byte, size*2)
	}
	frame := s.frame[:size]
	vh := putVP8FrameHeader(frame, key, (size-HeaderSize)/4, s.cfg.Width, s.cfg.Height)
	hdr := FrameHeader{
		Kind:        KindVideo,
		Keyframe:    key,
		Layer:       s.cfg.Layer,
		FrameNumber: s.frameNum,
		SendTime:    sendTime.UnixNano(),
		Length:      uint32(size - vh),
	}
	writeFrame(frame[vh:], hdr)

	desc := VP8Descriptor{
		Start:        true,
		HasPictureID: true,
		LongPicID:    true,
		PictureID:    s.pictureID,
		HasTL0PICIDX: true,
		TL0PICIDX:    s.tl0,
		HasTID:       true,
		TID:          tid,
		// In 0,2,1,2 the first two upper-layer frames after a base frame refer only to it;
		// in 0,1 the single upper frame does.
		LayerSync:    tid > 0 && idx <= 2,
		NonReference: s.cfg.TemporalLayers > 1 && int(tid) == s.cfg.TemporalLayers-1,
	}
	pkts := s.packetize(frame, &desc, ts)

	s.pictureID = (s.pictureID + 1) & 0x7fff
	s.frameNum++
	s.frames++
	return pkts, hdr
}

// packetize splits frame into packets of at most MaxPayloadSize bytes, in near-equal chunks
// as libwebrtc does (so no runt last packet), each prefixed with the descriptor.
func (s *VP8Stream) packetize(frame []byte, desc *VP8Descriptor, ts uint32) []rtp.Packet {
	budget := s.cfg.MaxPayloadSize - vp8DescSize
	n := (len(frame) + budget - 1) / budget
	total := len(frame) + n*vp8DescSize
	if cap(s.arena) < total {
		s.arena = make([]byte, total*2)
	}
	if cap(s.pkts) < n {
		s.pkts = make([]rtp.Packet, n*2)
	}
	arena := s.arena[:total]
	pkts := s.pkts[:n]
	base, extra := len(frame)/n, len(frame)%n
	off, aoff := 0, 0
	for i := range pkts {
		chunk := base
		if i < extra {
			chunk++
		}
		d := *desc
		d.Start = i == 0
		p := arena[aoff : aoff+vp8DescSize+chunk]
		d.MarshalTo(p)
		copy(p[vp8DescSize:], frame[off:off+chunk])
		off += chunk
		aoff += len(p)
		pkts[i] = rtp.Packet{
			Header: rtp.Header{
				Version:        2,
				PayloadType:    s.cfg.PayloadType,
				SequenceNumber: s.seq,
				Timestamp:      ts,
				Marker:         i == n-1,
			},
			Payload: p,
		}
		s.seq++
	}
	return pkts
}
