package synth

import (
	"fmt"
	"slices"

	"github.com/pion/rtp"
)

// VP8PacketInfo is what one RTP packet of a synthetic VP8 stream says on its own.
type VP8PacketInfo struct {
	Descriptor     VP8Descriptor
	DescriptorSize int
	// FrameStart: S is set and PartitionID is 0, so the VP8 payload header follows.
	FrameStart bool
	Keyframe   bool // FrameStart and the P bit is 0
	// HasHeader: the synthetic frame header was found (FrameStart packets only).
	HasHeader bool
	Header    FrameHeader
}

// ParseVP8Packet reads a synthetic VP8 RTP payload: the descriptor, and on the first packet of
// a frame the VP8 payload header and the synthetic header (for latency measurement).
func ParseVP8Packet(payload []byte) (VP8PacketInfo, error) {
	d, n, err := ParseVP8Descriptor(payload)
	if err != nil {
		return VP8PacketInfo{}, err
	}
	info := VP8PacketInfo{Descriptor: d, DescriptorSize: n, FrameStart: d.Start && d.PartitionID == 0}
	if !info.FrameStart {
		return info, nil
	}
	fi, err := ParseVP8FrameHeader(payload[n:])
	if err != nil {
		return info, err
	}
	info.Keyframe = fi.Keyframe
	h, err := ParseHeader(payload[n+fi.HeaderSize:])
	if err != nil {
		return info, err
	}
	info.HasHeader, info.Header = true, h
	return info, nil
}

// VerifyOpusPacket checks a synthetic Opus RTP payload: the TOC byte, then a whole synthetic
// frame.
func VerifyOpusPacket(payload []byte) (FrameHeader, error) {
	if len(payload) < 1+HeaderSize {
		return FrameHeader{}, fmt.Errorf("%w: %d byte Opus payload", ErrShortPacket, len(payload))
	}
	return VerifyFrame(payload[1:])
}

// Frame is one reassembled VP8 frame.
type Frame struct {
	Header     FrameHeader   // the synthetic header (valid when Verify succeeded or only the body failed)
	VP8        VP8FrameInfo  // the VP8 payload header
	Descriptor VP8Descriptor // the first packet's descriptor
	Timestamp  uint32        // RTP timestamp
	Packets    int
	Data       []byte // the VP8 frame; valid until the next Push
}

// AssemblerStats counts what an Assembler saw.
type AssemblerStats struct {
	Packets    uint64 // packets pushed
	Frames     uint64 // frames completed (verified or not)
	Keyframes  uint64 // completed key frames
	Corrupt    uint64 // completed frames that failed verification
	Incomplete uint64 // frames abandoned with packets missing
	Late       uint64 // packets of frames already completed or abandoned (retransmissions)
}

// maxPendingFrames bounds how many partial frames an Assembler keeps while waiting for late or
// retransmitted packets.
const maxPendingFrames = 8

// Assembler reassembles synthetic VP8 frames from RTP packets and verifies them. It tolerates
// reordering and retransmission within a window of a few frames. Not safe for concurrent use.
type Assembler struct {
	pending []*pendingFrame
	free    []*pendingFrame
	done    [32]uint32 // timestamps of recently finished frames (ring)
	doneN   int
	buf     []byte
	born    uint64 // frames started so far
	stats   AssemblerStats
}

type pendingFrame struct {
	ts                 uint32
	born               uint64 // Assembler.born when the frame started
	haveStart, haveEnd bool
	startSeq, endSeq   uint16
	desc               VP8Descriptor
	parts              []part
}

type part struct {
	seq  uint16
	data []byte
}

// Stats returns the counters.
func (a *Assembler) Stats() AssemblerStats { return a.stats }

// Push adds one packet (its payload is copied). When the packet completes a frame, Push
// returns it with ok set; err then says whether the frame verified. Other errors (a payload
// that is not VP8) come with ok unset.
func (a *Assembler) Push(p *rtp.Packet) (f Frame, ok bool, err error) {
	a.stats.Packets++
	d, n, err := ParseVP8Descriptor(p.Payload)
	if err != nil {
		return Frame{}, false, err
	}
	ts := p.Timestamp
	if a.finished(ts) {
		a.stats.Late++
		return Frame{}, false, nil
	}
	pf := a.lookup(ts)
	for _, pt := range pf.parts {
		if pt.seq == p.SequenceNumber {
			a.stats.Late++ // duplicate
			return Frame{}, false, nil
		}
	}
	data := a.alloc(len(p.Payload) - n)
	copy(data, p.Payload[n:])
	pf.parts = append(pf.parts, part{seq: p.SequenceNumber, data: data})
	if d.Start && d.PartitionID == 0 {
		pf.haveStart, pf.startSeq, pf.desc = true, p.SequenceNumber, d
	}
	if p.Marker {
		pf.haveEnd, pf.endSeq = true, p.SequenceNumber
	}
	if !pf.haveStart || !pf.haveEnd || len(pf.parts) != int(pf.endSeq-pf.startSeq)+1 {
		return Frame{}, false, nil
	}
	return a.complete(pf)
}

// complete concatenates a frame's parts in sequence order and verifies it.
func (a *Assembler) complete(pf *pendingFrame) (Frame, bool, error) {
	slices.SortFunc(pf.parts, func(x, y part) int {
		return int(int16(x.seq-pf.startSeq)) - int(int16(y.seq-pf.startSeq))
	})
	a.buf = a.buf[:0]
	for _, pt := range pf.parts {
		a.buf = append(a.buf, pt.data...)
	}
	f := Frame{Descriptor: pf.desc, Timestamp: pf.ts, Packets: len(pf.parts), Data: a.buf}
	a.retire(pf)
	a.stats.Frames++
	fi, err := ParseVP8FrameHeader(f.Data)
	if err != nil {
		a.stats.Corrupt++
		return f, true, err
	}
	f.VP8 = fi
	if fi.Keyframe {
		a.stats.Keyframes++
	}
	f.Header, err = VerifyFrame(f.Data[fi.HeaderSize:])
	if err == nil && f.Header.Keyframe != fi.Keyframe {
		err = fmt.Errorf("%w: frame %d key flag %v but VP8 P bit says %v", ErrCorrupt, f.Header.FrameNumber, f.Header.Keyframe, fi.Keyframe)
	}
	if err != nil {
		a.stats.Corrupt++
	}
	return f, true, err
}

// lookup finds or starts the pending frame for ts. Starting one abandons frames begun
// maxPendingFrames frames ago: by then a receiver would have given up on them.
func (a *Assembler) lookup(ts uint32) *pendingFrame {
	for _, pf := range a.pending {
		if pf.ts == ts {
			return pf
		}
	}
	a.born++
	for i := 0; i < len(a.pending); {
		if a.born-a.pending[i].born >= maxPendingFrames {
			a.stats.Incomplete++
			a.retire(a.pending[i])
			continue
		}
		i++
	}
	var pf *pendingFrame
	if n := len(a.free); n > 0 {
		pf, a.free = a.free[n-1], a.free[:n-1]
	} else {
		pf = &pendingFrame{}
	}
	*pf = pendingFrame{ts: ts, born: a.born, parts: pf.parts[:0]}
	a.pending = append(a.pending, pf)
	return pf
}

// Flush abandons every partial frame (counting each as incomplete), as at the end of a stream.
func (a *Assembler) Flush() {
	for len(a.pending) > 0 {
		a.stats.Incomplete++
		a.retire(a.pending[0])
	}
}

// retire removes pf from the pending set, remembers its timestamp as finished and recycles it.
func (a *Assembler) retire(pf *pendingFrame) {
	for i, x := range a.pending {
		if x == pf {
			a.pending = append(a.pending[:i], a.pending[i+1:]...)
			break
		}
	}
	a.done[a.doneN%len(a.done)] = pf.ts
	a.doneN++
	for i := range pf.parts {
		pf.parts[i].data = nil
	}
	a.free = append(a.free, pf)
}

func (a *Assembler) finished(ts uint32) bool {
	n := min(a.doneN, len(a.done))
	for i := 0; i < n; i++ {
		if a.done[i] == ts {
			return true
		}
	}
	return false
}

// alloc returns n bytes for a packet's data. Parts are small and short-lived; a plain make keeps
// this simple and is cheap next to the network path it measures.
func (a *Assembler) alloc(n int) []byte { return make([]byte, n) }
