package synth

import "fmt"

// VP8Descriptor is the VP8 RTP payload descriptor (RFC 7741 section 4.2):
//
//	      0 1 2 3 4 5 6 7
//	     +-+-+-+-+-+-+-+-+
//	     |X|R|N|S|R| PID | (REQUIRED)
//	     +-+-+-+-+-+-+-+-+
//	X:   |I|L|T|K| RSV   | (OPTIONAL)
//	     +-+-+-+-+-+-+-+-+
//	I:   |M| PictureID   | (OPTIONAL, M=1: 15 bits over two bytes)
//	     +-+-+-+-+-+-+-+-+
//	     |   PictureID   |
//	     +-+-+-+-+-+-+-+-+
//	L:   |   TL0PICIDX   | (OPTIONAL)
//	     +-+-+-+-+-+-+-+-+
//	T/K: |TID|Y| KEYIDX  | (OPTIONAL)
//	     +-+-+-+-+-+-+-+-+
type VP8Descriptor struct {
	NonReference bool  // N: the frame is not used as a reference
	Start        bool  // S: first packet of a VP8 partition
	PartitionID  uint8 // PID

	HasPictureID bool
	PictureID    uint16 // 7 or 15 bits
	LongPicID    bool   // M: PictureID is 15 bits

	HasTL0PICIDX bool
	TL0PICIDX    uint8

	HasTID    bool
	TID       uint8 // temporal layer, 0..3
	LayerSync bool  // Y: depends only on the base temporal layer

	HasKeyIdx bool
	KeyIdx    uint8 // 0..31
}

// Size returns the number of bytes the descriptor takes on the wire.
func (d *VP8Descriptor) Size() int {
	n := 1
	if d.HasPictureID || d.HasTL0PICIDX || d.HasTID || d.HasKeyIdx {
		n++
	}
	if d.HasPictureID {
		n++
		if d.LongPicID {
			n++
		}
	}
	if d.HasTL0PICIDX {
		n++
	}
	if d.HasTID || d.HasKeyIdx {
		n++
	}
	return n
}

// MarshalTo writes the descriptor at the start of b and returns the bytes written. b must hold
// Size() bytes.
func (d *VP8Descriptor) MarshalTo(b []byte) int {
	ext := d.HasPictureID || d.HasTL0PICIDX || d.HasTID || d.HasKeyIdx
	var b0 byte
	if ext {
		b0 |= 0x80
	}
	if d.NonReference {
		b0 |= 0x20
	}
	if d.Start {
		b0 |= 0x10
	}
	b0 |= d.PartitionID & 0x07
	b[0] = b0
	n := 1
	if !ext {
		return n
	}
	var x byte
	if d.HasPictureID {
		x |= 0x80
	}
	if d.HasTL0PICIDX {
		x |= 0x40
	}
	if d.HasTID {
		x |= 0x20
	}
	if d.HasKeyIdx {
		x |= 0x10
	}
	b[n] = x
	n++
	if d.HasPictureID {
		if d.LongPicID {
			b[n] = 0x80 | byte(d.PictureID>>8)&0x7f
			b[n+1] = byte(d.PictureID)
			n += 2
		} else {
			b[n] = byte(d.PictureID) & 0x7f
			n++
		}
	}
	if d.HasTL0PICIDX {
		b[n] = d.TL0PICIDX
		n++
	}
	if d.HasTID || d.HasKeyIdx {
		var t byte
		if d.HasTID {
			t |= (d.TID & 0x03) << 6
			if d.LayerSync {
				t |= 0x20
			}
		}
		if d.HasKeyIdx {
			t |= d.KeyIdx & 0x1f
		}
		b[n] = t
		n++
	}
	return n
}

// ParseVP8Descriptor reads the descriptor at the start of an RTP payload. It returns the
// descriptor and its size; the VP8 data follows at payload[size:].
func ParseVP8Descriptor(payload []byte) (VP8Descriptor, int, error) {
	var d VP8Descriptor
	if len(payload) < 1 {
		return d, 0, fmt.Errorf("%w: empty VP8 payload", ErrShortPacket)
	}
	b0 := payload[0]
	d.NonReference = b0&0x20 != 0
	d.Start = b0&0x10 != 0
	d.PartitionID = b0 & 0x07
	n := 1
	if b0&0x80 == 0 {
		return d, n, nil
	}
	if len(payload) < n+1 {
		return d, 0, fmt.Errorf("%w: VP8 descriptor extension byte missing", ErrShortPacket)
	}
	x := payload[n]
	n++
	d.HasPictureID = x&0x80 != 0
	d.HasTL0PICIDX = x&0x40 != 0
	d.HasTID = x&0x20 != 0
	d.HasKeyIdx = x&0x10 != 0
	if d.HasPictureID {
		if len(payload) < n+1 {
			return d, 0, fmt.Errorf("%w: VP8 picture id missing", ErrShortPacket)
		}
		if payload[n]&0x80 != 0 {
			if len(payload) < n+2 {
				return d, 0, fmt.Errorf("%w: VP8 15-bit picture id truncated", ErrShortPacket)
			}
			d.LongPicID = true
			d.PictureID = uint16(payload[n]&0x7f)<<8 | uint16(payload[n+1])
			n += 2
		} else {
			d.PictureID = uint16(payload[n] & 0x7f)
			n++
		}
	}
	if d.HasTL0PICIDX {
		if len(payload) < n+1 {
			return d, 0, fmt.Errorf("%w: VP8 TL0PICIDX missing", ErrShortPacket)
		}
		d.TL0PICIDX = payload[n]
		n++
	}
	if d.HasTID || d.HasKeyIdx {
		if len(payload) < n+1 {
			return d, 0, fmt.Errorf("%w: VP8 TID/KEYIDX byte missing", ErrShortPacket)
		}
		t := payload[n]
		if d.HasTID {
			d.TID = t >> 6
			d.LayerSync = t&0x20 != 0
		}
		if d.HasKeyIdx {
			d.KeyIdx = t & 0x1f
		}
		n++
	}
	return d, n, nil
}

// VP8 payload header (RFC 7741 section 4.3; RFC 6386 section 9.1): the first three bytes of a
// frame are a little-endian 24-bit frame tag. Bit 0 is P, the inverse key frame flag (0 means
// key frame), bits 1..3 the version, bit 4 show_frame, bits 5..23 the first partition's size.
// A key frame follows it with the start code 9d 01 2a and two 16-bit little-endian dimensions
// (14 bits of size, 2 bits of scaling).
const (
	vp8FrameTagSize   = 3
	vp8KeyHeaderSize  = 10
	vp8MaxFirstPartSz = 1<<19 - 1
)

// putVP8FrameHeader writes the VP8 payload header for a frame and returns its size.
func putVP8FrameHeader(b []byte, key bool, firstPartSize int, width, height int) int {
	if firstPartSize > vp8MaxFirstPartSz {
		firstPartSize = vp8MaxFirstPartSz
	}
	tag := uint32(firstPartSize)<<5 | 1<<4 // show_frame, version 0
	if !key {
		tag |= 1 // P: inter frame
	}
	b[0] = byte(tag)
	b[1] = byte(tag >> 8)
	b[2] = byte(tag >> 16)
	if !key {
		return vp8FrameTagSize
	}
	b[3], b[4], b[5] = 0x9d, 0x01, 0x2a
	b[6] = byte(width)
	b[7] = byte(width>>8) & 0x3f
	b[8] = byte(height)
	b[9] = byte(height>>8) & 0x3f
	return vp8KeyHeaderSize
}

// VP8FrameInfo is what the VP8 payload header at the start of a frame says.
type VP8FrameInfo struct {
	Keyframe      bool
	Show          bool
	Version       uint8
	FirstPartSize int
	Width, Height int // key frames only
	HeaderSize    int // bytes before the compressed data (3, or 10 for key frames)
}

// ParseVP8FrameHeader reads the VP8 payload header at the start of a frame (the bytes after
// the payload descriptor of a packet whose descriptor has S set and PartitionID 0).
func ParseVP8FrameHeader(b []byte) (VP8FrameInfo, error) {
	if len(b) < vp8FrameTagSize {
		return VP8FrameInfo{}, fmt.Errorf("%w: VP8 frame tag truncated", ErrShortPacket)
	}
	tag := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
	fi := VP8FrameInfo{
		Keyframe:      tag&1 == 0,
		Version:       uint8(tag>>1) & 0x07,
		Show:          tag&0x10 != 0,
		FirstPartSize: int(tag >> 5),
		HeaderSize:    vp8FrameTagSize,
	}
	if !fi.Keyframe {
		return fi, nil
	}
	if len(b) < vp8KeyHeaderSize {
		return fi, fmt.Errorf("%w: VP8 key frame header truncated", ErrShortPacket)
	}
	if b[3] != 0x9d || b[4] != 0x01 || b[5] != 0x2a {
		return fi, fmt.Errorf("%w: VP8 key frame start code missing", ErrNotSynthetic)
	}
	fi.Width = int(b[6]) | int(b[7]&0x3f)<<8
	fi.Height = int(b[8]) | int(b[9]&0x3f)<<8
	fi.HeaderSize = vp8KeyHeaderSize
	return fi, nil
}

// IsVP8Keyframe reports whether an RTP payload is the first packet of a VP8 key frame: the
// descriptor has S set and PartitionID 0, and the P bit of the payload header is 0.
func IsVP8Keyframe(payload []byte) bool {
	d, n, err := ParseVP8Descriptor(payload)
	if err != nil || !d.Start || d.PartitionID != 0 || len(payload) <= n {
		return false
	}
	return payload[n]&0x01 == 0
}
