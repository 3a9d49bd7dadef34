package synth

import (
	"github.com/pion/webrtc/v4"
)

// NewVP8Track makes a VP8 track for a VP8Source.
func NewVP8Track(id, streamID string) (*webrtc.TrackLocalStaticRTP, error) {
	return webrtc.NewTrackLocalStaticRTP(
		webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: vp8ClockRate}, id, streamID)
}

// NewOpusTrack makes an Opus track for an OpusSource.
func NewOpusTrack(id, streamID string) (*webrtc.TrackLocalStaticRTP, error) {
	return webrtc.NewTrackLocalStaticRTP(
		webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: opusClockRate, Channels: 2},
		id, streamID)
}

// NewSimulcastTracks makes one VP8 track per rid (default q, h, f), all with the same id and
// stream id, as pion's simulcast sender (RTPSender.AddEncoding) requires.
func NewSimulcastTracks(id, streamID string, rids ...string) ([]*webrtc.TrackLocalStaticRTP, error) {
	if len(rids) == 0 {
		rids = []string{"q", "h", "f"}
	}
	tracks := make([]*webrtc.TrackLocalStaticRTP, 0, len(rids))
	for _, rid := range rids {
		t, err := webrtc.NewTrackLocalStaticRTP(
			webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: vp8ClockRate},
			id, streamID, webrtc.WithRTPStreamID(rid))
		if err != nil {
			return nil, err
		}
		tracks = append(tracks, t)
	}
	return tracks, nil
}
