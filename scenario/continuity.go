package scenario

import (
	"fmt"
	"time"
)

// PacketRecord is the numbering of one forwarded VP8 packet as the subscriber received it.
type PacketRecord struct {
	Ext     uint64 // extended RTP sequence number
	TS      uint32
	Marker  bool
	Arrival time.Time
	// Padding: a padding-only packet with a number of its own (a bandwidth probe). It
	// counts for sequence continuity only.
	Padding bool

	// From the VP8 payload descriptor (RFC 7741 section 4.2).
	HasPictureID bool
	PictureID    uint16
	HasTL0       bool
	TL0PICIDX    uint8
	TID          uint8
	Start        bool // first packet of a frame (S set, partition 0)

	// From the synthetic frame header, on a frame's first packet.
	Layer    int8 // simulcast layer, -1 when unknown
	Frame    uint32
	Keyframe bool
}

// ContinuityReport is what CheckContinuity found.
type ContinuityReport struct {
	Packets int // distinct packets checked
	Frames  int
	// Missing sequence numbers never received; MaxGap the longest run of them.
	Missing, MaxGap int
	// Layer switches seen (by the layer of consecutive frames), upward and downward.
	SwitchesUp, SwitchesDown int
	// Violations describe broken numbering (at most the first 20); Count is all of them.
	Violations []string
	Count      int
	// CutFrames are frames whose tail never came although nothing is missing: the stream
	// switched layers mid-frame. The numbering stays continuous (the decoder drops the
	// frame and the next one is a keyframe), so they are not violations.
	CutFrames int
}

// OK reports whether nothing was broken.
func (r ContinuityReport) OK() bool { return r.Count == 0 }

const (
	maxViolations = 20
	vp8PicIDMod   = 1 << 15
	// tsSlack bounds how far a timestamp may run ahead of the arrival clock between two
	// packets (in 90 kHz ticks, 1 s): a switch advances the timestamp by the time since
	// the last packet sent, never by an unrelated stream's offset.
	tsSlack = 90_000
)

// CheckContinuity checks the numbering of a forwarded VP8 stream as a decoder needs it,
// across layer switches, temporal layer drops, pauses and loss (recs in sequence order,
// one per sequence number):
//   - sequence numbers: any gap is loss (the SFU takes no number for what it drops on
//     purpose), so gaps must be short;
//   - timestamps never go backwards, a frame's packets share one, a new frame's is larger,
//     and it never runs far ahead of the arrival clock;
//   - frames are delimited: where no packet is missing, a new frame starts with S set, and
//     a frame's packets never restart; a new frame before the previous one's marker is
//     counted (CutFrames) rather than flagged, since a switch may cut the old layer's last
//     frame and the decoder just drops it;
//   - VP8 picture ids count frames: +1 per frame where nothing is missing, and within the
//     number of missing packets otherwise; TL0PICIDX counts base-layer frames the same way.
func CheckContinuity(recs []PacketRecord, maxGap int) ContinuityReport {
	var r ContinuityReport
	violate := func(format string, a ...any) {
		r.Count++
		if len(r.Violations) < maxViolations {
			r.Violations = append(r.Violations, fmt.Sprintf(format, a...))
		}
	}
	r.Packets = len(recs)
	lastLayer := int8(-1)
	var a *PacketRecord // the previous media packet
	gap := 0            // numbers missing since it
	for i := range recs {
		b := &recs[i]
		if i > 0 {
			p := &recs[i-1]
			if b.Ext <= p.Ext {
				violate("seq %d: not in order or repeated after %d", b.Ext, p.Ext)
				continue
			}
			g := int(b.Ext - p.Ext - 1)
			r.Missing += g
			r.MaxGap = max(r.MaxGap, g)
			if maxGap > 0 && g > maxGap {
				violate("seq %d: %d numbers missing before it (a jump, not loss)", b.Ext, g)
			}
			gap += g
			if int32(b.TS-p.TS) < 0 && (b.Padding || p.Padding) {
				violate("seq %d: padding timestamp %d out of order with %d", b.Ext, b.TS, p.TS)
			}
		}
		if b.Padding {
			continue
		}
		if b.Start {
			r.Frames++
			if b.Layer >= 0 {
				if lastLayer >= 0 && b.Layer > lastLayer {
					r.SwitchesUp++
				} else if lastLayer >= 0 && b.Layer < lastLayer {
					r.SwitchesDown++
				}
				lastLayer = b.Layer
			}
		}
		if a == nil {
			a, gap = b, 0
			continue
		}
		r.checkPair(a, b, gap, violate)
		a, gap = b, 0
	}
	return r
}

// checkPair checks two media packets in sequence with gap numbers missing between them.
func (r *ContinuityReport) checkPair(a, b *PacketRecord, gap int, violate func(string, ...any)) {
	dts := int32(b.TS - a.TS)
	sameFrame := dts == 0
	if dts < 0 {
		violate("seq %d: timestamp %d went back from %d", b.Ext, b.TS, a.TS)
		return
	}
	if !sameFrame {
		elapsed := b.Arrival.Sub(a.Arrival)
		if elapsed < 0 {
			elapsed = -elapsed
		}
		if int64(dts) > int64(elapsed/time.Microsecond)*90/1000+tsSlack {
			violate("seq %d: timestamp jumped %d ticks in %v of arrivals", b.Ext, dts, elapsed)
		}
	}
	if gap == 0 {
		switch {
		case sameFrame && (a.Marker || b.Start):
			violate("seq %d: frame at ts %d restarts (marker %v, start %v)", b.Ext, b.TS, a.Marker, b.Start)
		case !sameFrame && !a.Marker:
			r.CutFrames++
		case !sameFrame && !b.Start:
			violate("seq %d: frame at ts %d begins without the start bit", b.Ext, b.TS)
		}
	}
	if a.HasPictureID && b.HasPictureID {
		d := int(b.PictureID-a.PictureID+vp8PicIDMod) % vp8PicIDMod
		switch {
		case sameFrame && d != 0:
			violate("seq %d: picture id %d inside a frame of picture id %d", b.Ext, b.PictureID, a.PictureID)
		case !sameFrame && gap == 0 && d != 1:
			violate("seq %d: picture id %d after %d with nothing missing", b.Ext, b.PictureID, a.PictureID)
		case !sameFrame && (d < 1 || d > gap+1):
			violate("seq %d: picture id %d after %d across %d missing packets", b.Ext, b.PictureID, a.PictureID, gap)
		}
	}
	if a.HasTL0 && b.HasTL0 {
		d := int(b.TL0PICIDX - a.TL0PICIDX)
		switch {
		case sameFrame && d != 0:
			violate("seq %d: TL0PICIDX %d inside a frame of TL0PICIDX %d", b.Ext, b.TL0PICIDX, a.TL0PICIDX)
		case !sameFrame && gap == 0 && b.TID == 0 && d != 1:
			violate("seq %d: base-layer frame with TL0PICIDX %d after %d", b.Ext, b.TL0PICIDX, a.TL0PICIDX)
		case !sameFrame && gap == 0 && b.TID > 0 && d != 0:
			violate("seq %d: upper-layer frame (TID %d) with TL0PICIDX %d after %d", b.Ext, b.TID, b.TL0PICIDX, a.TL0PICIDX)
		case !sameFrame && d > gap+1:
			violate("seq %d: TL0PICIDX %d after %d across %d missing packets", b.Ext, b.TL0PICIDX, a.TL0PICIDX, gap)
		}
	}
}
