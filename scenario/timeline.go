package scenario

import (
	"fmt"
	"strings"
)

// Sample is the state of the run at one moment of the timeline; rates and counts are over
// the interval since the previous sample.
type Sample struct {
	T           float64            `json:"t"` // seconds since media started
	Subscribers []SubscriberSample `json:"subscribers"`
	Publishers  []PublisherSample  `json:"publishers"`
}

// SubscriberSample is one subscriber at one moment.
type SubscriberSample struct {
	Name string `json:"name"`
	// CapacityBps is the link's rate (0: unshaped).
	CapacityBps int `json:"capacity_bps"`
	// EstimateBps is the SFU's estimate of the link as last reported to the subscriber.
	EstimateBps int `json:"estimate_bps"`
	// DeliveredBps is the media (RTP, headers included) that arrived.
	DeliveredBps int `json:"delivered_bps"`
	// LossPct is the share of media packets that did not arrive on the first try.
	LossPct float64 `json:"loss_pct"`
	// ExpectedPkts are the media sequence numbers that came due in the interval; LostPkts
	// those of them that did not arrive on the first try.
	ExpectedPkts int           `json:"expected_pkts"`
	LostPkts     int           `json:"lost_pkts"`
	Tracks       []TrackSample `json:"tracks"`
}

// TrackSample is one received track at one moment.
type TrackSample struct {
	Track string `json:"track"` // publisher/camera or publisher/microphone
	Video bool   `json:"video"`
	// The SFU's view, from its stream state messages: state (active, paused_bandwidth,
	// paused_preference), why, and the layer it forwards and aims for.
	State      string `json:"state,omitempty"`
	Reason     string `json:"reason,omitempty"`
	CurrentRID string `json:"current_rid,omitempty"`
	TargetRID  string `json:"target_rid,omitempty"`
	// Layer is the layer of the last frame that arrived ("" for none in the interval).
	Layer        string  `json:"layer,omitempty"`
	Frames       int     `json:"frames"`
	DeliveredBps int     `json:"delivered_bps"`
	LossPct      float64 `json:"loss_pct"`
}

// PublisherSample is what one publisher sent in the interval.
type PublisherSample struct {
	Name   string        `json:"name"`
	Layers []LayerSample `json:"layers,omitempty"`
}

// LayerSample is one simulcast layer of a publisher.
type LayerSample struct {
	RID    string `json:"rid"`
	Active bool   `json:"active"` // the SFU has not paused it (dynacast)
	Frames int    `json:"frames"`
	Bps    int    `json:"bps"` // payload bits per second
}

// Subscriber returns the sample of the named subscriber, or nil.
func (s *Sample) Subscriber(name string) *SubscriberSample {
	for i := range s.Subscribers {
		if s.Subscribers[i].Name == name {
			return &s.Subscribers[i]
		}
	}
	return nil
}

// Publisher returns the sample of the named publisher, or nil.
func (s *Sample) Publisher(name string) *PublisherSample {
	for i := range s.Publishers {
		if s.Publishers[i].Name == name {
			return &s.Publishers[i]
		}
	}
	return nil
}

// Track returns the sample of the named track ("alice/camera"), or nil.
func (s *SubscriberSample) Track(name string) *TrackSample {
	for i := range s.Tracks {
		if s.Tracks[i].Track == name {
			return &s.Tracks[i]
		}
	}
	return nil
}

// CameraOf names a publisher's video track in samples.
func CameraOf(publisher string) string { return publisher + "/camera" }

// MicrophoneOf names a publisher's audio track in samples.
func MicrophoneOf(publisher string) string { return publisher + "/microphone" }

// FormatSample renders a sample as timeline lines, one per subscriber:
//
//	t=10.5 sub=bob cap=400k est=380k got=210k loss=0.0% | alice/camera active q->q got=q 30fr 180k
func FormatSample(s Sample) string {
	var b strings.Builder
	for _, sub := range s.Subscribers {
		fmt.Fprintf(&b, "t=%5.1f %-12s cap=%-6s est=%-6s got=%-6s loss=%4.1f%%", s.T, sub.Name,
			kbps(sub.CapacityBps), kbps(sub.EstimateBps), kbps(sub.DeliveredBps), sub.LossPct)
		for _, t := range sub.Tracks {
			if !t.Video {
				fmt.Fprintf(&b, " | %s %s", t.Track, kbps(t.DeliveredBps))
				continue
			}
			state := t.State
			if state == "" {
				state = "-"
			}
			fmt.Fprintf(&b, " | %s %s cur=%s tgt=%s got=%s %dfr %s", t.Track, state, orDash(t.CurrentRID),
				orDash(t.TargetRID), orDash(t.Layer), t.Frames, kbps(t.DeliveredBps))
		}
		b.WriteByte('\n')
	}
	for _, p := range s.Publishers {
		if len(p.Layers) == 0 {
			continue
		}
		fmt.Fprintf(&b, "t=%5.1f %-12s sent", s.T, p.Name)
		for _, l := range p.Layers {
			mark := ""
			if !l.Active {
				mark = "(paused)"
			}
			fmt.Fprintf(&b, " %s=%s%s", l.RID, kbps(l.Bps), mark)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// kbps renders a bitrate compactly: 0 as "-", then k or M.
func kbps(bps int) string {
	switch {
	case bps <= 0:
		return "-"
	case bps >= 10_000_000:
		return fmt.Sprintf("%.0fM", float64(bps)/1e6)
	case bps >= 1_000_000:
		return fmt.Sprintf("%.2fM", float64(bps)/1e6)
	}
	return fmt.Sprintf("%dk", (bps+500)/1000)
}
