package router

import "errors"

var (
	errShortPacket = errors.New("router: packet shorter than its RTP header")
	errBadVersion  = errors.New("router: not RTP version 2")
	errBadPadding  = errors.New("router: padding longer than the payload")
)

// Header is the part of an RTP header the forwarding plane reads, parsed without
// allocating (RFC 3550 section 5.1, header extensions per RFC 8285).
type Header struct {
	Marker      bool
	PayloadType uint8
	Seq         uint16
	TS          uint32
	SSRC        uint32
	HeaderLen   int // bytes before the payload
	PayloadLen  int // payload bytes, padding excluded
	PaddingLen  uint8
	// AudioLevel is the RFC 6464 level in -dBov (0 loudest, 127 silence), or -1 if absent.
	AudioLevel int8
	Voice      bool
}

// ParseHeader parses the RTP header of b into h. audioLevelID is the negotiated id of the
// RFC 6464 extension, 0 if none.
func ParseHeader(b []byte, audioLevelID uint8, h *Header) error {
	if len(b) < 12 {
		return errShortPacket
	}
	if b[0]>>6 != 2 {
		return errBadVersion
	}
	hasPadding := b[0]&0x20 != 0
	hasExt := b[0]&0x10 != 0
	cc := int(b[0] & 0x0f)
	h.Marker = b[1]&0x80 != 0
	h.PayloadType = b[1] & 0x7f
	h.Seq = uint16(b[2])<<8 | uint16(b[3])
	h.TS = uint32(b[4])<<24 | uint32(b[5])<<16 | uint32(b[6])<<8 | uint32(b[7])
	h.SSRC = uint32(b[8])<<24 | uint32(b[9])<<16 | uint32(b[10])<<8 | uint32(b[11])
	h.AudioLevel = -1
	h.Voice = false
	off := 12 + 4*cc
	if len(b) < off {
		return errShortPacket
	}
	if hasExt {
		if len(b) < off+4 {
			return errShortPacket
		}
		profile := uint16(b[off])<<8 | uint16(b[off+1])
		extLen := 4 * (int(b[off+2])<<8 | int(b[off+3]))
		start := off + 4
		off = start + extLen
		if len(b) < off {
			return errShortPacket
		}
		if audioLevelID != 0 {
			parseAudioLevel(b[start:off], profile, audioLevelID, h)
		}
	}
	h.HeaderLen = off
	end := len(b)
	h.PaddingLen = 0
	if hasPadding {
		if end == off {
			return errBadPadding
		}
		h.PaddingLen = b[end-1]
		if h.PaddingLen == 0 || int(h.PaddingLen) > end-off {
			return errBadPadding
		}
		end -= int(h.PaddingLen)
	}
	h.PayloadLen = end - off
	return nil
}

// parseAudioLevel walks one-byte (0xBEDE) or two-byte (0x100x) extension elements
// (RFC 8285 sections 4.2 and 4.3) looking for the audio level (RFC 6464 section 3).
func parseAudioLevel(ext []byte, profile uint16, id uint8, h *Header) {
	i := 0
	switch {
	case profile == 0xBEDE:
		for i < len(ext) {
			if ext[i] == 0 { // padding
				i++
				continue
			}
			eid := ext[i] >> 4
			l := int(ext[i]&0x0f) + 1
			if eid == 15 {
				return
			}
			i++
			if i+l > len(ext) {
				return
			}
			if eid == id {
				h.Voice = ext[i]&0x80 != 0
				h.AudioLevel = int8(ext[i] & 0x7f)
				return
			}
			i += l
		}
	case profile&0xfff0 == 0x1000:
		for i+1 < len(ext) {
			if ext[i] == 0 {
				i++
				continue
			}
			eid := ext[i]
			l := int(ext[i+1])
			i += 2
			if i+l > len(ext) {
				return
			}
			if eid == id && l >= 1 {
				h.Voice = ext[i]&0x80 != 0
				h.AudioLevel = int8(ext[i] & 0x7f)
				return
			}
			i += l
		}
	}
}

// seqUnwrapper extends 16-bit sequence numbers to 64 bits, tolerating reordering.
type seqUnwrapper struct {
	started bool
	highest uint64
}

// unwrap returns the extended sequence number for seq.
func (u *seqUnwrapper) unwrap(seq uint16) uint64 {
	if !u.started {
		u.started = true
		// Start at 1<<16 so reordered packets just before the first one do not go negative.
		u.highest = 1<<16 | uint64(seq)
		return u.highest
	}
	diff := int16(seq - uint16(u.highest))
	ext := uint64(int64(u.highest) + int64(diff))
	if ext > u.highest {
		u.highest = ext
	}
	return ext
}
