package transport

import (
	"github.com/pion/webrtc/v4"
)

// Header extension URIs (RFC 8285 registrations).
const (
	ExtMID         = "urn:ietf:params:rtp-hdrext:sdes:mid"
	ExtRID         = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
	ExtRepairedRID = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
	ExtAudioLevel  = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
	ExtTWCC        = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
)

var videoFeedback = []webrtc.RTCPFeedback{
	{Type: webrtc.TypeRTCPFBGoogREMB}, // only used by receivers without transport-cc
	{Type: webrtc.TypeRTCPFBTransportCC},
	{Type: webrtc.TypeRTCPFBCCM, Parameter: "fir"},
	{Type: webrtc.TypeRTCPFBNACK},
	{Type: webrtc.TypeRTCPFBNACK, Parameter: "pli"},
}

// Codecs is the set of codecs Cascade forwards, with fixed payload types.
var Codecs = []webrtc.RTPCodecParameters{
	{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
		SDPFmtpLine: "minptime=10;useinbandfec=1", RTCPFeedback: []webrtc.RTCPFeedback{{Type: webrtc.TypeRTCPFBTransportCC}}}, PayloadType: 111},
	{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: videoFeedback}, PayloadType: 96},
	{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", RTCPFeedback: videoFeedback}, PayloadType: 102},
	{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f", RTCPFeedback: videoFeedback}, PayloadType: 108},
	{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP9, ClockRate: 90000,
		SDPFmtpLine: "profile-id=0", RTCPFeedback: videoFeedback}, PayloadType: 98},
	{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeAV1, ClockRate: 90000, RTCPFeedback: videoFeedback}, PayloadType: 45},
}

// RegisterCodecs adds Cascade's codecs and the header extensions for role to m.
func RegisterCodecs(m *webrtc.MediaEngine, publisher bool) error {
	for _, c := range Codecs {
		kind := webrtc.RTPCodecTypeVideo
		if c.MimeType == webrtc.MimeTypeOpus {
			kind = webrtc.RTPCodecTypeAudio
		}
		if err := m.RegisterCodec(c, kind); err != nil {
			return err
		}
	}
	type ext struct {
		uri   string
		kinds []webrtc.RTPCodecType
	}
	both := []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo}
	video := []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo}
	exts := []ext{{ExtMID, both}, {ExtTWCC, both}}
	if publisher {
		// rid and repaired-rid carry simulcast; audio level drives active speakers.
		exts = append(exts, ext{ExtRID, video}, ext{ExtRepairedRID, video},
			ext{ExtAudioLevel, []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio}})
	}
	for _, e := range exts {
		for _, k := range e.kinds {
			if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: e.uri}, k); err != nil {
				return err
			}
		}
	}
	return nil
}
