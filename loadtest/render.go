package loadtest

import (
	"slices"
	"time"
)

// Viewer-side timing, modelled on what a browser's video pipeline does.
const (
	// freezeGap is the interval between rendered frames that counts as a freeze. WebRTC
	// stats use max(3 × the average frame interval, average + 150 ms); at 30 fps both are
	// close to the 300 ms the issue names, which is used as is.
	freezeGap = 300 * time.Millisecond
	// jitterWait is how long a complete frame waits for a missing earlier one (a packet
	// being retransmitted) before the decoder gives up on it and asks for a keyframe.
	jitterWait = 200 * time.Millisecond
	// pliInterval spaces repeated keyframe requests while the picture stays broken.
	pliInterval = 500 * time.Millisecond
	// maxWaiting bounds the frames held behind a gap.
	maxWaiting = 64
)

// frameRef is a complete, verified frame as the renderer sees it.
type frameRef struct {
	num   uint32
	layer int
	key   bool
}

// renderer decides which complete frames a decoder could show: a keyframe starts the
// picture; after that each frame needs its predecessor (one temporal layer, as the synthetic
// streams send). Frames completed out of order wait up to jitterWait for the gap to fill. A
// gap that does not fill, or a corrupt frame, breaks the picture until the next keyframe,
// and the renderer asks for one. Pure: the caller passes the time and acts on the result.
type renderer struct {
	started  bool // a keyframe was shown
	broken   bool // waiting for a keyframe
	next     uint32
	waiting  []frameRef // complete frames after a gap, by number
	gapSince time.Time  // when the oldest waiting frame started waiting
	lastPLI  time.Time
	keySince time.Time // first packet while no keyframe was ever shown

	lastShown   time.Time
	layer       int // layer of the last shown frame, -1 before the first
	shown       uint64
	switches    uint64
	freezes     uint64
	freezeTotal time.Duration
	firstShown  time.Time
}

func newRenderer() renderer { return renderer{layer: -1} }

// frame handles a complete frame; it returns whether to send a keyframe request now.
func (r *renderer) frame(f frameRef, now time.Time) bool {
	switch {
	case f.key && (!r.started || r.broken || seqAfter(f.num, r.next)):
		// A keyframe needs nothing before it: jump to it.
		r.waiting = r.waiting[:0]
		r.started, r.broken = true, false
		r.show(f, now)
		return false
	case !r.started || r.broken || seqBefore(f.num, r.next):
		return r.maybePLI(now) // undecodable, or a late duplicate of a shown frame
	case f.num == r.next:
		r.show(f, now)
		r.drain(now)
		return false
	}
	// After a gap: wait for the missing frames.
	if len(r.waiting) == 0 {
		r.gapSince = now
	}
	if !slices.ContainsFunc(r.waiting, func(w frameRef) bool { return w.num == f.num }) {
		i, _ := slices.BinarySearchFunc(r.waiting, f, func(a, b frameRef) int { return int(int32(a.num - b.num)) })
		r.waiting = slices.Insert(r.waiting, i, f)
	}
	if len(r.waiting) > maxWaiting {
		return r.breakPicture(now)
	}
	return false
}

// corrupt handles a frame that completed but failed verification: the decoder cannot use it.
func (r *renderer) corrupt(now time.Time) bool {
	if !r.started || r.broken {
		return r.maybePLI(now)
	}
	return r.breakPicture(now)
}

// tick handles the passing of time (call it at least every few tens of milliseconds while
// the track lives); it returns whether to send a keyframe request now.
func (r *renderer) tick(now time.Time) bool {
	if len(r.waiting) > 0 && now.Sub(r.gapSince) >= jitterWait {
		return r.breakPicture(now)
	}
	if r.broken || (!r.started && !r.keySince.IsZero()) {
		return r.maybePLI(now)
	}
	return false
}

// packet notes that media arrived (before any keyframe, this starts the clock for asking).
func (r *renderer) packet(now time.Time) {
	if !r.started && r.keySince.IsZero() {
		r.keySince = now
	}
}

func (r *renderer) breakPicture(now time.Time) bool {
	r.broken = true
	r.waiting = r.waiting[:0]
	r.lastPLI = now
	return true
}

// maybePLI asks again for a keyframe if the last request is old enough. Before the first
// keyframe it gives the SFU (which asks for one on every new subscription) a head start.
func (r *renderer) maybePLI(now time.Time) bool {
	if !r.started && !r.broken && (r.keySince.IsZero() || now.Sub(r.keySince) < pliInterval) {
		return false
	}
	if !r.lastPLI.IsZero() && now.Sub(r.lastPLI) < pliInterval {
		return false
	}
	r.lastPLI = now
	return true
}

func (r *renderer) show(f frameRef, now time.Time) {
	if r.shown == 0 {
		r.firstShown = now
	} else if gap := now.Sub(r.lastShown); gap > freezeGap {
		r.freezes++
		r.freezeTotal += gap
	}
	if r.layer >= 0 && f.layer != r.layer {
		r.switches++
	}
	r.layer = f.layer
	r.lastShown = now
	r.shown++
	r.next = f.num + 1
}

// drain shows waiting frames that now follow on.
func (r *renderer) drain(now time.Time) {
	for len(r.waiting) > 0 && r.waiting[0].num == r.next {
		f := r.waiting[0]
		r.waiting = r.waiting[1:]
		r.show(f, now)
	}
	for len(r.waiting) > 0 && seqBefore(r.waiting[0].num, r.next) {
		r.waiting = r.waiting[1:]
	}
	if len(r.waiting) > 0 {
		r.gapSince = now
	}
}

// openFreeze is the freeze going on at now, if the picture has stalled for longer than
// freezeGap: a viewer looking at the screen at the end of the run sees it.
func (r *renderer) openFreeze(now time.Time) time.Duration {
	if r.shown == 0 {
		return 0
	}
	if gap := now.Sub(r.lastShown); gap > freezeGap {
		return gap
	}
	return 0
}

func seqAfter(a, b uint32) bool  { return int32(a-b) > 0 }
func seqBefore(a, b uint32) bool { return int32(a-b) < 0 }
