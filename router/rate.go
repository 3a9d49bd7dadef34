package router

import (
	"sync"
	"time"

	"github.com/cascade-sfu/cascade/simulcast"
)

// rateWindow is the shortest interval a layer bitrate is measured over.
const rateWindow = 500 * time.Millisecond

// layerRates measures each layer's received bitrate from its byte counter.
type layerRates struct {
	mu    sync.Mutex // guards everything below
	at    int64
	bytes [simulcast.MaxLayers]uint64
	bps   [simulcast.MaxLayers]int
}

// LayerBitrates returns each layer's received bitrate (bits per second) over the last
// measured interval; 0 for layers not being received.
func (r *Receiver) LayerBitrates() [simulcast.MaxLayers]int {
	now := monoNow()
	lr := &r.rates
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if elapsed := now - lr.at; elapsed >= int64(rateWindow) {
		for i := range r.layers {
			var b uint64
			if l := r.layers[i].Load(); l != nil {
				b = l.bytes.Load()
			}
			if lr.at != 0 {
				lr.bps[i] = int(float64(b-lr.bytes[i]) * 8 / (float64(elapsed) / float64(time.Second)))
			}
			lr.bytes[i] = b
		}
		lr.at = now
	}
	return lr.bps
}
