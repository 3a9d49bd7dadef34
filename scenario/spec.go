package scenario

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// ErrBadSpec reports a scenario that cannot run as described.
var ErrBadSpec = errors.New("scenario: bad spec")

// Spec describes one scenario: who publishes, who subscribes behind which link, and what
// happens to the links over time.
type Spec struct {
	Name    string
	Summary string
	// Duration is the length of the timeline, from the moment media starts.
	Duration time.Duration
	// SampleEvery is the timeline's resolution (default 500 ms).
	SampleEvery time.Duration
	Publishers  []PublisherSpec
	Subscribers []SubscriberSpec
	Steps       []Step
	// Focus names the subscriber and the publisher whose video the summary figures are
	// about (usually the constrained one).
	Focus Focus
}

// Focus names one subscription: Subscriber receiving Publisher's video.
type Focus struct {
	Subscriber string
	Publisher  string
}

// PublisherSpec is a participant on a clean link that publishes a synthetic camera (3-layer
// VP8 simulcast) and microphone (Opus).
type PublisherSpec struct {
	Name  string
	Video bool
	Audio bool
	// TemporalLayers per simulcast layer (default 3: the 0,2,1,2 pattern).
	TemporalLayers int
	// KeyframeInterval of the periodic keyframes (default 3 s); keyframes also follow PLIs.
	KeyframeInterval time.Duration
	// NoDynacast makes the source ignore the SFU's dynacast updates (keep every layer on).
	NoDynacast bool
	// LayerBitrates overrides the q, h, f bitrates (default LayerBitrates).
	LayerBitrates [3]int
}

// SubscriberSpec is a participant that receives everything, behind Link.
type SubscriberSpec struct {
	Name string
	Link LinkConfig
	// Priority sets the priority of a publisher's video (by publisher name) with a track
	// settings request, as a client that pins a tile does.
	Priority map[string]int32
}

// Action is what a step does.
type Action int

const (
	// SetRate sets the subscriber's link rate to Step.Value bits per second.
	SetRate Action = iota + 1
	// SetLoss sets the subscriber's link loss to Step.Value percent.
	SetLoss
	// SetMaxLayer sets the subscriber's preferred maximum layer (Step.RID, "" for none) for
	// every video track it receives.
	SetMaxLayer
)

func (a Action) String() string {
	switch a {
	case SetRate:
		return "rate"
	case SetLoss:
		return "loss"
	case SetMaxLayer:
		return "max-layer"
	}
	return fmt.Sprintf("action(%d)", int(a))
}

// Step is one change at a moment of the timeline.
type Step struct {
	At         time.Duration
	Subscriber string
	Action     Action
	Value      int    // bits per second (SetRate) or percent (SetLoss)
	RID        string // SetMaxLayer
	Label      string // "drop", "restore", ...: names the transition in the figures
	// Expect is the layer the focus track should settle on after this step ("" for no
	// expectation); the figures time the switch to it.
	Expect string
}

// RateStep changes a subscriber's link rate.
func RateStep(at time.Duration, sub string, bps int, label, expect string) Step {
	return Step{At: at, Subscriber: sub, Action: SetRate, Value: bps, Label: label, Expect: expect}
}

// LossStep changes a subscriber's link loss.
func LossStep(at time.Duration, sub string, percent int, label string) Step {
	return Step{At: at, Subscriber: sub, Action: SetLoss, Value: percent, Label: label}
}

// MaxLayerStep changes a subscriber's preferred maximum layer ("" for none: it then
// expects the top layer).
func MaxLayerStep(at time.Duration, sub, rid, label string) Step {
	expect := rid
	if expect == "" {
		expect = rids[len(rids)-1]
	}
	return Step{At: at, Subscriber: sub, Action: SetMaxLayer, RID: rid, Label: label, Expect: expect}
}

const defaultSampleEvery = 500 * time.Millisecond

// withDefaults fills zero fields.
func (s Spec) withDefaults() Spec {
	if s.SampleEvery == 0 {
		s.SampleEvery = defaultSampleEvery
	}
	s.Publishers = slices.Clone(s.Publishers)
	for i := range s.Publishers {
		p := &s.Publishers[i]
		if p.TemporalLayers == 0 {
			p.TemporalLayers = 3
		}
		if p.KeyframeInterval == 0 {
			p.KeyframeInterval = 3 * time.Second
		}
		if p.LayerBitrates == [3]int{} {
			p.LayerBitrates = LayerBitrates
		}
	}
	s.Steps = slices.Clone(s.Steps)
	slices.SortStableFunc(s.Steps, func(a, b Step) int { return int(a.At - b.At) })
	return s
}

// Validate checks that the spec can run.
func (s Spec) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrBadSpec, s.Name, fmt.Sprintf(format, a...))
	}
	if s.Name == "" {
		return fmt.Errorf("%w: no name", ErrBadSpec)
	}
	if s.Duration <= 0 || s.Duration > 10*time.Minute {
		return bad("duration %v out of (0, 10m]", s.Duration)
	}
	if s.SampleEvery < 0 || s.SampleEvery > s.Duration && s.SampleEvery != 0 {
		return bad("sample interval %v", s.SampleEvery)
	}
	if len(s.Publishers) == 0 || len(s.Subscribers) == 0 {
		return bad("needs a publisher and a subscriber")
	}
	if len(s.Publishers)+len(s.Subscribers) > 200 {
		return bad("too many participants")
	}
	names := map[string]bool{}
	for _, p := range s.Publishers {
		if p.Name == "" || names[p.Name] {
			return bad("publisher name %q empty or repeated", p.Name)
		}
		if !p.Video && !p.Audio {
			return bad("publisher %s publishes nothing", p.Name)
		}
		if p.TemporalLayers < 0 || p.TemporalLayers > 3 {
			return bad("publisher %s: %d temporal layers", p.Name, p.TemporalLayers)
		}
		for _, b := range p.LayerBitrates {
			if b != 0 && (b < 10_000 || b > 20_000_000) {
				return bad("publisher %s: layer bitrate %d", p.Name, b)
			}
		}
		names[p.Name] = true
	}
	subs := map[string]bool{}
	for _, sub := range s.Subscribers {
		if sub.Name == "" || names[sub.Name] {
			return bad("subscriber name %q empty or repeated", sub.Name)
		}
		names[sub.Name] = true
		subs[sub.Name] = true
		for pub := range sub.Priority {
			if !slices.ContainsFunc(s.Publishers, func(p PublisherSpec) bool { return p.Name == pub }) {
				return bad("subscriber %s: priority for unknown publisher %s", sub.Name, pub)
			}
		}
	}
	for _, st := range s.Steps {
		if !subs[st.Subscriber] {
			return bad("step at %v: unknown subscriber %q", st.At, st.Subscriber)
		}
		if st.At < 0 || st.At > s.Duration {
			return bad("step at %v outside the timeline", st.At)
		}
		switch st.Action {
		case SetRate:
			if st.Value <= 0 {
				return bad("step at %v: rate %d", st.At, st.Value)
			}
			if sub := s.subscriber(st.Subscriber); sub.Link.RateBps == 0 {
				return bad("step at %v: subscriber %s's link is unshaped; give it an initial rate", st.At, st.Subscriber)
			}
		case SetLoss:
			if st.Value < 0 || st.Value > 100 {
				return bad("step at %v: loss %d%%", st.At, st.Value)
			}
		case SetMaxLayer:
			if !validRID(st.RID) && st.RID != "" {
				return bad("step at %v: layer %q", st.At, st.RID)
			}
		default:
			return bad("step at %v: no action", st.At)
		}
		if st.Expect != "" && !validRID(st.Expect) {
			return bad("step at %v: expected layer %q", st.At, st.Expect)
		}
	}
	if !subs[s.Focus.Subscriber] {
		return bad("focus subscriber %q unknown", s.Focus.Subscriber)
	}
	fp := s.publisher(s.Focus.Publisher)
	if fp == nil || !fp.Video {
		return bad("focus publisher %q unknown or without video", s.Focus.Publisher)
	}
	return nil
}

func (s Spec) subscriber(name string) *SubscriberSpec {
	for i := range s.Subscribers {
		if s.Subscribers[i].Name == name {
			return &s.Subscribers[i]
		}
	}
	return nil
}

func (s Spec) publisher(name string) *PublisherSpec {
	for i := range s.Publishers {
		if s.Publishers[i].Name == name {
			return &s.Publishers[i]
		}
	}
	return nil
}

// The simulcast layers every publisher sends, lowest first.
var rids = []string{"q", "h", "f"}

func validRID(r string) bool { return slices.Contains(rids, r) }

// layerIndex is q=0, h=1, f=2, -1 for anything else.
func layerIndex(rid string) int { return slices.Index(rids, rid) }

// ridOf is the rid of layer index l, "" when out of range.
func ridOf(l int) string {
	if l < 0 || l >= len(rids) {
		return ""
	}
	return rids[l]
}
