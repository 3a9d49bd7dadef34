package bwe

import (
	"sort"

	"github.com/cascade-sfu/cascade/simulcast"
)

// Priority classes, highest first. Within a class, Track.Priority breaks ties.
const (
	ClassScreen  = 3 // screen shares
	ClassPinned  = 2 // pinned tiles and the active speaker
	ClassDefault = 1
)

// TrackState is what a track gets.
type TrackState int

const (
	StateActive TrackState = iota
	StatePausedBandwidth
	StatePausedPreference
)

func (s TrackState) String() string {
	return [...]string{"active", "paused for bandwidth", "paused by preference"}[s]
}

// Reason says why a track's layer is below the best the publisher sends.
type Reason string

const (
	ReasonNone       Reason = ""
	ReasonBandwidth  Reason = "bandwidth"
	ReasonPreference Reason = "preference"
	ReasonPublisher  Reason = "publisher"
)

// Track is one subscription as the allocator sees it.
type Track struct {
	ID    string
	Audio bool
	Class int
	// Priority orders tracks within a class (higher first).
	Priority int
	// LayerBps is the bitrate of each spatial layer (index = simulcast layer); 0 for layers
	// the publisher does not send. A single-layer track has only LayerBps[0].
	LayerBps [simulcast.MaxLayers]int
	// MaxLayer is the subscriber's cap (from its render size and preferences).
	MaxLayer int8
	// Disabled: the subscriber paused the track.
	Disabled bool
	// Current is the layer the track is being forwarded at (0 when unknown or paused). A
	// track keeps a layer it already has as long as it fits the estimate; only stepping up
	// must fit within the headroom. Without it a track whose layer costs about the budget
	// flaps between two layers, a keyframe at every step, as measured bitrates wobble.
	Current int8
	// Paused: the track is paused for bandwidth now. Resuming it needs its lowest layer to
	// fit with the headroom left over, as a step up does: an estimate it only just fits
	// (one a probe raised a little past the link, through a token bucket's burst) would
	// resume it for a few frames and pause it again.
	Paused bool
}

// Allocation is the decision for one track.
type Allocation struct {
	ID     string
	Layer  int8 // simulcast.NoLayer when paused
	State  TrackState
	Reason Reason
	Bps    int
}

// headroom leaves part of the estimate unused for upgrades, so a small estimate error does
// not build a queue. The lowest layers may use the whole estimate (pausing video is worse
// than a little queuing), but a paused track resumes only within the headroom.
const headroom = 0.9

// priorityMargin: after a track could not get even its lowest layer, a lower-priority
// track is given its own only if that costs at most this share of the one that did not fit.
const priorityMargin = 0.5

// Allocate shares estimateBps among tracks: audio first (never paused), then every video
// track's lowest layer in priority order (those that do not fit are paused), then upgrades
// in priority order, each track as far as its cap and the remaining budget allow. The
// result is in the order of tracks.
func Allocate(estimateBps int, tracks []Track) []Allocation {
	out := make([]Allocation, len(tracks))
	budget := float64(estimateBps)
	order := make([]int, 0, len(tracks))
	for i, t := range tracks {
		out[i] = Allocation{ID: t.ID, Layer: simulcast.NoLayer}
		if t.Audio {
			out[i].Layer = 0
			out[i].Bps = t.LayerBps[0]
			budget -= float64(t.LayerBps[0])
			continue
		}
		if t.Disabled {
			out[i].State = StatePausedPreference
			out[i].Reason = ReasonPreference
			continue
		}
		order = append(order, i)
	}
	sort.SliceStable(order, func(a, b int) bool {
		ta, tb := tracks[order[a]], tracks[order[b]]
		if ta.Class != tb.Class {
			return ta.Class > tb.Class
		}
		return ta.Priority > tb.Priority
	})
	// Pass 1: the lowest sent layer for each, in priority order. Once a track does not fit,
	// a lower-priority one fits only if it costs much less: layer bitrates are measured and
	// wobble (a keyframe in the window), and similar tracks must not swap places because of
	// that.
	var failedCost float64
	for _, i := range order {
		t := tracks[i]
		low := lowestLayer(t)
		if low == simulcast.NoLayer {
			// Nothing is being sent: keep the track on its lowest layer, no cost yet.
			out[i].Layer = 0
			out[i].Reason = ReasonPublisher
			continue
		}
		cost := float64(t.LayerBps[low])
		need := cost
		if t.Paused {
			need += float64(estimateBps) * (1 - headroom)
		}
		if need > budget || failedCost > 0 && cost > priorityMargin*failedCost {
			out[i].State = StatePausedBandwidth
			out[i].Reason = ReasonBandwidth
			if failedCost == 0 {
				failedCost = cost
			}
			continue
		}
		budget -= cost
		out[i].Layer = low
		out[i].Bps = t.LayerBps[low]
	}
	// Pass 2: upgrades, highest priority first, as far as each can go. A track the budget
	// stopped caps the tracks after it at its layer: leftovers may go to lower priorities,
	// but never to a better layer than a higher priority got.
	reserve := float64(estimateBps) * (1 - headroom)
	budget -= reserve
	ceiling := int8(simulcast.MaxLayers - 1)
	for _, i := range order {
		t := tracks[i]
		if out[i].State != StateActive || out[i].Reason == ReasonPublisher {
			continue
		}
		stopped := false
		for l := out[i].Layer + 1; l < simulcast.MaxLayers && l <= t.MaxLayer && l <= ceiling && !stopped; l++ {
			if t.LayerBps[l] == 0 {
				continue
			}
			extra := float64(t.LayerBps[l] - out[i].Bps)
			switch {
			case extra <= budget:
				budget -= extra
			case l <= t.Current && extra <= budget+reserve:
				// Keeping the layer it has may use the headroom.
				reserve -= extra - budget
				budget = 0
			default:
				stopped = true
				continue
			}
			out[i].Layer = l
			out[i].Bps = t.LayerBps[l]
		}
		if stopped {
			ceiling = min(ceiling, out[i].Layer)
		}
		out[i].Reason = reasonFor(t, out[i].Layer)
	}
	return out
}

// reasonFor says why layer is what a track gets.
func reasonFor(t Track, layer int8) Reason {
	best := bestLayer(t)
	reach := min(best, t.MaxLayer)
	switch {
	case layer < reach:
		return ReasonBandwidth
	case t.MaxLayer < best:
		return ReasonPreference
	case t.simulcast() && best < t.MaxLayer && best < simulcast.MaxLayers-1:
		return ReasonPublisher
	}
	return ReasonNone
}

func (t Track) simulcast() bool { return t.LayerBps[1] != 0 || t.LayerBps[2] != 0 }

func lowestLayer(t Track) int8 {
	for l := int8(0); l < simulcast.MaxLayers; l++ {
		if t.LayerBps[l] > 0 {
			return l
		}
	}
	return simulcast.NoLayer
}

func bestLayer(t Track) int8 {
	for l := int8(simulcast.MaxLayers - 1); l >= 0; l-- {
		if t.LayerBps[l] > 0 {
			return l
		}
	}
	return simulcast.NoLayer
}

// Desired is the bitrate that would give every enabled track its best layer within its
// cap: what probing should aim for.
func Desired(tracks []Track) int {
	total := 0
	for _, t := range tracks {
		if t.Disabled && !t.Audio {
			continue
		}
		best := 0
		for l := 0; l < simulcast.MaxLayers && (t.Audio || int8(l) <= t.MaxLayer); l++ {
			if t.LayerBps[l] > 0 {
				best = t.LayerBps[l]
			}
		}
		total += best
	}
	return int(float64(total) / headroom)
}

// Minimum is the bitrate that gives every track its lowest layer: below it something
// must be paused.
func Minimum(tracks []Track) int {
	total := 0
	for _, t := range tracks {
		if t.Disabled && !t.Audio {
			continue
		}
		if l := lowestLayer(t); l != simulcast.NoLayer {
			total += t.LayerBps[l]
		}
	}
	return total
}
