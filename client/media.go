package client

import (
	"time"

	"fmt"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Header extension URIs the client negotiates.
const (
	AudioLevelURI       = "urn:ietf:params:rtp-hdrext:ssrc-audio-level" // RFC 6464
	TransportWideCCURI  = sdp.TransportCCURI                            // draft-holmer-rmcat-transport-wide-cc-extensions-01
	MidURI              = sdp.SDESMidURI                                // RFC 8843
	RIDURI              = sdp.SDESRTPStreamIDURI                        // RFC 8852
	RepairedRIDURI      = sdp.SDESRepairRTPStreamIDURI                  // RFC 8852
	h264FmtpConstrained = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"
)

// videoFeedback is the RTCP feedback every video codec offers (RFC 4585, RFC 5104, TWCC).
var videoFeedback = []webrtc.RTCPFeedback{
	{Type: webrtc.TypeRTCPFBNACK},
	{Type: webrtc.TypeRTCPFBNACK, Parameter: "pli"},
	{Type: webrtc.TypeRTCPFBCCM, Parameter: "fir"},
	{Type: webrtc.TypeRTCPFBTransportCC},
}

// registerCodecs puts the codecs the SFU forwards into m, with the payload types browsers use.
// feedbackInterval is how often transport-wide congestion control feedback goes out.
const feedbackInterval = 50 * time.Millisecond

func registerCodecs(m *webrtc.MediaEngine) error {
	audio := []webrtc.RTPCodecParameters{{
		RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
			SDPFmtpLine:  "minptime=10;useinbandfec=1",
			RTCPFeedback: []webrtc.RTCPFeedback{{Type: webrtc.TypeRTCPFBTransportCC}},
		},
		PayloadType: 111,
	}}
	video := []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: videoFeedback}, PayloadType: 96},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: h264FmtpConstrained, RTCPFeedback: videoFeedback}, PayloadType: 102},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP9, ClockRate: 90000, SDPFmtpLine: "profile-id=0", RTCPFeedback: videoFeedback}, PayloadType: 98},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeAV1, ClockRate: 90000, RTCPFeedback: videoFeedback}, PayloadType: 45},
	}
	for _, c := range audio {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			return fmt.Errorf("register %s: %w", c.MimeType, err)
		}
	}
	for _, c := range video {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeVideo); err != nil {
			return fmt.Errorf("register %s: %w", c.MimeType, err)
		}
	}
	exts := []struct {
		uri   string
		kinds []webrtc.RTPCodecType
	}{
		{MidURI, []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo}},
		{RIDURI, []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo}},
		{RepairedRIDURI, []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo}},
		{AudioLevelURI, []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio}},
		{TransportWideCCURI, []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo}},
	}
	for _, e := range exts {
		for _, k := range e.kinds {
			if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: e.uri}, k); err != nil {
				return fmt.Errorf("register extension %s: %w", e.uri, err)
			}
		}
	}
	return nil
}

// newAPI builds the pion API for one of the client's peer connections: its own media engine,
// an explicit interceptor registry and a setting engine.
func newAPI(role PCRole, cfg *config, st *stamper) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := registerCodecs(m); err != nil {
		return nil, err
	}
	lf := pionLoggers{l: cfg.logger}
	r := &interceptor.Registry{}
	if cfg.defaultIcpt {
		if err := registerDefaultInterceptors(role, cfg, m, r, lf); err != nil {
			return nil, err
		}
	}
	if cfg.interceptorHook != nil {
		if err := cfg.interceptorHook(role, m, r); err != nil {
			return nil, fmt.Errorf("interceptor hook: %w", err)
		}
	}
	if st != nil {
		// Added last, so it is the outermost writer: the NACK responder stores (and resends)
		// packets that already carry mid and rid.
		r.Add(st)
	}

	se := webrtc.SettingEngine{LoggerFactory: lf}
	// mDNS candidates only help browsers hide their addresses; a Go client has no use for them
	// and they cost a multicast socket per connection.
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	for _, h := range cfg.settingHooks {
		h(role, &se)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(r), webrtc.WithSettingEngine(se)), nil
}

func registerDefaultInterceptors(role PCRole, cfg *config, m *webrtc.MediaEngine, r *interceptor.Registry, lf pionLoggers) error {
	switch role {
	case Publisher:
		// Registered first so it sits innermost: a NACKed packet resent by the responder gets a
		// fresh transport-wide sequence number, as a retransmission must.
		tw, err := twcc.NewHeaderExtensionInterceptor()
		if err != nil {
			return err
		}
		r.Add(tw)
		if err := addReports(r, lf); err != nil {
			return err
		}
		resp, err := nack.NewResponderInterceptor(nack.WithResponderLoggerFactory(lf))
		if err != nil {
			return err
		}
		r.Add(resp)
	case Subscriber:
		if err := addReports(r, lf); err != nil {
			return err
		}
		opts := []nack.GeneratorOption{nack.WithGeneratorLoggerFactory(lf)}
		if cfg.maxNacks > 0 {
			// Uncapped, pion re-requests a missing packet every interval; under a bandwidth
			// drop that becomes a retransmission storm (see TOOLING.md).
			opts = append(opts, nack.GeneratorMaxNacksPerPacket(cfg.maxNacks))
		}
		gen, err := nack.NewGeneratorInterceptor(opts...)
		if err != nil {
			return err
		}
		r.Add(gen)
		// Feedback every 50 ms, as browsers send it at video bitrates (libwebrtc spends up
		// to 5 % of the rate on it, within 50..250 ms): the sender's estimate follows a
		// drop in capacity that much sooner.
		fb, err := twcc.NewSenderInterceptor(twcc.SendInterval(feedbackInterval), twcc.WithLoggerFactory(lf))
		if err != nil {
			return err
		}
		r.Add(fb)
	}
	return nil
}

// addReports registers RTCP sender and receiver reports (RFC 3550 section 6.4).
func addReports(r *interceptor.Registry, lf pionLoggers) error {
	recv, err := report.NewReceiverInterceptor(report.WithReceiverLoggerFactory(lf))
	if err != nil {
		return err
	}
	send, err := report.NewSenderInterceptor(report.WithSenderLoggerFactory(lf))
	if err != nil {
		return err
	}
	r.Add(recv)
	r.Add(send)
	return nil
}
