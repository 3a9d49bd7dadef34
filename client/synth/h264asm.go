package synth

import (
	"fmt"
	"slices"

	"github.com/pion/rtp"
)

// H264Frame is one reassembled synthetic H.264 access unit.
type H264Frame struct {
	Header    FrameHeader // the synthetic header (valid when verification got that far)
	Keyframe  bool        // an IDR slice, preceded by SPS and PPS
	Timestamp uint32      // RTP timestamp
	Packets   int
	Slice     []byte // the slice NAL unit, header byte included; valid until the next Push
}

// H264Assembler reassembles synthetic H.264 access units from RTP packets (single NAL units,
// STAP-A and FU-A, RFC 6184 sections 5.6 to 5.8) and verifies them. Like Assembler it
// tolerates reordering and retransmission within a window of a few frames, and it reuses its
// buffers, so steady state allocates nothing. Not safe for concurrent use.
type H264Assembler struct {
	win   frameWindow[h264Pending, *h264Pending]
	slice []byte
	stats AssemblerStats
}

type h264Pending struct {
	frameMeta
	parts []h264Part
	data  []byte // payloads of parts, back to back
}

func (pf *h264Pending) meta() *frameMeta { return &pf.frameMeta }
func (pf *h264Pending) reset()           { *pf = h264Pending{parts: pf.parts[:0], data: pf.data[:0]} }
func (pf *h264Pending) release()         {} // parts point into data, which is kept for reuse

type h264Part struct {
	seq    uint16
	off, n int // where its payload is in h264Pending.data
}

// Stats returns the counters.
func (a *H264Assembler) Stats() AssemblerStats { return a.stats }

// Push adds one packet (its payload is copied). When the packet completes an access unit,
// Push returns it with ok set; err then says whether it verified. Other errors (a payload
// that is not synthetic H.264) come with ok unset.
func (a *H264Assembler) Push(p *rtp.Packet) (f H264Frame, ok bool, err error) {
	a.stats.Packets++
	info, err := ParseH264Packet(p.Payload)
	if err != nil && !knownH264Type(info.NALType) {
		return H264Frame{}, false, err
	}
	// A packet of a known type that does not parse (a damaged header) still belongs to its
	// frame; the damage is reported when the frame completes.
	ts := p.Timestamp
	if a.win.finished(ts) {
		a.stats.Late++
		return H264Frame{}, false, nil
	}
	pf := a.win.lookup(ts, &a.stats)
	for _, pt := range pf.parts {
		if pt.seq == p.SequenceNumber {
			a.stats.Late++
			return H264Frame{}, false, nil
		}
	}
	pf.parts = append(pf.parts, h264Part{seq: p.SequenceNumber, off: len(pf.data), n: len(p.Payload)})
	pf.data = append(pf.data, p.Payload...)
	if info.AccessUnitStart {
		pf.haveStart, pf.startSeq = true, p.SequenceNumber
	}
	if p.Marker {
		pf.haveEnd, pf.endSeq = true, p.SequenceNumber
	}
	if !pf.haveStart || !pf.haveEnd || len(pf.parts) != int(pf.endSeq-pf.startSeq)+1 {
		return H264Frame{}, false, nil
	}
	return a.complete(pf)
}

// complete depacketizes a frame's packets in sequence order and verifies the slice.
func (a *H264Assembler) complete(pf *h264Pending) (H264Frame, bool, error) {
	slices.SortFunc(pf.parts, func(x, y h264Part) int {
		return int(int16(x.seq-pf.startSeq)) - int(int16(y.seq-pf.startSeq))
	})
	f := H264Frame{Timestamp: pf.ts, Packets: len(pf.parts)}
	err := a.depacketize(pf)
	f.Slice = a.slice
	a.win.retire(pf)
	a.stats.Frames++
	if err == nil {
		f.Keyframe = a.slice[0]&0x1f == h264IDR
		f.Header, err = VerifyFrame(a.slice[1:])
		if err == nil && f.Header.Keyframe != f.Keyframe {
			err = fmt.Errorf("%w: frame %d key flag %v but NAL type %d", ErrCorrupt, f.Header.FrameNumber, f.Header.Keyframe, a.slice[0]&0x1f)
		}
	}
	if f.Keyframe {
		a.stats.Keyframes++
	}
	if err != nil {
		a.stats.Corrupt++
	}
	return f, true, err
}

// depacketize puts the slice NAL unit of pf into a.slice, checking that an IDR came after
// SPS and PPS.
func (a *H264Assembler) depacketize(pf *h264Pending) error {
	a.slice = a.slice[:0]
	var sps, pps, inFU, haveSlice bool
	for _, pt := range pf.parts {
		p := pf.data[pt.off : pt.off+pt.n]
		if len(p) == 0 {
			return fmt.Errorf("%w: empty packet", ErrShortPacket)
		}
		switch t := p[0] & 0x1f; t {
		case h264STAPA:
			for i := 1; i+2 <= len(p); {
				size := int(p[i])<<8 | int(p[i+1])
				i += 2
				if size == 0 || i+size > len(p) {
					return fmt.Errorf("%w: STAP-A unit of %d bytes", ErrShortPacket, size)
				}
				switch p[i] & 0x1f {
				case h264SPS:
					sps = true
				case h264PPS:
					pps = true
				}
				i += size
			}
		case h264NonIDR, h264IDR:
			if haveSlice || inFU {
				return fmt.Errorf("%w: second slice in an access unit", ErrCorrupt)
			}
			a.slice = append(a.slice, p...)
			haveSlice = true
		case h264FUA:
			if len(p) < 2 {
				return fmt.Errorf("%w: FU-A header missing", ErrShortPacket)
			}
			start, end := p[1]&0x80 != 0, p[1]&0x40 != 0
			switch {
			case start && (inFU || haveSlice):
				return fmt.Errorf("%w: FU-A start inside a slice", ErrCorrupt)
			case !start && !inFU:
				return fmt.Errorf("%w: FU-A continuation without a start", ErrCorrupt)
			case start:
				a.slice = append(a.slice, p[0]&0xe0|p[1]&0x1f)
				inFU = true
			}
			a.slice = append(a.slice, p[2:]...)
			if end {
				inFU, haveSlice = false, true
			}
		default:
			return fmt.Errorf("%w: unexpected NAL type %d", ErrCorrupt, t)
		}
	}
	switch {
	case !haveSlice || inFU:
		return fmt.Errorf("%w: access unit without a whole slice", ErrCorrupt)
	case a.slice[0]&0x1f == h264IDR && !(sps && pps):
		return fmt.Errorf("%w: IDR without SPS and PPS", ErrCorrupt)
	}
	return nil
}

func knownH264Type(t uint8) bool {
	return t == h264NonIDR || t == h264IDR || t == h264STAPA || t == h264FUA
}

// Flush abandons every partial frame (counting each as incomplete).
func (a *H264Assembler) Flush() { a.win.flush(&a.stats) }
