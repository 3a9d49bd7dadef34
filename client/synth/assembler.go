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
	win   frameWindow[pendingFrame, *pendingFrame]
	buf   []byte
	stats AssemblerStats
}

type pendingFrame struct {
	frameMeta
	desc  VP8Descriptor
	parts []part
}

func (pf *pendingFrame) meta() *frameMeta { return &pf.frameMeta }
func (pf *pendingFrame) reset()           { *pf = pendingFrame{parts: pf.parts[:0]} }

// release drops the parts' data so that a pooled frame does not keep it alive.
func (pf *pendingFrame) release() {
	for i := range pf.parts {
		pf.parts[i].data = nil
	}
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
	if a.win.finished(ts) {
		a.stats.Late++
		return Frame{}, false, nil
	}
	pf := a.win.lookup(ts, &a.stats)
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
	a.win.retire(pf)
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

// Flush abandons every partial frame (counting each as incomplete), as at the end of a stream.
func (a *Assembler) Flush() { a.win.flush(&a.stats) }

// alloc returns n bytes for a packet's data. Parts are small and short-lived; a plain make keeps
// this simple and is cheap next to the network path it measures.
func (a *Assembler) alloc(n int) []byte { return make([]byte, n) }
