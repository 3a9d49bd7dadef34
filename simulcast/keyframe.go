package simulcast

import "strings"

// Codec identifies the payload format for keyframe detection.
type Codec uint8

const (
	CodecUnknown Codec = iota
	CodecOpus
	CodecVP8
	CodecH264
	CodecVP9
	CodecAV1
)

// CodecFromMime maps a MIME type such as "video/VP8" to a Codec.
func CodecFromMime(mime string) Codec {
	switch strings.ToLower(mime) {
	case "audio/opus":
		return CodecOpus
	case "video/vp8":
		return CodecVP8
	case "video/h264":
		return CodecH264
	case "video/vp9":
		return CodecVP9
	case "video/av1":
		return CodecAV1
	}
	return CodecUnknown
}

// CanDetectKeyframes reports whether IsKeyframe understands codec, so a selector may wait
// for a keyframe before starting or switching.
func (c Codec) CanDetectKeyframes() bool {
	return c == CodecVP8 || c == CodecH264 || c == CodecVP9 || c == CodecAV1
}

// IsKeyframe reports whether an RTP payload is the first packet of a keyframe.
func IsKeyframe(c Codec, payload []byte) bool {
	switch c {
	case CodecVP8:
		return vp8Keyframe(payload)
	case CodecH264:
		return h264Keyframe(payload)
	case CodecVP9:
		return vp9Keyframe(payload)
	case CodecAV1:
		return av1Keyframe(payload)
	}
	return false
}

// vp8Keyframe parses the VP8 payload descriptor (RFC 7741 section 4.2) and checks the
// first partition's frame tag: S=1, PID=0 and the P bit (inverse key frame flag) clear
// (RFC 6386 section 9.1).
func vp8Keyframe(p []byte) bool {
	var d VP8Descriptor
	return d.Unmarshal(p) == nil && d.Keyframe(p)
}

// vp9Keyframe reads the VP9 payload descriptor (RFC 9628 section 4.2, formerly
// draft-ietf-payload-vp9):
//
//	      0 1 2 3 4 5 6 7
//	     +-+-+-+-+-+-+-+-+
//	     |I|P|L|F|B|E|V|Z|
//	     +-+-+-+-+-+-+-+-+
//	I:   |M| PICTURE ID  |   (M=1: 15 bits over two bytes)
//	     +-+-+-+-+-+-+-+-+
//	L:   |  TID|U| SID |D|
//	     +-+-+-+-+-+-+-+-+
//	     |   TL0PICIDX   |   (non-flexible mode, F=0, only)
//	     +-+-+-+-+-+-+-+-+
//
// A key picture starts where a frame begins (B=1) that is not inter-picture predicted
// (P=0) in the lowest spatial layer (SID=0; no layer indices means a single layer). Upper
// spatial layers of a key picture also have P=0 but depend on the layer below, so they
// are no place to start. Flexible mode (F=1) carries no TL0PICIDX, and P_DIFF references
// only when P=1, which a key frame never has.
func vp9Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	b := p[0]
	if b&0x40 != 0 || b&0x08 == 0 { // P set or B clear
		return false
	}
	n := 1
	if b&0x80 != 0 { // I: picture id
		if len(p) <= n {
			return false
		}
		if p[n]&0x80 != 0 {
			n += 2
		} else {
			n++
		}
	}
	if b&0x20 != 0 { // L: layer indices
		if len(p) <= n {
			return false
		}
		if sid := p[n] >> 1 & 0x07; sid != 0 {
			return false
		}
		n++
		if b&0x10 == 0 { // non-flexible: TL0PICIDX follows
			n++
		}
	}
	return len(p) > n
}

// av1Keyframe reads the aggregation header of the AV1 RTP payload (AV1 RTP specification,
// section 4.4):
//
//	 0 1 2 3 4 5 6 7
//	+-+-+-+-+-+-+-+-+
//	|Z|Y| W |N|-|-|-|
//	+-+-+-+-+-+-+-+-+
//
// N is set on the first packet of a coded video sequence, which begins with a sequence
// header and a key frame (encoders such as libwebrtc start one at every key frame). Z=1
// (the packet continues an OBU from the previous one) cannot be such a first packet.
func av1Keyframe(p []byte) bool {
	return len(p) >= 2 && p[0]&0x08 != 0 && p[0]&0x80 == 0
}

// H.264 NAL unit types (RFC 6184 section 5.2).
const (
	naluIDR   = 5
	naluSPS   = 7
	naluSTAPA = 24
	naluFUA   = 28
)

// h264Keyframe recognises an IDR slice or SPS in a single NAL unit packet, inside a STAP-A
// aggregate, or at the start of an FU-A fragment (RFC 6184 sections 5.6, 5.7.1, 5.8).
func h264Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	switch t := p[0] & 0x1f; t {
	case naluIDR, naluSPS:
		return true
	case naluSTAPA:
		i := 1
		for i+2 < len(p) {
			size := int(p[i])<<8 | int(p[i+1])
			i += 2
			if size == 0 || i+size > len(p) {
				return false
			}
			if nt := p[i] & 0x1f; nt == naluIDR || nt == naluSPS {
				return true
			}
			i += size
		}
	case naluFUA:
		if len(p) < 2 {
			return false
		}
		start := p[1]&0x80 != 0
		return start && p[1]&0x1f == naluIDR
	}
	return false
}
