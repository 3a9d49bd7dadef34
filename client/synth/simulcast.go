package synth

import (
	"fmt"
	"sync/atomic"
	"time"
)

// SimulcastLayer is one encoding of a simulcast source.
type SimulcastLayer struct {
	RID     string // "q", "h" or "f"
	Writer  RTPWriter
	Width   int
	Height  int
	Bitrate int // bits per second
}

// DefaultSimulcastLayers are the usual quarter, half and full layers of a 1280x720 camera at
// about 150, 500 and 1700 kbit/s, lowest first.
func DefaultSimulcastLayers(q, h, f RTPWriter) []SimulcastLayer {
	return []SimulcastLayer{
		{RID: "q", Writer: q, Width: 320, Height: 180, Bitrate: 150_000},
		{RID: "h", Writer: h, Width: 640, Height: 360, Bitrate: 500_000},
		{RID: "f", Writer: f, Width: 1280, Height: 720, Bitrate: 1_700_000},
	}
}

// SimulcastSource drives several VP8 layers from one capture clock: every tick makes one frame
// on each active layer, all with the same capture time and frame number (so a receiver can
// follow a frame across layer switches), each with its own sequence numbers, timestamps and
// picture ids as a real simulcast sender has. Periodic key frames fall on all layers at once;
// requested ones only on the layers asked for.
type SimulcastSource struct {
	layers   []*simLayer
	interval time.Duration
	frameNum uint32 // owned by the goroutine
	run      runner
}

type simLayer struct {
	rid     string
	w       RTPWriter
	stream  *VP8Stream
	active  atomic.Bool
	keyReq  atomic.Bool
	bitrate atomic.Int64
	stats   counters
}

// NewSimulcastSource makes a source over layers (lowest first). cfg supplies the common shape
// (FPS, key frame interval and factor, temporal layers, payload size); each layer's size and
// bitrate come from the layer.
func NewSimulcastSource(layers []SimulcastLayer, cfg VP8Config) (*SimulcastSource, error) {
	if len(layers) == 0 || len(layers) > 16 {
		return nil, fmt.Errorf("%w: %d simulcast layers", ErrBadConfig, len(layers))
	}
	s := &SimulcastSource{run: newRunner()}
	seen := map[string]bool{}
	for i, l := range layers {
		if l.RID == "" || seen[l.RID] || l.Writer == nil {
			return nil, fmt.Errorf("%w: layer %d: rid %q missing, repeated or without writer", ErrBadConfig, i, l.RID)
		}
		seen[l.RID] = true
		lc := cfg
		lc.Width, lc.Height, lc.Bitrate, lc.Layer = l.Width, l.Height, l.Bitrate, uint8(i)
		st, err := NewVP8Stream(lc)
		if err != nil {
			return nil, fmt.Errorf("layer %q: %w", l.RID, err)
		}
		sl := &simLayer{rid: l.RID, w: l.Writer, stream: st}
		sl.active.Store(true)
		s.layers = append(s.layers, sl)
	}
	s.interval = time.Second / time.Duration(s.layers[0].stream.cfg.FPS)
	return s, nil
}

// Start begins sending, with a key frame on every layer.
func (s *SimulcastSource) Start() { s.run.start(s.interval, s.tick) }

// Stop stops sending and waits for the goroutine to end.
func (s *SimulcastSource) Stop() { s.run.halt() }

// RequestKeyframe makes the next frame of layer rid a key frame; "" means every layer.
func (s *SimulcastSource) RequestKeyframe(rid string) {
	for _, l := range s.layers {
		if rid == "" || l.rid == rid {
			l.keyReq.Store(true)
		}
	}
}

// SetLayerActive pauses or resumes a layer, as an encoder does when its bandwidth estimate
// drops. A resumed layer starts with a key frame.
func (s *SimulcastSource) SetLayerActive(rid string, active bool) {
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
func (s *SimulcastSource) SetBitrate(rid string, bps int) {
	for _, l := range s.layers {
		if l.rid == rid {
			l.bitrate.Store(int64(bps))
		}
	}
}

// Stats returns the counters of layer rid (zero for an unknown rid).
func (s *SimulcastSource) Stats(rid string) SourceStats {
	for _, l := range s.layers {
		if l.rid == rid {
			return l.stats.snapshot()
		}
	}
	return SourceStats{}
}

func (s *SimulcastSource) tick(now time.Time) {
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
