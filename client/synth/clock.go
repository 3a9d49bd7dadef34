package synth

import "time"

// captureClock turns a video stream's capture times into RTP timestamps and schedules its
// periodic key frames; VP8Stream and H264Stream share it.
type captureClock struct {
	started bool
	origin  time.Time // capture time of the first frame: RTP timestamps count from it
	tsBase  uint32
	lastTS  uint32
	lastKey time.Time
}

// keyDue reports whether a frame captured at now is due to be a periodic key frame (or is the
// first frame).
func (c *captureClock) keyDue(now time.Time, interval time.Duration) bool {
	if !c.started {
		return true
	}
	return interval > 0 && now.Sub(c.lastKey) >= interval
}

// stamp returns the RTP timestamp (at clockRate Hz) of the frame captured at now and notes
// whether it is a key frame.
func (c *captureClock) stamp(now time.Time, key bool, clockRate time.Duration) uint32 {
	first := !c.started
	if first {
		c.started = true
		c.origin = now
	}
	ts := c.tsBase + uint32(now.Sub(c.origin)/time.Microsecond*clockRate/1_000_000)
	if !first && int32(ts-c.lastTS) <= 0 {
		ts = c.lastTS + 1 // the capture clock must move forward
	}
	c.lastTS = ts
	if key {
		c.lastKey = now
	}
	return ts
}
