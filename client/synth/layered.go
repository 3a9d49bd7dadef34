package synth

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// FrameStream is a pure generator of packetized video frames: VP8Stream and H264Stream.
type FrameStream interface {
	NextFrame(now, sendTime time.Time, key bool) ([]rtp.Packet, FrameHeader)
	SetNextFrameNumber(n uint32)
	SetBitrate(bps int)
}

// LayeredSource drives one or more FrameStreams from one capture clock, as SimulcastSource
// does for VP8, whatever the codec: every tick makes one frame on each layer, all with the
// same capture time and frame number. It is how H.264 simulcast (and single-layer H.264) is
// sent.
type LayeredSource struct {
	layerSet
}

// layerSet is the sending loop LayeredSource and SimulcastSource share: one tick makes a frame
// on every active layer, all with the same capture time and frame number (so a receiver can
// follow a frame across layer switches).
type layerSet struct {
	layers   []*streamLayer
	interval time.Duration
	frameNum uint32 // owned by the goroutine
	run      runner
}

type streamLayer struct {
	rid     string
	w       RTPWriter
	stream  FrameStream
	active  atomic.Bool
	keyReq  atomic.Bool
	bitrate atomic.Int64
	stats   counters
}

func newStreamLayer(rid string, w RTPWriter, stream FrameStream) *streamLayer {
	sl := &streamLayer{rid: rid, w: w, stream: stream}
	sl.active.Store(true)
	return sl
}

// StreamLayer is one encoding of a LayeredSource.
type StreamLayer struct {
	RID    string // "" for a single encoding
	Writer RTPWriter
	Stream FrameStream
}

// NewLayeredSource makes a source over layers (lowest first) ticking fps times a second.
func NewLayeredSource(fps int, layers []StreamLayer) (*LayeredSource, error) {
	if fps < 1 || fps > 240 {
		return nil, fmt.Errorf("%w: fps %d out of 1..240", ErrBadConfig, fps)
	}
	if len(layers) == 0 || len(layers) > 16 {
		return nil, fmt.Errorf("%w: %d layers", ErrBadConfig, len(layers))
	}
	s := &LayeredSource{layerSet{run: newRunner(), interval: time.Second / time.Duration(fps)}}
	seen := map[string]bool{}
	for i, l := range layers {
		if seen[l.RID] || l.Writer == nil || l.Stream == nil {
			return nil, fmt.Errorf("%w: layer %d: rid %q repeated, or writer or stream missing", ErrBadConfig, i, l.RID)
		}
		seen[l.RID] = true
		s.layers = append(s.layers, newStreamLayer(l.RID, l.Writer, l.Stream))
	}
	return s, nil
}

// NewH264SimulcastSource makes a LayeredSource of H.264 streams, one per layer (lowest first),
// shaped by cfg as NewSimulcastSource shapes VP8.
func NewH264SimulcastSource(layers []SimulcastLayer, cfg H264Config) (*LayeredSource, error) {
	sl := make([]StreamLayer, len(layers))
	for i, l := range layers {
		lc := cfg
		lc.Width, lc.Height, lc.Bitrate, lc.Layer = l.Width, l.Height, l.Bitrate, uint8(i)
		st, err := NewH264Stream(lc)
		if err != nil {
			return nil, fmt.Errorf("layer %q: %w", l.RID, err)
		}
		sl[i] = StreamLayer{RID: l.RID, Writer: l.Writer, Stream: st}
	}
	return NewLayeredSource(cfg.withDefaults().FPS, sl)
}

// Start begins sending, with a key frame on every layer.
func (s *layerSet) Start() { s.run.start(s.interval, s.tick) }

// Stop stops sending and waits for the goroutine to end.
func (s *layerSet) Stop() { s.run.halt() }

// RequestKeyframe makes the next frame of layer rid a key frame; "" means every layer.
func (s *layerSet) RequestKeyframe(rid string) {
	for _, l := range s.layers {
		if rid == "" || l.rid == rid {
			l.keyReq.Store(true)
		}
	}
}

// SetLayerActive pauses or resumes a layer, as an encoder does when the SFU says nobody
// receives it (dynacast) or its bandwidth estimate drops. A resumed layer starts with a key
// frame.
func (s *layerSet) SetLayerActive(rid string, active bool) {
	for _, l := range s.layers {
		if l.rid == rid {
			if active && !l.active.Load() {
				l.keyReq.Store(true)
			}
			l.active.Store(active)
		}
	}
}

// SetBitrate changes one layer's target bitrate from its next frame on.
func (s *layerSet) SetBitrate(rid string, bps int) {
	for _, l := range s.layers {
		if l.rid == rid {
			l.bitrate.Store(int64(bps))
		}
	}
}

// Stats returns the counters of layer rid (zero for an unknown rid).
func (s *layerSet) Stats(rid string) SourceStats {
	for _, l := range s.layers {
		if l.rid == rid {
			return l.stats.snapshot()
		}
	}
	return SourceStats{}
}

func (s *layerSet) tick(now time.Time) {
	n := s.frameNum
	s.frameNum++
	for _, l := range s.layers {
		if !l.active.Load() {
			continue
		}
		if b := l.bitrate.Swap(0); b != 0 {
			l.stream.SetBitrate(int(b))
		}
		l.stream.SetNextFrameNumber(n)
		pkts, h := l.stream.NextFrame(now, time.Now(), l.keyReq.Swap(false))
		l.stats.write(l.w, pkts, h)
	}
}

// NewH264Track makes an H.264 track (constrained baseline, packetization mode 1).
func NewH264Track(id, streamID string) (*webrtc.TrackLocalStaticRTP, error) {
	return webrtc.NewTrackLocalStaticRTP(h264Capability(), id, streamID)
}

// NewH264SimulcastTracks makes one H.264 track per rid (default q, h, f), all with the same id
// and stream id.
func NewH264SimulcastTracks(id, streamID string, rids ...string) ([]*webrtc.TrackLocalStaticRTP, error) {
	if len(rids) == 0 {
		rids = []string{"q", "h", "f"}
	}
	tracks := make([]*webrtc.TrackLocalStaticRTP, 0, len(rids))
	for _, rid := range rids {
		t, err := webrtc.NewTrackLocalStaticRTP(h264Capability(), id, streamID, webrtc.WithRTPStreamID(rid))
		if err != nil {
			return nil, err
		}
		tracks = append(tracks, t)
	}
	return tracks, nil
}

func h264Capability() webrtc.RTPCodecCapability {
	return webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: h264ClockRate, SDPFmtpLine: H264Fmtp}
}
