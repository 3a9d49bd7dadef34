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
func (c Codec) CanDetectKeyframes() bool { return c == CodecVP8 || c == CodecH264 }

// IsKeyframe reports whether an RTP payload is the first packet of a keyframe.
func IsKeyframe(c Codec, payload []byte) bool {
	switch c {
	case CodecVP8:
		return vp8Keyframe(payload)
	case CodecH264:
		return h264Keyframe(payload)
	}
	return false
}

// vp8Keyframe parses the VP8 payload descriptor (RFC 7741 section 4.2) and checks the
// first partition's frame tag: S=1, PID=0 and the P bit (inverse key frame flag) clear
// (RFC 6386 section 9.1).
func vp8Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	x := p[0]&0x80 != 0
	s := p[0]&0x10 != 0
	pid := p[0] & 0x07
	if !s || pid != 0 {
		return false
	}
	i := 1
	if x {
		if len(p) < 2 {
			return false
		}
		ext := p[1]
		i = 2
		if ext&0x80 != 0 { // I: picture id
			if len(p) <= i {
				return false
			}
			if p[i]&0x80 != 0 { // M: 15-bit picture id
				i += 2
			} else {
				i++
			}
		}
		if ext&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if ext&0x30 != 0 { // T or K: TID/Y/KEYIDX byte
			i++
		}
	}
	if len(p) <= i {
		return false
	}
	return p[i]&0x01 == 0
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
