package scenario

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Catalog entries: named scenarios at their full length. Tests build shorter variants
// with the constructors.
var catalog = []func() Spec{
	func() Spec { return DropRestore(10*time.Second, 20*time.Second, 10*time.Second) },
	func() Spec { return TwoTracks(12*time.Second, 12*time.Second) },
	func() Spec { return LossySwitch(6*time.Second, 3) },
}

// List returns the catalog's scenarios at their full length, by name.
func List() []Spec {
	out := make([]Spec, 0, len(catalog))
	for _, f := range catalog {
		out = append(out, f())
	}
	slices.SortFunc(out, func(a, b Spec) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Lookup returns the named scenario at its full length.
func Lookup(name string) (Spec, error) {
	for _, f := range catalog {
		if s := f(); s.Name == name {
			return s, nil
		}
	}
	var names []string
	for _, s := range List() {
		names = append(names, s.Name)
	}
	return Spec{}, fmt.Errorf("%w: no scenario %q (have %s)", ErrBadSpec, name, strings.Join(names, ", "))
}

// Rates of the drop-restore and two-tracks links.
const (
	HighRate      = 3_000_000
	LowRate       = 400_000
	TwoTracksHigh = 1_000_000
	TwoTracksLow  = 200_000
	TwoTracksQ    = 100_000
)

var twoTracksLayers = [3]int{TwoTracksQ, LayerBitrates[1], LayerBitrates[2]}

// DropRestore: alice publishes simulcast; bob's link runs at 3 Mbit/s, drops to 400 kbit/s
// after pre, comes back to 3 Mbit/s after low more, and the run goes on for post; carol
// receives the same on a clean link. bob should move to q after the drop and back to f
// after the restore; carol should keep f throughout, and alice should never notice.
func DropRestore(pre, low, post time.Duration) Spec {
	return Spec{
		Name: "drop-restore",
		Summary: fmt.Sprintf("bob's link 3 Mbit/s, 400 kbit/s at %v, 3 Mbit/s at %v, %v in all; carol unconstrained",
			pre, pre+low, pre+low+post),
		Duration:   pre + low + post,
		Publishers: []PublisherSpec{{Name: "alice", Video: true, Audio: true}},
		Subscribers: []SubscriberSpec{
			{Name: "bob", Link: LinkConfig{RateBps: HighRate}},
			{Name: "carol"},
		},
		Steps: []Step{
			RateStep(pre, "bob", LowRate, "drop", "q"),
			RateStep(pre+low, "bob", HighRate, "restore", "f"),
		},
		Focus: Focus{Subscriber: "bob", Publisher: "alice"},
	}
}

// TwoTracks: alice and bob publish cameras (alice also a microphone) to dave, whose link
// runs at 1 Mbit/s for high, then 200 kbit/s for low. dave pins alice (a higher priority),
// so alice's camera should get the better layer at 1 Mbit/s; at 200 kbit/s bob's camera
// should be paused for bandwidth while alice's audio keeps flowing. The cameras' q layers
// run at 100 kbit/s (TwoTracksQ), so that alice's q and her audio fit 200 kbit/s and
// bob's q does not: at 150 kbit/s neither would, and there would be no priority to see.
func TwoTracks(high, low time.Duration) Spec {
	return Spec{
		Name: "two-tracks",
		Summary: fmt.Sprintf("dave receives alice (pinned) and bob over 1 Mbit/s, then 200 kbit/s at %v, %v in all",
			high, high+low),
		Duration: high + low,
		Publishers: []PublisherSpec{
			{Name: "alice", Video: true, Audio: true, LayerBitrates: twoTracksLayers},
			{Name: "bob", Video: true, LayerBitrates: twoTracksLayers},
		},
		Subscribers: []SubscriberSpec{
			{Name: "dave", Link: LinkConfig{RateBps: TwoTracksHigh}, Priority: map[string]int32{"alice": 10}},
		},
		Steps: []Step{
			RateStep(high, "dave", TwoTracksLow, "drop", "q"),
		},
		Focus: Focus{Subscriber: "dave", Publisher: "alice"},
	}
}

// LossySwitch: bob receives alice over a 3 Mbit/s link that loses lossPercent of packets,
// and asks for q, then h, then f again, every phase long: the SFU switches layers down and
// up under loss, then drops to q for bandwidth (400 kbit/s). Every forwarded packet should
// keep its numbering continuous.
func LossySwitch(phase time.Duration, lossPercent int) Spec {
	return Spec{
		Name: "lossy-switch",
		Summary: fmt.Sprintf("bob at 3 Mbit/s with %d%% loss asks for q, h, f every %v, then his link drops to 400 kbit/s",
			lossPercent, phase),
		Duration:   5 * phase,
		Publishers: []PublisherSpec{{Name: "alice", Video: true, Audio: true}},
		Subscribers: []SubscriberSpec{
			{Name: "bob", Link: LinkConfig{RateBps: HighRate, LossPercent: lossPercent, Seed: 42}},
		},
		Steps: []Step{
			MaxLayerStep(phase, "bob", "q", "prefer q"),
			MaxLayerStep(2*phase, "bob", "h", "prefer h"),
			MaxLayerStep(3*phase, "bob", "", "no preference"),
			RateStep(4*phase, "bob", LowRate, "drop", "q"),
		},
		Focus: Focus{Subscriber: "bob", Publisher: "alice"},
	}
}
