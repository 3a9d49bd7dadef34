package loadtest

import (
	"sync"
	"time"

	"github.com/pion/rtp"

	"github.com/cascade-sfu/cascade/client/synth"
)

// layerAudio is the byte counter slot for audio; layerUnknown for video before its first
// frame header.
const (
	layerAudio   = 3
	layerUnknown = 4
	layerSlots   = 5
)

// trackStats is what one subscriber measured of one remote track.
type trackStats struct {
	Packets    uint64 // packets read, copies included
	Bytes      uint64 // RTP bytes read (header and payload, after SRTP)
	Expected   uint64 // from the first to the highest sequence number
	Lost       uint64 // expected packets never received, retransmissions counted
	Duplicates uint64
	Padding    uint64 // padding-only packets (the SFU's bandwidth probes), in Packets too
	LayerBytes [layerSlots]uint64

	Frames      uint64 // complete video frames (audio: verified packets)
	Corrupt     uint64 // frames or audio packets that failed verification
	Shown       uint64 // video frames a decoder could show
	Switches    uint64 // changes of the shown layer
	Freezes     uint64
	FreezeTotal time.Duration
	PLIs        uint64 // keyframe requests this subscriber sent
	FirstFrame  time.Time
	LastLayer   int // layer of the last frame shown (-1: none; layerAudio for audio)
}

// frameAssembler reassembles one codec's synthetic frames.
type frameAssembler interface {
	// push adds a packet; ok reports a completed frame, err whether it verified.
	push(p *rtp.Packet) (f synth.FrameHeader, key, ok bool, err error)
	// startHeader returns the synthetic header a frame's first packet carries, if p is one.
	startHeader(payload []byte) (synth.FrameHeader, bool)
}

type vp8Assembler struct{ a synth.Assembler }

func (v *vp8Assembler) push(p *rtp.Packet) (synth.FrameHeader, bool, bool, error) {
	f, ok, err := v.a.Push(p)
	return f.Header, f.VP8.Keyframe, ok, err
}

func (v *vp8Assembler) startHeader(payload []byte) (synth.FrameHeader, bool) {
	info, err := synth.ParseVP8Packet(payload)
	return info.Header, err == nil && info.HasHeader
}

type h264Assembler struct{ a synth.H264Assembler }

func (h *h264Assembler) push(p *rtp.Packet) (synth.FrameHeader, bool, bool, error) {
	f, ok, err := h.a.Push(p)
	return f.Header, f.Keyframe, ok, err
}

func (h *h264Assembler) startHeader(payload []byte) (synth.FrameHeader, bool) {
	info, err := synth.ParseH264Packet(payload)
	return info.Header, err == nil && info.HasHeader
}

// trackRecv measures one remote track. The track's reader goroutine calls packet and tick;
// anyone may call snapshot.
type trackRecv struct {
	audio bool
	asm   frameAssembler // nil for audio

	mu      sync.Mutex // guards everything below
	seq     seqTracker
	st      trackStats
	render  renderer
	lat     histogram
	layer   int // layer of the last frame start seen, for byte accounting
	onFirst func(time.Time)
}

// newTrackRecv makes the receiver for a track; onFirst runs (under no lock of the caller's,
// but under the track's) when the first frame is shown or the first audio packet verifies.
func newTrackRecv(audio bool, asm frameAssembler, onFirst func(time.Time)) *trackRecv {
	t := &trackRecv{audio: audio, asm: asm, render: newRenderer(), layer: layerUnknown, onFirst: onFirst}
	t.st.LastLayer = -1
	if audio {
		t.layer = layerAudio
	}
	return t
}

// packet handles one received packet (size bytes on the wire after SRTP) at now and
// reports whether to send a keyframe request.
func (t *trackRecv) packet(p *rtp.Packet, size int, now time.Time) (pli bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.st.Packets++
	t.st.Bytes += uint64(size)
	if !t.seq.push(p.SequenceNumber) {
		return false // a copy: the original was counted
	}
	if len(p.Payload) == 0 {
		// A bandwidth probe: it takes a sequence number of its own and carries no media.
		t.st.Padding++
		return false
	}
	if t.audio {
		t.audioPacket(p, size, now)
		return false
	}
	if h, ok := t.asm.startHeader(p.Payload); ok && int(h.Layer) < len(layerNames) {
		t.layer = int(h.Layer)
	}
	t.st.LayerBytes[t.layer] += uint64(size)
	t.render.packet(now)
	h, key, ok, err := t.asm.push(p)
	if !ok {
		return false
	}
	t.st.Frames++
	if err != nil {
		t.st.Corrupt++
		return t.countPLI(t.render.corrupt(now))
	}
	t.lat.record(now.Sub(h.SendTimeAsTime()))
	before := t.render.shown
	pli = t.render.frame(frameRef{num: h.FrameNumber, layer: int(h.Layer), key: key}, now)
	if before == 0 && t.render.shown > 0 {
		t.first(now)
	}
	return t.countPLI(pli)
}

func (t *trackRecv) audioPacket(p *rtp.Packet, size int, now time.Time) {
	t.st.LayerBytes[layerAudio] += uint64(size)
	h, err := synth.VerifyOpusPacket(p.Payload)
	if err != nil {
		t.st.Corrupt++
		return
	}
	t.st.Frames++
	t.lat.record(now.Sub(h.SendTimeAsTime()))
	if t.st.Frames == 1 {
		t.st.LastLayer = layerAudio
		t.first(now)
	}
}

func (t *trackRecv) first(now time.Time) {
	t.st.FirstFrame = now
	if t.onFirst != nil {
		t.onFirst(now)
	}
}

// tick lets time pass for the renderer; it reports whether to send a keyframe request.
func (t *trackRecv) tick(now time.Time) bool {
	if t.audio {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.countPLI(t.render.tick(now))
}

func (t *trackRecv) countPLI(pli bool) bool {
	if pli {
		t.st.PLIs++
	}
	return pli
}

// snapshot returns the counters at now and merges the latency samples into lat (if not nil).
// final counts a freeze still going on at now.
func (t *trackRecv) snapshot(now time.Time, lat *histogram, final bool) trackStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.st
	st.Expected, st.Lost, st.Duplicates = t.seq.expected(), t.seq.lost(), t.seq.dups
	if !t.audio {
		r := &t.render
		st.Shown, st.Switches, st.Freezes, st.FreezeTotal, st.LastLayer = r.shown, r.switches, r.freezes, r.freezeTotal, r.layer
		if d := r.openFreeze(now); final && d > 0 {
			st.Freezes++
			st.FreezeTotal += d
		}
	}
	if lat != nil {
		lat.merge(&t.lat)
	}
	return st
}
