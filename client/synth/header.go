package synth

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"
)

// HeaderSize is the size of the synthetic frame header.
const HeaderSize = 28

// headerMagic opens every synthetic frame header.
var headerMagic = [4]byte{'C', 'S', 'Y', 'N'}

const headerVersion = 1

// MediaKind says what kind of source made a frame.
type MediaKind uint8

// Media kinds carried in the frame header.
const (
	KindVideo MediaKind = 1
	KindAudio MediaKind = 2
)

// FrameHeader is the synthetic header embedded in every frame, after the codec's header.
//
// Layout (big endian):
//
//	0  magic "CSYN"
//	4  version
//	5  flags: bit 0 keyframe, bits 4..7 layer
//	6  kind
//	7  reserved (0)
//	8  frame number (uint32)
//	12 send time, unix nanoseconds (int64)
//	20 length: bytes from the start of this header to the end of the frame (uint32)
//	24 CRC-32 (IEEE) of bytes 0..23
//
// The Length bytes after the header's start are the header followed by a pattern that depends
// only on (Kind, Layer, FrameNumber), so a receiver can check a frame without any shared state.
type FrameHeader struct {
	Kind        MediaKind
	Keyframe    bool
	Layer       uint8 // simulcast layer index (0 = q); 0..15
	FrameNumber uint32
	SendTime    int64 // unix nanoseconds
	Length      uint32
}

// SendTimeAsTime returns the send time as a time.Time.
func (h FrameHeader) SendTimeAsTime() time.Time { return time.Unix(0, h.SendTime) }

// Latency is now minus the send time.
func (h FrameHeader) Latency(now time.Time) time.Duration {
	return time.Duration(now.UnixNano() - h.SendTime)
}

// MarshalTo writes the header into b, which must hold HeaderSize bytes.
func (h FrameHeader) MarshalTo(b []byte) {
	_ = b[HeaderSize-1]
	copy(b[0:4], headerMagic[:])
	b[4] = headerVersion
	var flags byte
	if h.Keyframe {
		flags |= 0x01
	}
	flags |= (h.Layer & 0x0f) << 4
	b[5] = flags
	b[6] = byte(h.Kind)
	b[7] = 0
	binary.BigEndian.PutUint32(b[8:], h.FrameNumber)
	binary.BigEndian.PutUint64(b[12:], uint64(h.SendTime))
	binary.BigEndian.PutUint32(b[20:], h.Length)
	binary.BigEndian.PutUint32(b[24:], crc32.ChecksumIEEE(b[:24]))
}

// ParseHeader reads a synthetic frame header from the start of b. It checks the magic, version
// and CRC but not the frame body; use VerifyFrame for that.
func ParseHeader(b []byte) (FrameHeader, error) {
	if len(b) < HeaderSize {
		return FrameHeader{}, fmt.Errorf("%w: %d bytes, header needs %d", ErrShortPacket, len(b), HeaderSize)
	}
	if [4]byte(b[0:4]) != headerMagic || b[4] != headerVersion {
		return FrameHeader{}, ErrNotSynthetic
	}
	if crc32.ChecksumIEEE(b[:24]) != binary.BigEndian.Uint32(b[24:]) {
		return FrameHeader{}, ErrHeaderChecksum
	}
	return FrameHeader{
		Kind:        MediaKind(b[6]),
		Keyframe:    b[5]&0x01 != 0,
		Layer:       b[5] >> 4,
		FrameNumber: binary.BigEndian.Uint32(b[8:]),
		SendTime:    int64(binary.BigEndian.Uint64(b[12:])),
		Length:      binary.BigEndian.Uint32(b[20:]),
	}, nil
}

// VerifyFrame checks a whole synthetic frame that starts with its header (that is, with the
// codec's own header already removed): header CRC, length, and every pattern byte.
func VerifyFrame(b []byte) (FrameHeader, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return h, err
	}
	if uint32(len(b)) != h.Length {
		return h, fmt.Errorf("%w: frame %d has %d bytes, header says %d", ErrLength, h.FrameNumber, len(b), h.Length)
	}
	if i := checkPattern(b[HeaderSize:], patternSeed(h.Kind, h.Layer, h.FrameNumber)); i >= 0 {
		return h, fmt.Errorf("%w: frame %d differs at body offset %d", ErrCorrupt, h.FrameNumber, i)
	}
	return h, nil
}

// writeFrame writes a header for h followed by its pattern into b; len(b) must be h.Length.
func writeFrame(b []byte, h FrameHeader) {
	h.MarshalTo(b)
	fillPattern(b[HeaderSize:], patternSeed(h.Kind, h.Layer, h.FrameNumber))
}

// patternSeed derives the pattern's seed from what identifies a frame. splitmix64's finalizer
// spreads consecutive frame numbers into unrelated seeds.
func patternSeed(kind MediaKind, layer uint8, frame uint32) uint64 {
	z := uint64(frame)<<16 | uint64(layer)<<8 | uint64(kind)
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	if z == 0 {
		z = 1 // xorshift must not start at zero
	}
	return z
}

// next is one xorshift64* step.
func next(s *uint64) uint64 {
	x := *s
	x ^= x >> 12
	x ^= x << 25
	x ^= x >> 27
	*s = x
	return x * 0x2545f4914f6cdd1d
}

// fillPattern fills b with the pattern for seed, eight bytes at a time.
func fillPattern(b []byte, seed uint64) {
	s := seed
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, next(&s))
		b = b[8:]
	}
	if len(b) > 0 {
		v := next(&s)
		for i := range b {
			b[i] = byte(v >> (8 * i))
		}
	}
}

// checkPattern returns the offset of the first byte of b that differs from the pattern for
// seed, or -1 when all match.
func checkPattern(b []byte, seed uint64) int {
	s := seed
	for off := 0; off < len(b); off += 8 {
		v := next(&s)
		if len(b)-off >= 8 && binary.LittleEndian.Uint64(b[off:]) == v {
			continue
		}
		for i := 0; i < 8 && off+i < len(b); i++ {
			if b[off+i] != byte(v>>(8*i)) {
				return off + i
			}
		}
	}
	return -1
}
