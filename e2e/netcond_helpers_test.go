package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cascade-sfu/cascade/scenario"
)

// runScenario runs a scenario in process for a network-condition test and logs its
// timeline and figures.
func runScenario(t *testing.T, spec scenario.Spec) *scenario.Result {
	t.Helper()
	if raceDetector {
		// Under the race detector pion runs several times slower and, next to the other
		// packages' tests, the virtual network's token buckets are starved of CPU and
		// release late, overflowing their queues: what it measures is the machine. The
		// scenarios run in scripts/test.sh's second pass, without it.
		t.Skip("timing-sensitive network scenario: runs without -race (scripts/test.sh runs it in a second pass)")
	}
	noLeaks(t)
	ctx, cancel := context.WithTimeout(t.Context(), spec.Duration+90*time.Second)
	defer cancel()
	var timeline strings.Builder
	res, err := scenario.Run(ctx, spec, scenario.Options{Logger: e2eLogger().With("scenario", spec.Name), Progress: func(s scenario.Sample) { timeline.WriteString(scenario.FormatSample(s)) }})
	if err != nil {
		t.Fatalf("scenario %s: %v", spec.Name, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("timeline of %s:\n%s", spec.Name, timeline.String())
		}
	})
	for _, tr := range res.Figures.Transitions {
		t.Logf("transition %q at %.1fs: %s %s->%s in %d ms, loss %.1f%%, longest freeze %d ms", tr.Label, tr.AtSec,
			tr.Direction, tr.From, tr.Expect, tr.SwitchMs, tr.LossPct, tr.MaxFreezeMs)
	}
	t.Logf("%s: %s", spec.Name, res.SummaryLine)
	return res
}

// sub returns a subscriber's sample, failing the test if it is missing.
func sub(t *testing.T, s scenario.Sample, name string) *scenario.SubscriberSample {
	t.Helper()
	ss := s.Subscriber(name)
	if ss == nil {
		t.Fatalf("t=%.1f: no sample for %s", s.T, name)
	}
	return ss
}

// track returns a track's sample (an empty one if the subscriber did not have it yet).
func track(ss *scenario.SubscriberSample, name string) scenario.TrackSample {
	if ts := ss.Track(name); ts != nil {
		return *ts
	}
	return scenario.TrackSample{Track: name}
}

// layersOf renders a track's delivered layer over samples, for failure messages.
func layersOf(samples []scenario.Sample, subscriber, trk string) string {
	var b strings.Builder
	for _, s := range samples {
		ss := s.Subscriber(subscriber)
		if ss == nil {
			continue
		}
		ts := track(ss, trk)
		l := ts.Layer
		if l == "" {
			l = "-"
		}
		fmt.Fprintf(&b, " %.1f:%s/%s", s.T, l, strings.TrimPrefix(ts.State, "paused_"))
	}
	return b.String()
}

// lossOver is the first-try loss of a subscriber's media over samples.
func lossOver(samples []scenario.Sample, subscriber string) float64 {
	var exp, lost int
	for _, s := range samples {
		if ss := s.Subscriber(subscriber); ss != nil {
			exp += ss.ExpectedPkts
			lost += ss.LostPkts
		}
	}
	if exp == 0 {
		return 0
	}
	return float64(lost) / float64(exp) * 100
}

// checkFrames fails the test if any subscriber got a corrupt frame or broken numbering.
func checkFrames(t *testing.T, res *scenario.Result) {
	t.Helper()
	for _, s := range res.Subscribers {
		for _, tr := range s.Tracks {
			if tr.Corrupt > 0 {
				t.Errorf("%s: %d corrupt frames or packets of %s", s.Name, tr.Corrupt, tr.Track)
			}
			if c := tr.Continuity; c != nil && !c.OK() {
				t.Errorf("%s: numbering of %s broken %d times: %s", s.Name, tr.Track, c.Count, strings.Join(c.Violations, "; "))
			}
		}
	}
}
