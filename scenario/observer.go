package scenario

import (
	"sort"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/cascade-sfu/cascade/client"
	"github.com/cascade-sfu/cascade/client/synth"
	cascadev1 "github.com/cascade-sfu/cascade/proto/cascade/v1"
)

// Observer records what one subscriber receives, packet by packet: every track's sequence
// numbers (for loss), its video frames (verified, with the simulcast layer each came from,
// for freezes and layer switches) and, for video, each packet's numbering (for the
// continuity check).
type Observer struct {
	mu     sync.Mutex // guards tracks and everything in them, and states
	tracks map[string]*trackLog
	order  []string // track sids in arrival order
	states map[string][]StateEvent
}

// StateEvent is a stream state the SFU reported for a track, and when it arrived.
type StateEvent struct {
	At                    time.Time
	State                 string // active, paused_bandwidth, paused_preference
	CurrentRID, TargetRID string
	Reason                string
}

// FrameEvent is one complete, verified video frame delivered to the subscriber.
type FrameEvent struct {
	At       time.Time
	Layer    int8 // simulcast layer it was sent on: 0 q, 1 h, 2 f
	Keyframe bool
}

// trackLog is what arrived of one remote track.
type trackLog struct {
	sid, publisher string
	video          bool

	asm synth.Assembler

	started  bool
	first    uint64 // extended sequence number of the first packet
	highest  uint64
	seen     map[uint64]struct{} // media packets
	packets  uint64              // media packets read, retransmissions included
	padding  uint64              // padding-only packets (bandwidth probes)
	bytes    uint64              // RTP bytes of the media packets read, headers included
	holes    uint64              // numbers skipped when a later one arrived first: lost on first try
	repaired uint64              // holes filled later (retransmissions)
	frames   uint64
	keys     uint64
	corrupt  uint64
	audio    uint64 // verified audio packets
	layer    int8   // layer of the last frame
	lastAt   time.Time

	frameLog []FrameEvent
	recs     []PacketRecord
}

// NewObserver returns an observer; hook it to a client with Attach before tracks arrive.
func NewObserver() *Observer {
	return &Observer{tracks: map[string]*trackLog{}, states: map[string][]StateEvent{}}
}

// Attach makes o read every track c receives and record the stream states the SFU sends it.
// It takes c's OnTrack and OnStreamState handlers.
func (o *Observer) Attach(c *client.Client) {
	c.OnTrack(o.read)
	c.OnStreamState(func(u *cascadev1.StreamStateUpdate) {
		now := time.Now()
		o.mu.Lock()
		defer o.mu.Unlock()
		for _, s := range u.GetStreams() {
			ev := StateEvent{At: now, State: StateName(s.GetState()), CurrentRID: s.GetCurrentRid(),
				TargetRID: s.GetTargetRid(), Reason: s.GetReason()}
			if h := o.states[s.GetTrackSid()]; len(h) > 0 && h[len(h)-1].sameAs(ev) {
				continue
			}
			o.states[s.GetTrackSid()] = append(o.states[s.GetTrackSid()], ev)
		}
	})
}

func (e StateEvent) sameAs(o StateEvent) bool {
	return e.State == o.State && e.CurrentRID == o.CurrentRID && e.TargetRID == o.TargetRID && e.Reason == o.Reason
}

// StateName is the timeline's name for a stream state.
func StateName(s cascadev1.StreamState) string {
	switch s {
	case cascadev1.StreamState_STREAM_STATE_ACTIVE:
		return "active"
	case cascadev1.StreamState_STREAM_STATE_PAUSED_BANDWIDTH:
		return "paused_bandwidth"
	case cascadev1.StreamState_STREAM_STATE_PAUSED_PREFERENCE:
		return "paused_preference"
	}
	return s.String()
}

// States returns the stream states reported for a track, oldest first (changes only).
func (o *Observer) States(trackSID string) []StateEvent {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]StateEvent(nil), o.states[trackSID]...)
}

// read consumes one remote track until it ends (the client runs it on the track's own
// goroutine).
func (o *Observer) read(rt *client.RemoteTrack) {
	tl := &trackLog{sid: rt.TrackSID, publisher: rt.ParticipantIdentity, video: rt.Kind() == webrtc.RTPCodecTypeVideo,
		seen: map[uint64]struct{}{}, layer: -1}
	o.mu.Lock()
	if _, dup := o.tracks[rt.TrackSID]; !dup {
		o.order = append(o.order, rt.TrackSID)
	}
	o.tracks[rt.TrackSID] = tl
	o.mu.Unlock()
	for {
		p, err := rt.ReadRTP()
		if err != nil {
			return
		}
		now := time.Now()
		o.mu.Lock()
		tl.push(p, now)
		o.mu.Unlock()
	}
}

// push records one packet.
func (t *trackLog) push(p *rtp.Packet, now time.Time) {
	ext, fresh := t.unwrap(p.SequenceNumber)
	if len(p.Payload) == 0 {
		// A bandwidth probe: padding with a number of its own, between frames. It counts
		// for sequence continuity only.
		t.padding++
		if fresh && t.video {
			t.recs = append(t.recs, PacketRecord{Ext: ext, TS: p.Timestamp, Arrival: now, Layer: -1, Padding: true})
		}
		return
	}
	t.packets++
	t.bytes += uint64(p.MarshalSize())
	if !fresh {
		return // a duplicate
	}
	if !t.video {
		if _, err := synth.VerifyOpusPacket(p.Payload); err != nil {
			t.corrupt++
		} else {
			t.audio++
		}
		return
	}
	rec := PacketRecord{Ext: ext, TS: p.Timestamp, Marker: p.Marker, Arrival: now, Layer: -1}
	if info, err := synth.ParseVP8Packet(p.Payload); err == nil || info.DescriptorSize > 0 {
		d := info.Descriptor
		rec.HasPictureID, rec.PictureID = d.HasPictureID, d.PictureID
		rec.HasTL0, rec.TL0PICIDX = d.HasTL0PICIDX, d.TL0PICIDX
		rec.TID, rec.Start = d.TID, info.FrameStart
		if info.HasHeader {
			rec.Layer, rec.Frame, rec.Keyframe = int8(info.Header.Layer), info.Header.FrameNumber, info.Keyframe
		}
	}
	t.recs = append(t.recs, rec)
	f, ok, err := t.asm.Push(p)
	if !ok {
		return
	}
	if err != nil {
		t.corrupt++
		return
	}
	t.frames++
	if f.Header.Keyframe {
		t.keys++
	}
	t.layer = int8(f.Header.Layer)
	t.lastAt = now
	t.frameLog = append(t.frameLog, FrameEvent{At: now, Layer: t.layer, Keyframe: f.Header.Keyframe})
}

// extend extends a sequence number (RFC 3550 appendix A.1) against the highest seen.
func (t *trackLog) extend(seq uint16) uint64 {
	return uint64(int64(t.highest) + int64(int16(seq-uint16(t.highest))))
}

// unwrap extends a packet's sequence number and reports whether it is new; it counts
// holes (numbers skipped when a later one arrived first) and their repair.
func (t *trackLog) unwrap(seq uint16) (uint64, bool) {
	if !t.started {
		t.started = true
		t.first = 1<<16 | uint64(seq)
		t.highest = t.first
		t.seen[t.first] = struct{}{}
		return t.first, true
	}
	ext := t.extend(seq)
	if _, dup := t.seen[ext]; dup || ext < t.first {
		return ext, false
	}
	t.seen[ext] = struct{}{}
	switch {
	case ext > t.highest:
		t.holes += ext - t.highest - 1
		t.highest = ext
	default:
		t.repaired++
	}
	return ext, true
}

// TrackCounters are the running totals of one received track.
type TrackCounters struct {
	TrackSID  string
	Publisher string // the publisher's identity
	Video     bool
	// Packets are media packets read (retransmissions included), Bytes their size with
	// RTP headers; Padding counts padding-only (probe) packets.
	Packets, Padding, Bytes uint64
	// Expected is the span of sequence numbers seen; Unique how many of them arrived;
	// Holes how many were missing when a later one arrived (lost on the first try), of
	// which Repaired arrived later.
	Expected, Unique, Holes, Repaired uint64
	Frames, Keyframes, Corrupt, Audio uint64
	// Layer is the layer of the last verified frame (-1 before one), LastFrame when it came.
	Layer     int8
	LastFrame time.Time
}

// Lost is how many sequence numbers never arrived.
func (c TrackCounters) Lost() uint64 { return c.Expected - c.Unique }

// Counters returns every track's totals, in the order the tracks arrived.
func (o *Observer) Counters() []TrackCounters {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]TrackCounters, 0, len(o.order))
	for _, sid := range o.order {
		t := o.tracks[sid]
		c := TrackCounters{TrackSID: t.sid, Publisher: t.publisher, Video: t.video, Packets: t.packets, Padding: t.padding,
			Bytes: t.bytes, Unique: uint64(len(t.seen)), Holes: t.holes, Repaired: t.repaired, Frames: t.frames,
			Keyframes: t.keys, Corrupt: t.corrupt, Audio: t.audio, Layer: t.layer, LastFrame: t.lastAt}
		if t.started {
			c.Expected = t.highest - t.first + 1
		}
		out = append(out, c)
	}
	return out
}

// Frames returns the verified frames of a video track, in arrival order.
func (o *Observer) Frames(trackSID string) []FrameEvent {
	o.mu.Lock()
	defer o.mu.Unlock()
	if t := o.tracks[trackSID]; t != nil {
		return append([]FrameEvent(nil), t.frameLog...)
	}
	return nil
}

// Packets returns the numbering of every distinct video media packet of a track received, in
// sequence order.
func (o *Observer) Packets(trackSID string) []PacketRecord {
	o.mu.Lock()
	var recs []PacketRecord
	if t := o.tracks[trackSID]; t != nil {
		recs = append(recs, t.recs...)
	}
	o.mu.Unlock()
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Ext < recs[j].Ext })
	return recs
}
