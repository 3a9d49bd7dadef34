package synth

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// RTPWriter takes packets; *webrtc.TrackLocalStaticRTP is one. The packet may be reused by the
// caller once WriteRTP returns.
type RTPWriter interface {
	WriteRTP(p *rtp.Packet) error
}

// SourceStats counts what a source has written.
type SourceStats struct {
	Frames      uint64 // frames (audio: packets) made
	Keyframes   uint64
	Packets     uint64
	Bytes       uint64 // RTP payload bytes
	WriteErrors uint64
	LastFrame   uint32 // number of the last frame made
}

// counters are a source's statistics, written by its goroutine and read by anyone.
type counters struct {
	frames, keyframes, packets, bytes, writeErrors atomic.Uint64
	lastFrame                                      atomic.Uint32
}

func (c *counters) snapshot() SourceStats {
	return SourceStats{
		Frames:      c.frames.Load(),
		Keyframes:   c.keyframes.Load(),
		Packets:     c.packets.Load(),
		Bytes:       c.bytes.Load(),
		WriteErrors: c.writeErrors.Load(),
		LastFrame:   c.lastFrame.Load(),
	}
}

// write sends packets to w and counts them.
func (c *counters) write(w RTPWriter, pkts []rtp.Packet, h FrameHeader) {
	c.frames.Add(1)
	if h.Keyframe {
		c.keyframes.Add(1)
	}
	c.lastFrame.Store(h.FrameNumber)
	for i := range pkts {
		if err := w.WriteRTP(&pkts[i]); err != nil {
			c.writeErrors.Add(1)
			continue
		}
		c.packets.Add(1)
		c.bytes.Add(uint64(len(pkts[i].Payload)))
	}
}

// runner owns a source's ticker goroutine.
type runner struct {
	mu      sync.Mutex // guards started and stopped
	started bool
	stopped bool
	stop    chan struct{}
	done    chan struct{}
}

func newRunner() runner {
	return runner{stop: make(chan struct{}), done: make(chan struct{})}
}

// start runs tick at once and then every interval until stop. Starting twice, or after Stop,
// does nothing.
func (r *runner) start(interval time.Duration, tick func(now time.Time)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started || r.stopped {
		return
	}
	r.started = true
	go func() {
		defer close(r.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		tick(time.Now())
		for {
			select {
			case <-r.stop:
				return
			case now := <-t.C:
				tick(now)
			}
		}
	}()
}

// halt stops the goroutine and waits for it. Safe to call more than once and before start.
func (r *runner) halt() {
	r.mu.Lock()
	started, stopped := r.started, r.stopped
	r.stopped = true
	r.mu.Unlock()
	if stopped {
		if started {
			<-r.done
		}
		return
	}
	close(r.stop)
	if started {
		<-r.done
	}
}

// VP8Source writes a synthetic VP8 stream to a track at the configured frame rate.
type VP8Source struct {
	w        RTPWriter
	stream   *VP8Stream // owned by the goroutine once started
	interval time.Duration
	keyReq   atomic.Bool
	bitrate  atomic.Int64 // requested bitrate change, 0 when none
	stats    counters
	run      runner
}

// NewVP8Source makes a source writing to w.
func NewVP8Source(w RTPWriter, cfg VP8Config) (*VP8Source, error) {
	st, err := NewVP8Stream(cfg)
	if err != nil {
		return nil, err
	}
	return &VP8Source{
		w:        w,
		stream:   st,
		interval: time.Second / time.Duration(st.cfg.FPS),
		run:      newRunner(),
	}, nil
}

// Start begins sending, with a key frame.
func (s *VP8Source) Start() { s.run.start(s.interval, s.tick) }

// Stop stops sending and waits for the goroutine to end.
func (s *VP8Source) Stop() { s.run.halt() }

// RequestKeyframe makes the next frame a key frame (call it on PLI or FIR).
func (s *VP8Source) RequestKeyframe() { s.keyReq.Store(true) }

// SetBitrate changes the target bitrate from the next frame on.
func (s *VP8Source) SetBitrate(bps int) { s.bitrate.Store(int64(bps)) }

// Stats returns the counters.
func (s *VP8Source) Stats() SourceStats { return s.stats.snapshot() }

func (s *VP8Source) tick(now time.Time) {
	if b := s.bitrate.Swap(0); b != 0 {
		s.stream.SetBitrate(int(b))
	}
	pkts, h := s.stream.NextFrame(now, time.Now(), s.keyReq.Swap(false))
	s.stats.write(s.w, pkts, h)
}

// OpusSource writes synthetic Opus packets to a track, 50 per second, each carrying the audio
// level set by SetLevel when an extension id has been given.
type OpusSource struct {
	w      RTPWriter
	stream *OpusStream
	extID  atomic.Uint32 // negotiated audio level extension id; 0: none
	level  atomic.Uint32 // RFC 6464 byte
	stats  counters
	run    runner
	one    [1]rtp.Packet // the packet being written, as a slice for counters.write
}

// NewOpusSource makes a source writing to w. It starts silent (level 127, no voice activity).
func NewOpusSource(w RTPWriter, cfg OpusConfig) (*OpusSource, error) {
	st, err := NewOpusStream(cfg)
	if err != nil {
		return nil, err
	}
	s := &OpusSource{w: w, stream: st, run: newRunner()}
	s.level.Store(uint32(EncodeAudioLevel(SilenceLevel, false)))
	return s, nil
}

// SetAudioLevelExtensionID sets the negotiated id of the RFC 6464 extension (see
// client.LocalTrack.HeaderExtensionID); 0 stops writing levels.
func (s *OpusSource) SetAudioLevelExtensionID(id int) {
	if id < 0 || id > 14 {
		id = 0
	}
	s.extID.Store(uint32(id))
}

// SetLevel sets the level written from the next packet on: dBov is the attenuation below full
// scale, 0 (loudest) .. 127 (silence); voice is the V bit.
func (s *OpusSource) SetLevel(dBov int, voice bool) {
	s.level.Store(uint32(EncodeAudioLevel(dBov, voice)))
}

// Start begins sending.
func (s *OpusSource) Start() { s.run.start(OpusPacketInterval, s.tick) }

// Stop stops sending and waits for the goroutine to end.
func (s *OpusSource) Stop() { s.run.halt() }

// Stats returns the counters.
func (s *OpusSource) Stats() SourceStats { return s.stats.snapshot() }

func (s *OpusSource) tick(time.Time) {
	fn := s.stream.frameNum
	s.one[0] = *s.stream.NextPacket(time.Now(), uint8(s.extID.Load()), byte(s.level.Load()))
	s.stats.write(s.w, s.one[:], FrameHeader{FrameNumber: fn})
}
