package sfu

import (
	"time"

	"github.com/cascade-sfu/cascade/simulcast"
)

// dynacastHold is how long a layer nobody needs keeps being sent before the publisher is
// told to pause it: short gaps (a subscriber switching, a tile flickering) do not cost an
// encoder restart.
const dynacastHold = 3 * time.Second

// layerAnnounced reports whether the publisher announced layer l in addTrack.
func (t *publishedTrack) layerAnnounced(l int8) bool {
	for _, vl := range t.layers {
		if x, ok := simulcast.LayerForRID(vl.RID); ok && x == l {
			return true
		}
	}
	return false
}

// lowestLayer is the lowest layer the publisher announced.
func (t *publishedTrack) lowestLayer() int8 {
	low := int8(simulcast.MaxLayers - 1)
	for _, vl := range t.layers {
		if x, ok := simulcast.LayerForRID(vl.RID); ok {
			low = min(low, x)
		}
	}
	return low
}

// nominalBps is the bitrate the publisher announced for layer l, or a typical one.
func (t *publishedTrack) nominalBps(l int8) int {
	for _, vl := range t.layers {
		if x, ok := simulcast.LayerForRID(vl.RID); ok && x == l && vl.Bitrate > 0 {
			return int(vl.Bitrate)
		}
	}
	return nominalLayerBps[l]
}

// updateDynacastLocked works out, for each simulcast track this participant publishes,
// which layers some subscriber needs, and tells the publisher when that set changes:
// needed layers resume at once, unneeded ones pause after dynacastHold.
func (p *Participant) updateDynacastLocked(now time.Time) {
	qs, ok := p.sink.(QualitySink)
	if !ok {
		return
	}
	for _, t := range p.publishedTracks() {
		r := t.recv()
		if r == nil || !r.Simulcast() || len(t.layers) < 2 {
			continue
		}
		var need uint32
		for _, dt := range r.DownTracks() {
			if dt.Paused() {
				continue
			}
			if l := dt.TargetLayer(); l >= 0 {
				need |= 1 << l
			}
			if l := dt.CurrentLayer(); l >= 0 {
				need |= 1 << l
			}
		}
		if need != 0 {
			// The lowest layer is every subscriber's fallback when its downlink drops: kept
			// on, a switch down waits only for its next keyframe, not for the publisher's
			// encoder to restart it.
			need |= 1 << t.lowestLayer()
		}
		paused := t.dynacastPaused.Load()
		next := paused
		for l := int8(0); l < simulcast.MaxLayers; l++ {
			if !t.layerAnnounced(l) {
				continue
			}
			bit := uint32(1) << l
			switch {
			case need&bit != 0:
				next &^= bit
				t.lastNeeded[l] = now
			case paused&bit == 0 && now.Sub(t.lastNeeded[l]) >= dynacastHold:
				next |= bit
			}
		}
		if next == paused && t.dynacastSent {
			continue
		}
		for l := range t.dynacastResumed {
			if paused&^next&(1<<l) != 0 {
				t.dynacastResumed[l].Store(now.UnixNano())
			}
		}
		t.dynacastPaused.Store(next)
		t.dynacastSent = true
		var layers []SubscribedLayer
		for _, vl := range t.layers {
			l, ok := simulcast.LayerForRID(vl.RID)
			if !ok {
				continue
			}
			layers = append(layers, SubscribedLayer{RID: vl.RID, Active: next&(1<<l) == 0})
		}
		qs.SendSubscribedLayers(t.sid, layers)
	}
}
