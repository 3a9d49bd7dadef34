package scenario

import (
	"fmt"
	"math"
	"time"
)

// Figures are what a run measured of its focus subscription (Spec.Focus). Durations are
// -1 when they do not apply (no such transition) or the switch never happened.
type Figures struct {
	// DowngradeMs is the time from the first step that should move the focus track down
	// (Step.Expect below the layer it was getting) to the first frame at that layer or
	// lower; RecoverMs the same for the first step up after it.
	DowngradeMs int `json:"downgrade_ms"`
	RecoverMs   int `json:"recover_ms"`
	// MaxFreezeMs is the longest time without a new frame of the focus track, from its first
	// frame to the end, whatever the reason (a pause for bandwidth freezes the picture too).
	MaxFreezeMs int `json:"max_freeze_ms"`
	// MaxStallMs is the same, not counting time the SFU reported the track paused: the
	// freezes the subscriber was not told about.
	MaxStallMs int `json:"max_stall_ms"`
	// PausedMs is how long the SFU reported the focus track paused, in all.
	PausedMs int `json:"paused_ms"`
	// LossPct is the share of the focus subscriber's media packets that did not arrive on the
	// first try (before retransmission) over the run; ResidualLossPct those that never did.
	LossPct         float64 `json:"loss_pct"`
	ResidualLossPct float64 `json:"residual_loss_pct"`
	// EstimateErrorPct is the mean of |estimate - capacity| / capacity over the samples where
	// the focus subscriber's link was the bottleneck (its rate below what the subscriber would
	// take unconstrained) and had been steady for SettleTime; -1 without such samples.
	EstimateErrorPct float64 `json:"estimate_error_pct"`
	// EstimateSamples is how many samples EstimateErrorPct averages.
	EstimateSamples int          `json:"estimate_samples"`
	Transitions     []Transition `json:"transitions"`
}

// Transition is what followed one step of the timeline, for the focus subscription.
type Transition struct {
	Label  string  `json:"label"`
	AtSec  float64 `json:"at_s"`
	Action string  `json:"action"`
	Value  int     `json:"value,omitempty"`
	RID    string  `json:"rid,omitempty"`
	Expect string  `json:"expect,omitempty"`
	// From is the layer the focus track was getting before the step; Direction is "down",
	// "up" or "" (no switch expected).
	From      string `json:"from,omitempty"`
	Direction string `json:"direction,omitempty"`
	// SwitchMs is the time to the first frame at the expected layer (-1: never).
	SwitchMs int `json:"switch_ms"`
	// WindowSec is the span after the step that LossPct and MaxFreezeMs cover: up to the next
	// step on the focus subscriber, at most TransitionWindow.
	WindowSec   float64 `json:"window_s"`
	LossPct     float64 `json:"loss_pct"`
	MaxFreezeMs int     `json:"max_freeze_ms"`
}

const (
	// SettleTime is how long after a rate change the estimate counts as steady.
	SettleTime = 5 * time.Second
	// TransitionWindow bounds the span after a step its loss and freezes are measured over.
	TransitionWindow = 5 * time.Second
)

// SummaryLine is the one-line summary of a run.
func (f Figures) SummaryLine() string {
	return fmt.Sprintf("downgrade_ms=%d recover_ms=%d max_freeze_ms=%d loss_pct=%.1f estimate_error_pct=%.1f",
		f.DowngradeMs, f.RecoverMs, f.MaxFreezeMs, f.LossPct, f.EstimateErrorPct)
}

// stepRecord is a step as it was applied.
type stepRecord struct {
	Step
	t time.Duration // when it was applied, from the start
}

// interval is a span of the run, as offsets from its start.
type interval struct{ from, to time.Duration }

// figureInput is what computeFigures needs; all times are offsets from the start.
type figureInput struct {
	end     time.Duration
	steps   []stepRecord // every step, in order
	focus   string       // the focus subscriber
	frames  []frameAt    // the focus track's frames
	paused  []interval   // when the SFU reported the focus track paused
	samples []Sample
	// demandBps is what the focus subscriber would take unconstrained.
	demandBps int
}

type frameAt struct {
	t     time.Duration
	layer int8
}

func computeFigures(in figureInput) Figures {
	f := Figures{DowngradeMs: -1, RecoverMs: -1, EstimateErrorPct: -1}
	var mine []stepRecord
	for _, s := range in.steps {
		if s.Subscriber == in.focus {
			mine = append(mine, s)
		}
	}
	for i, s := range mine {
		tr := Transition{Label: s.Label, AtSec: s.t.Seconds(), Action: s.Action.String(), Value: s.Value, RID: s.RID,
			Expect: s.Expect, SwitchMs: -1}
		end := min(in.end, s.t+TransitionWindow)
		if i+1 < len(mine) {
			end = min(end, mine[i+1].t)
		}
		tr.WindowSec = (end - s.t).Seconds()
		before := layerBefore(in.frames, s.t)
		tr.From = ridOf(int(before))
		if want := layerIndex(s.Expect); want >= 0 && before >= 0 && want != int(before) {
			tr.Direction = "up"
			if want < int(before) {
				tr.Direction = "down"
			}
			limit := in.end
			if i+1 < len(mine) {
				limit = mine[i+1].t
			}
			for _, fr := range in.frames {
				if fr.t < s.t || fr.t > limit {
					continue
				}
				if tr.Direction == "down" && int(fr.layer) <= want || tr.Direction == "up" && int(fr.layer) >= want {
					tr.SwitchMs = int((fr.t - s.t).Milliseconds())
					break
				}
			}
		}
		tr.LossPct = windowLoss(in.samples, in.focus, s.t, end)
		tr.MaxFreezeMs = maxFreeze(in.frames, nil, s.t, end)
		f.Transitions = append(f.Transitions, tr)
		switch {
		case tr.Direction == "down" && f.DowngradeMs < 0 && f.RecoverMs < 0:
			f.DowngradeMs = tr.SwitchMs
		case tr.Direction == "up" && f.RecoverMs < 0 && hasDown(f.Transitions):
			f.RecoverMs = tr.SwitchMs
		}
	}
	if len(in.frames) > 0 {
		f.MaxFreezeMs = maxFreeze(in.frames, nil, in.frames[0].t, in.end)
		f.MaxStallMs = maxFreeze(in.frames, in.paused, in.frames[0].t, in.end)
	}
	for _, p := range in.paused {
		f.PausedMs += int((min(p.to, in.end) - p.from).Milliseconds())
	}
	f.LossPct = windowLoss(in.samples, in.focus, 0, in.end)
	var errSum float64
	lastChange := time.Duration(0)
	for _, smp := range in.samples {
		t := time.Duration(smp.T * float64(time.Second))
		for _, s := range mine {
			// By schedule: a step due with a sample is applied just before it is taken.
			if s.Action == SetRate && s.At <= t {
				lastChange = max(lastChange, s.At)
			}
		}
		sub := smp.Subscriber(in.focus)
		if sub == nil || sub.CapacityBps <= 0 || sub.CapacityBps >= in.demandBps || t-lastChange < SettleTime || sub.EstimateBps <= 0 {
			continue
		}
		errSum += math.Abs(float64(sub.EstimateBps-sub.CapacityBps)) / float64(sub.CapacityBps) * 100
		f.EstimateSamples++
	}
	if f.EstimateSamples > 0 {
		f.EstimateErrorPct = errSum / float64(f.EstimateSamples)
	}
	return f
}

func hasDown(trs []Transition) bool {
	for _, t := range trs {
		if t.Direction == "down" {
			return true
		}
	}
	return false
}

// layerBefore is the layer of the last frame before t, -1 without one.
func layerBefore(frames []frameAt, t time.Duration) int8 {
	l := int8(-1)
	for _, fr := range frames {
		if fr.t >= t {
			break
		}
		l = fr.layer
	}
	return l
}

// windowLoss is the first-try loss of a subscriber's media over the samples that end in
// (from, to].
func windowLoss(samples []Sample, sub string, from, to time.Duration) float64 {
	var expected, lost int
	for _, smp := range samples {
		t := time.Duration(smp.T * float64(time.Second))
		if t <= from || t > to {
			continue
		}
		if s := smp.Subscriber(sub); s != nil {
			expected += s.ExpectedPkts
			lost += s.LostPkts
		}
	}
	if expected == 0 {
		return 0
	}
	return float64(lost) / float64(expected) * 100
}

// maxFreeze is the longest span within [from, to] without a frame, less the time within
// it that the track was reported paused.
func maxFreeze(frames []frameAt, paused []interval, from, to time.Duration) int {
	last := from
	var worst time.Duration
	gap := func(a, b time.Duration) {
		d := b - a
		for _, p := range paused {
			lo, hi := max(a, p.from), min(b, p.to)
			if hi > lo {
				d -= hi - lo
			}
		}
		worst = max(worst, d)
	}
	for _, fr := range frames {
		if fr.t < from {
			continue
		}
		if fr.t > to {
			break
		}
		gap(last, fr.t)
		last = fr.t
	}
	gap(last, to)
	return int(worst.Milliseconds())
}
