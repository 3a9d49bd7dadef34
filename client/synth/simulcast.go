package synth

import (
	"fmt"
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
	layerSet
}

// NewSimulcastSource makes a source over layers (lowest first). cfg supplies the common shape
// (FPS, key frame interval and factor, temporal layers, payload size); each layer's size and
// bitrate come from the layer.
func NewSimulcastSource(layers []SimulcastLayer, cfg VP8Config) (*SimulcastSource, error) {
	if len(layers) == 0 || len(layers) > 16 {
		return nil, fmt.Errorf("%w: %d simulcast layers", ErrBadConfig, len(layers))
	}
	s := &SimulcastSource{layerSet{run: newRunner()}}
	seen := map[string]bool{}
	fps := 0
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
		if i == 0 {
			fps = st.cfg.FPS
		}
		s.layers = append(s.layers, newStreamLayer(l.RID, l.Writer, st))
	}
	s.interval = time.Second / time.Duration(fps)
	return s, nil
}
