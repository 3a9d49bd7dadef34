package sfu

import (
	"github.com/cascade-sfu/cascade/bwe"
	"github.com/cascade-sfu/cascade/simulcast"
)

// StreamState is what a subscriber gets of one track, and why.
type StreamState struct {
	ParticipantSID string
	TrackSID       string
	State          bwe.TrackState
	CurrentRID     string
	TargetRID      string
	Reason         bwe.Reason
}

// StreamStateUpdate is the state of every video track a subscriber receives.
type StreamStateUpdate struct {
	Streams     []StreamState
	EstimateBps int
}

// SubscribedLayer says whether anyone needs one encoding of a published track.
type SubscribedLayer struct {
	RID    string
	Active bool
}

// QualitySink is implemented by sinks that carry quality messages: stream state to
// subscribers and dynacast layer updates to publishers.
type QualitySink interface {
	SendStreamState(u StreamStateUpdate)
	SendSubscribedLayers(trackSID string, layers []SubscribedLayer)
}

// TrackSettings are a subscriber's preferences for tracks it receives.
type TrackSettings struct {
	Disabled      bool
	Width, Height uint32 // rendered size; 0 for no limit
	MaxRID        string // "q", "h", "f" or "" for no cap
	Priority      int32
}

// maxLayer is the highest layer settings allow for a track with the given layers: the
// smallest one at least as large as the rendered size, within the cap.
func (s TrackSettings) maxLayer(layers []VideoLayer) int8 {
	maxL := simulcast.LayerF
	if s.MaxRID != "" {
		if l, ok := simulcast.LayerForRID(s.MaxRID); ok {
			maxL = l
		}
	}
	sizes := make([]simulcast.LayerSize, 0, len(layers))
	for _, vl := range layers {
		if l, ok := simulcast.LayerForRID(vl.RID); ok {
			sizes = append(sizes, simulcast.LayerSize{Layer: l, Width: vl.Width, Height: vl.Height})
		}
	}
	if len(sizes) == 0 {
		return maxL
	}
	return simulcast.LayerForSize(sizes, s.Width, s.Height, maxL)
}
