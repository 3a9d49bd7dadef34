package sfu

import (
	"math"
	"slices"
)

// speakerDetector turns per-interval audio levels (RFC 6464) into a list of active
// speakers. Levels are smoothed so one loud packet or one quiet gap does not flip the list.
type speakerDetector struct {
	level  map[string]float64 // smoothed loudness, 0 (silent) .. 127 (0 dBov)
	active []string           // last reported order
}

const (
	speakerSmoothing = 0.4
	// A participant speaks when its smoothed level is louder than about -62 dBov, and stops
	// below -67 dBov; the gap keeps the list from flapping. Browsers send 127 (silence) for
	// what their noise suppression removed, so room noise rarely reaches these levels.
	speakerOn  = 127 - 62
	speakerOff = 127 - 67
)

func (d *speakerDetector) init() { d.level = map[string]float64{} }

func (d *speakerDetector) forget(sid string) {
	delete(d.level, sid)
	d.active = slices.DeleteFunc(d.active, func(s string) bool { return s == sid })
}

// observe records the loudest level heard from sid in the last interval (packets == 0:
// nothing was heard).
func (d *speakerDetector) observe(sid string, loudness float64, packets int64) {
	if packets == 0 {
		loudness = 0
	}
	prev, ok := d.level[sid]
	if !ok {
		prev = 0
	}
	d.level[sid] = prev + speakerSmoothing*(loudness-prev)
}

// update returns the active speakers, loudest first, and whether the list changed.
func (d *speakerDetector) update() ([]Speaker, bool) {
	var ids []string
	for sid, l := range d.level {
		wasActive := slices.Contains(d.active, sid)
		if l >= speakerOn || wasActive && l >= speakerOff {
			ids = append(ids, sid)
		}
	}
	slices.SortFunc(ids, func(a, b string) int {
		if d.level[a] != d.level[b] {
			if d.level[a] > d.level[b] {
				return -1
			}
			return 1
		}
		if a < b {
			return -1
		}
		return 1
	})
	changed := !slices.Equal(ids, d.active)
	d.active = ids
	out := make([]Speaker, len(ids))
	for i, sid := range ids {
		// Loudness back to a linear amplitude: 0 dBov is 1.0.
		out[i] = Speaker{ParticipantSID: sid, Level: float32(math.Pow(10, -(127-d.level[sid])/20)), Active: true}
	}
	return out, changed
}
