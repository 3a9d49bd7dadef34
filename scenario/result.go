package scenario

import (
	"encoding/json"
	"io"
	"time"
)

// Result is everything a run observed. It is what --json writes.
type Result struct {
	Scenario       string             `json:"scenario"`
	Summary        string             `json:"summary"`
	DurationSec    float64            `json:"duration_s"`
	SampleEverySec float64            `json:"sample_every_s"`
	Focus          Focus              `json:"focus"`
	Steps          []StepResult       `json:"steps"`
	Samples        []Sample           `json:"samples"`
	Subscribers    []SubscriberResult `json:"subscriber_totals"`
	Publishers     []PublisherResult  `json:"publisher_totals"`
	Figures        Figures            `json:"figures"`
	SummaryLine    string             `json:"summary_line"`

	packets map[string][]PacketRecord // by subscriber "\x00" track name
}

// StepResult is a step as it was applied.
type StepResult struct {
	AtSec      float64 `json:"at_s"`
	Subscriber string  `json:"subscriber"`
	Action     string  `json:"action"`
	Value      int     `json:"value,omitempty"`
	RID        string  `json:"rid,omitempty"`
	Label      string  `json:"label,omitempty"`
	Expect     string  `json:"expect,omitempty"`
}

// SubscriberResult is what one subscriber received over the whole run.
type SubscriberResult struct {
	Name   string        `json:"name"`
	Tracks []TrackResult `json:"tracks"`
}

// TrackResult is what one subscriber received of one track.
type TrackResult struct {
	Track string `json:"track"`
	Video bool   `json:"video"`
	// Packets read (retransmissions included), the sequence numbers expected, those never
	// received, those missing on the first try and those of them repaired later.
	Packets  uint64 `json:"packets"`
	Padding  uint64 `json:"padding_packets"`
	Expected uint64 `json:"expected"`
	Lost     uint64 `json:"lost"`
	Holes    uint64 `json:"first_try_lost"`
	Repaired uint64 `json:"repaired"`
	// Video: verified frames, keyframes, corrupt frames, frames per layer (q, h, f).
	Frames      uint64 `json:"frames,omitempty"`
	Keyframes   uint64 `json:"keyframes,omitempty"`
	Corrupt     uint64 `json:"corrupt"`
	LayerFrames [3]int `json:"layer_frames,omitzero"`
	// Audio: verified packets.
	Audio uint64 `json:"audio_packets,omitempty"`
	// MaxFreezeMs is the longest span without a frame after the first; MaxStallMs the same
	// less the time the SFU reported the track paused.
	MaxFreezeMs int               `json:"max_freeze_ms"`
	MaxStallMs  int               `json:"max_stall_ms"`
	Continuity  *ContinuityReport `json:"continuity,omitempty"`
	States      []StateChange     `json:"states,omitempty"`
}

// StateChange is a stream state the SFU reported, at an offset of the run.
type StateChange struct {
	AtSec      float64 `json:"at_s"`
	State      string  `json:"state"`
	CurrentRID string  `json:"current_rid,omitempty"`
	TargetRID  string  `json:"target_rid,omitempty"`
	Reason     string  `json:"reason,omitempty"`
}

// PublisherResult is what one publisher sent over the whole run.
type PublisherResult struct {
	Name   string        `json:"name"`
	Layers []LayerResult `json:"layers,omitempty"`
	// PLIs and NACKed packets the SFU sent it about its camera.
	PLIs          uint64 `json:"plis"`
	NACKedPackets uint64 `json:"nacked_packets"`
}

// LayerResult is one simulcast layer a publisher sent.
type LayerResult struct {
	RID       string `json:"rid"`
	Frames    uint64 `json:"frames"`
	Keyframes uint64 `json:"keyframes"`
	Packets   uint64 `json:"packets"`
	Bytes     uint64 `json:"bytes"`
}

// continuityMaxGap is the longest run of missing sequence numbers CheckContinuity takes
// for loss rather than a numbering jump.
const continuityMaxGap = 100

// Packets returns the numbering of every distinct video packet a subscriber received of a
// track ("alice/camera"), in sequence order.
func (r *Result) Packets(subscriber, track string) []PacketRecord {
	return r.packets[subscriber+"\x00"+track]
}

// Subscriber returns a subscriber's totals, or nil.
func (r *Result) Subscriber(name string) *SubscriberResult {
	for i := range r.Subscribers {
		if r.Subscribers[i].Name == name {
			return &r.Subscribers[i]
		}
	}
	return nil
}

// Track returns the totals of a track, or nil.
func (s *SubscriberResult) Track(name string) *TrackResult {
	for i := range s.Tracks {
		if s.Tracks[i].Track == name {
			return &s.Tracks[i]
		}
	}
	return nil
}

// Publisher returns a publisher's totals, or nil.
func (r *Result) Publisher(name string) *PublisherResult {
	for i := range r.Publishers {
		if r.Publishers[i].Name == name {
			return &r.Publishers[i]
		}
	}
	return nil
}

// SamplesBetween returns the samples taken in [from, to] seconds.
func (r *Result) SamplesBetween(from, to float64) []Sample {
	var out []Sample
	for _, s := range r.Samples {
		if s.T >= from && s.T <= to {
			out = append(out, s)
		}
	}
	return out
}

// WriteJSON writes the result as indented JSON.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// result assembles the Result once the timeline is over.
func (r *run) result(samples []Sample) *Result {
	end := time.Since(r.start)
	res := &Result{Scenario: r.spec.Name, Summary: r.spec.Summary, DurationSec: r.spec.Duration.Seconds(),
		SampleEverySec: r.spec.SampleEvery.Seconds(), Focus: r.spec.Focus, Samples: samples,
		packets: map[string][]PacketRecord{}}
	for _, s := range r.steps {
		res.Steps = append(res.Steps, StepResult{AtSec: s.t.Seconds(), Subscriber: s.Subscriber, Action: s.Action.String(),
			Value: s.Value, RID: s.RID, Label: s.Label, Expect: s.Expect})
	}
	in := figureInput{end: end, steps: r.steps, focus: r.spec.Focus.Subscriber, samples: samples}
	for _, p := range r.subs {
		sr := SubscriberResult{Name: p.name}
		for _, c := range p.obs.Counters() {
			name := r.trackName(c)
			tr := TrackResult{Track: name, Video: c.Video, Packets: c.Packets, Padding: c.Padding, Expected: c.Expected,
				Lost: c.Lost(), Holes: c.Holes, Repaired: c.Repaired, Frames: c.Frames, Keyframes: c.Keyframes,
				Corrupt: c.Corrupt, Audio: c.Audio}
			var paused []interval
			states := p.obs.States(c.TrackSID)
			for i, st := range states {
				at := st.At.Sub(r.start)
				tr.States = append(tr.States, StateChange{AtSec: at.Seconds(), State: st.State, CurrentRID: st.CurrentRID,
					TargetRID: st.TargetRID, Reason: st.Reason})
				if st.State != "active" {
					to := end
					if i+1 < len(states) {
						to = states[i+1].At.Sub(r.start)
					}
					paused = append(paused, interval{from: at, to: to})
				}
			}
			if c.Video {
				var frames []frameAt
				for _, f := range p.obs.Frames(c.TrackSID) {
					frames = append(frames, frameAt{t: f.At.Sub(r.start), layer: f.Layer})
					if f.Layer >= 0 && int(f.Layer) < len(tr.LayerFrames) {
						tr.LayerFrames[f.Layer]++
					}
				}
				if len(frames) > 0 {
					tr.MaxFreezeMs = maxFreeze(frames, nil, frames[0].t, end)
					tr.MaxStallMs = maxFreeze(frames, paused, frames[0].t, end)
				}
				recs := p.obs.Packets(c.TrackSID)
				rep := CheckContinuity(recs, continuityMaxGap)
				tr.Continuity = &rep
				res.packets[p.name+"\x00"+name] = recs
				if p.name == r.spec.Focus.Subscriber && name == CameraOf(r.spec.Focus.Publisher) {
					in.frames, in.paused = frames, paused
				}
			}
			sr.Tracks = append(sr.Tracks, tr)
		}
		res.Subscribers = append(res.Subscribers, sr)
	}
	for _, p := range r.pubs {
		pr := PublisherResult{Name: p.name}
		if p.cam.Video != nil {
			for _, rid := range rids {
				st := p.cam.Video.Stats(rid)
				pr.Layers = append(pr.Layers, LayerResult{RID: rid, Frames: st.Frames, Keyframes: st.Keyframes,
					Packets: st.Packets, Bytes: st.Bytes})
			}
			ts := p.cam.VideoTrack.Stats()
			pr.PLIs, pr.NACKedPackets = ts.PLIs, ts.NACKedPackets
		}
		res.Publishers = append(res.Publishers, pr)
	}
	for _, ps := range r.spec.Publishers {
		if ps.Video {
			in.demandBps += ps.LayerBitrates[len(ps.LayerBitrates)-1]
		}
		if ps.Audio {
			in.demandBps += AudioBitrate
		}
	}
	res.Figures = computeFigures(in)
	if sr := res.Subscriber(r.spec.Focus.Subscriber); sr != nil {
		var exp, lost uint64
		for _, tr := range sr.Tracks {
			exp += tr.Expected
			lost += tr.Lost
		}
		res.Figures.ResidualLossPct = pct(int(lost), int(exp))
	}
	res.SummaryLine = res.Figures.SummaryLine()
	return res
}
