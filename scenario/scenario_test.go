package scenario

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// stream builds the records of a forwarded VP8 stream: frames of n packets, each frame a
// picture id further, TL0PICIDX counting base-layer frames of the 0,2,1,2 pattern.
type stream struct {
	recs  []PacketRecord
	seq   uint64
	ts    uint32
	pic   uint16
	tl0   uint8
	frame int
	at    time.Time
}

func newStream() *stream {
	return &stream{seq: 1 << 16, ts: 1000, pic: 0x7ffe, tl0: 254, at: time.Unix(0, 0)}
}

func (s *stream) frameOf(layer int8, packets int) {
	tid := []uint8{0, 2, 1, 2}[s.frame%4]
	if tid == 0 {
		s.tl0++
	}
	for i := 0; i < packets; i++ {
		s.recs = append(s.recs, PacketRecord{Ext: s.seq, TS: s.ts, Marker: i == packets-1, Arrival: s.at,
			HasPictureID: true, PictureID: s.pic, HasTL0: true, TL0PICIDX: s.tl0, TID: tid, Start: i == 0,
			Layer: map[bool]int8{true: layer, false: -1}[i == 0]})
		s.seq++
	}
	s.pic = (s.pic + 1) & 0x7fff
	s.ts += 3000
	s.frame++
	s.at = s.at.Add(33 * time.Millisecond)
}

func TestCheckContinuityPasses(t *testing.T) {
	s := newStream()
	for i := 0; i < 10; i++ {
		s.frameOf(2, 3)
	}
	for i := 0; i < 10; i++ { // switched down (picture ids wrap through 0x7fff)
		s.frameOf(0, 1)
	}
	for i := 0; i < 10; i++ {
		s.frameOf(1, 2)
		if i == 4 { // a probe that takes numbers of its own, at the last timestamp
			for j := 0; j < 3; j++ {
				s.recs = append(s.recs, PacketRecord{Ext: s.seq, TS: s.ts - 3000, Padding: true, Layer: -1, Arrival: s.at})
				s.seq++
			}
		}
	}
	// One packet lost inside a frame, one whole frame lost: gaps, not breaks.
	recs := append([]PacketRecord(nil), s.recs[:5]...)
	recs = append(recs, s.recs[6:20]...)
	recs = append(recs, s.recs[23:]...)
	r := CheckContinuity(recs, 10)
	if !r.OK() {
		t.Fatalf("violations on a continuous stream: %v", r.Violations)
	}
	if r.SwitchesDown != 1 || r.SwitchesUp != 1 || r.Missing != 4 || r.MaxGap != 3 {
		t.Fatalf("report %+v", r)
	}
}

func TestCheckContinuityFindsBreaks(t *testing.T) {
	base := func() []PacketRecord {
		s := newStream()
		for i := 0; i < 8; i++ {
			s.frameOf(1, 2)
		}
		return s.recs
	}
	tests := []struct {
		name   string
		damage func(r []PacketRecord) []PacketRecord
		want   string
	}{
		{"picture id jump", func(r []PacketRecord) []PacketRecord {
			for i := 8; i < len(r); i++ {
				r[i].PictureID += 5
			}
			return r
		}, "picture id"},
		{"timestamp back", func(r []PacketRecord) []PacketRecord {
			for i := 8; i < len(r); i++ {
				r[i].TS -= 20000
			}
			return r
		}, "went back"},
		{"timestamp leap", func(r []PacketRecord) []PacketRecord {
			for i := 8; i < len(r); i++ {
				r[i].TS += 900_000
			}
			return r
		}, "jumped"},
		{"sequence jump", func(r []PacketRecord) []PacketRecord {
			for i := 8; i < len(r); i++ {
				r[i].Ext += 1000
			}
			return r
		}, "a jump"},
		{"TL0PICIDX", func(r []PacketRecord) []PacketRecord {
			for i := 8; i < len(r); i++ {
				r[i].TL0PICIDX += 3
			}
			return r
		}, "TL0PICIDX"},
		{"frame restarts", func(r []PacketRecord) []PacketRecord {
			r[9].Start = true
			return r
		}, "restarts"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := CheckContinuity(tc.damage(base()), 100)
			if r.OK() || !strings.Contains(strings.Join(r.Violations, "\n"), tc.want) {
				t.Fatalf("want a violation about %q, got %+v", tc.want, r)
			}
		})
	}
	// A frame cut at a switch (its last packet never forwarded, the numbering continuing)
	// is counted, not a violation.
	r := base()
	cut := append(r[:7:7], r[8:]...)
	for i := 7; i < len(cut); i++ {
		cut[i].Ext--
	}
	if rep := CheckContinuity(cut, 100); !rep.OK() || rep.CutFrames != 1 {
		t.Fatalf("cut frame: %+v", rep)
	}
}

func TestTrackLogLossAccounting(t *testing.T) {
	tl := &trackLog{seen: map[uint64]struct{}{}}
	for _, seq := range []uint16{65534, 65535, 2, 3, 0, 3} { // wraps; 0 and 1 late, 1 never; 3 twice
		tl.unwrap(seq)
	}
	if tl.holes != 2 || tl.repaired != 1 || len(tl.seen) != 5 || tl.highest-tl.first+1 != 6 {
		t.Fatalf("holes %d repaired %d unique %d span %d", tl.holes, tl.repaired, len(tl.seen), tl.highest-tl.first+1)
	}
}

func sampleAt(t float64, capacity, estimate, expected, lost int) Sample {
	return Sample{T: t, Subscribers: []SubscriberSample{{Name: "bob", CapacityBps: capacity, EstimateBps: estimate,
		ExpectedPkts: expected, LostPkts: lost}}}
}

func TestComputeFigures(t *testing.T) {
	sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	var frames []frameAt
	for ts := 0.0; ts < 30; ts += 0.033 {
		layer := int8(2)
		switch {
		case ts >= 10.6 && ts < 23:
			layer = 0
		case ts >= 10 && ts < 10.6:
			layer = 2
		}
		if ts > 10.2 && ts < 10.6 { // a 400 ms freeze at the drop
			continue
		}
		if ts > 15 && ts < 17 { // paused by the SFU: not a freeze
			continue
		}
		frames = append(frames, frameAt{t: sec(ts), layer: layer})
	}
	var samples []Sample
	for ts := 0.5; ts <= 30; ts += 0.5 {
		capacity, est, lost := 3_000_000, 2_500_000, 0
		if ts > 10 && ts <= 20 {
			capacity, est = 400_000, 340_000
		}
		if ts > 10 && ts <= 11 {
			lost = 10
		}
		samples = append(samples, sampleAt(ts, capacity, est, 100, lost))
	}
	steps := []stepRecord{
		{Step: RateStep(10*time.Second, "bob", 400_000, "drop", "q"), t: sec(10.001)},
		{Step: RateStep(20*time.Second, "bob", 3_000_000, "restore", "f"), t: sec(20.001)},
	}
	f := computeFigures(figureInput{end: sec(30), steps: steps, focus: "bob", frames: frames,
		paused: []interval{{sec(15), sec(17)}}, samples: samples, demandBps: 1_732_000})
	if f.DowngradeMs < 590 || f.DowngradeMs > 640 {
		t.Errorf("downgrade %d ms, want about 600", f.DowngradeMs)
	}
	if f.RecoverMs < 2950 || f.RecoverMs > 3050 {
		t.Errorf("recover %d ms, want about 3000", f.RecoverMs)
	}
	if f.MaxFreezeMs < 1990 || f.MaxFreezeMs > 2070 {
		t.Errorf("max freeze %d ms, want about 2000 (the pause)", f.MaxFreezeMs)
	}
	if f.MaxStallMs < 390 || f.MaxStallMs > 450 || f.PausedMs != 2000 {
		t.Errorf("max stall %d ms, want about 420 (the pause does not count); paused %d ms", f.MaxStallMs, f.PausedMs)
	}
	if f.LossPct < 0.32 || f.LossPct > 0.34 { // 20 of 6000
		t.Errorf("loss %.2f%%", f.LossPct)
	}
	// Steady and constrained: 15 s to 19.5 s, estimate 15% under.
	if f.EstimateSamples != 10 || f.EstimateErrorPct < 14.9 || f.EstimateErrorPct > 15.1 {
		t.Errorf("estimate error %.2f%% over %d samples", f.EstimateErrorPct, f.EstimateSamples)
	}
	if len(f.Transitions) != 2 || f.Transitions[0].Direction != "down" || f.Transitions[1].Direction != "up" ||
		f.Transitions[0].LossPct < 1.9 || f.Transitions[0].LossPct > 2.1 { // 20 of 1000
		t.Errorf("transitions %+v", f.Transitions)
	}
	if got := f.SummaryLine(); !strings.HasPrefix(got, "downgrade_ms=") || !strings.Contains(got, " estimate_error_pct=15.0") {
		t.Errorf("summary line %q", got)
	}
}

func TestCatalogIsValid(t *testing.T) {
	names := map[string]bool{}
	for _, s := range List() {
		if err := s.withDefaults().Validate(); err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
		names[s.Name] = true
	}
	for _, want := range []string{"drop-restore", "two-tracks", "lossy-switch"} {
		if !names[want] {
			t.Errorf("catalog lacks %s", want)
		}
		if _, err := Lookup(want); err != nil {
			t.Error(err)
		}
	}
	if _, err := Lookup("nope"); !errors.Is(err, ErrBadSpec) {
		t.Errorf("Lookup of an unknown name: %v", err)
	}
}

func TestValidateRejects(t *testing.T) {
	good := DropRestore(time.Second, time.Second, time.Second)
	tests := []struct {
		name   string
		modify func(s *Spec)
	}{
		{"no duration", func(s *Spec) { s.Duration = 0 }},
		{"unknown step subscriber", func(s *Spec) { s.Steps[0].Subscriber = "zed" }},
		{"step outside", func(s *Spec) { s.Steps[0].At = time.Hour }},
		{"rate on an unshaped link", func(s *Spec) { s.Steps[0].Subscriber = "carol" }},
		{"bad layer", func(s *Spec) { s.Steps[0].Expect = "x" }},
		{"duplicate name", func(s *Spec) { s.Subscribers[1].Name = "alice" }},
		{"focus without video", func(s *Spec) { s.Focus.Publisher = "carol" }},
		{"loss over 100", func(s *Spec) { s.Steps = append(s.Steps, LossStep(0, "bob", 101, "")) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			s.Steps = append([]Step(nil), good.Steps...)
			s.Subscribers = append([]SubscriberSpec(nil), good.Subscribers...)
			tc.modify(&s)
			if err := s.withDefaults().Validate(); !errors.Is(err, ErrBadSpec) {
				t.Fatalf("accepted: %v", err)
			}
		})
	}
}

// testResult is a small run as the runner would report it.
func testResult() *Result {
	r := &Result{Scenario: "drop-restore", Summary: "a <test> & more", DurationSec: 2, SampleEverySec: 0.5,
		Focus:   Focus{Subscriber: "bob", Publisher: "alice"},
		Steps:   []StepResult{{AtSec: 1, Subscriber: "bob", Action: "rate", Value: 400_000, Label: "drop", Expect: "q"}},
		Figures: Figures{DowngradeMs: 500, RecoverMs: -1, EstimateErrorPct: -1}}
	r.SummaryLine = r.Figures.SummaryLine()
	for i, layer := range []string{"f", "f", "q", ""} {
		state := "active"
		if layer == "" {
			state = "paused_bandwidth"
		}
		r.Samples = append(r.Samples, Sample{T: float64(i+1) * 0.5,
			Subscribers: []SubscriberSample{{Name: "bob", CapacityBps: 3_000_000, EstimateBps: 2_000_000 - i*400_000,
				DeliveredBps: 1_800_000, LossPct: float64(i),
				Tracks: []TrackSample{{Track: "alice/camera", Video: true, State: state, TargetRID: "q", Layer: layer, Frames: 15},
					{Track: "alice/microphone", DeliveredBps: 40_000}}}},
			Publishers: []PublisherSample{{Name: "alice", Layers: []LayerSample{{RID: "q", Active: true, Bps: 150_000},
				{RID: "h", Bps: 0}, {RID: "f", Active: true, Bps: 1_700_000}}}}})
	}
	r.Subscribers = []SubscriberResult{{Name: "bob", Tracks: []TrackResult{{Track: "alice/camera", Video: true,
		States: []StateChange{{AtSec: 0.1, State: "active"}, {AtSec: 1.8, State: "paused_bandwidth"}}}, {Track: "alice/microphone"}}}}
	r.Publishers = []PublisherResult{{Name: "alice", Layers: []LayerResult{{RID: "q"}, {RID: "h"}, {RID: "f"}}}}
	return r
}

func TestWriteSVG(t *testing.T) {
	var b bytes.Buffer
	if err := testResult().WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	svg := b.String()
	// Well-formed XML, and the text was escaped.
	dec := xml.NewDecoder(strings.NewReader(svg))
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, svg)
		}
	}
	for _, want := range []string{"<svg", "scenario drop-restore", "a &lt;test&gt; &amp; more", "downgrade_ms=500",
		"<polyline", "drop → 400k", "alice/camera", "paused_bandwidth", "alice: sent per layer"} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q", want)
		}
	}
}

func TestResultJSONRoundTrip(t *testing.T) {
	var b bytes.Buffer
	r := testResult()
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.SummaryLine != r.SummaryLine || len(back.Samples) != 4 || back.Samples[2].Subscribers[0].Tracks[0].Layer != "q" {
		t.Fatalf("round trip lost data: %+v", back)
	}
	var again bytes.Buffer
	if err := back.WriteSVG(&again); err != nil {
		t.Fatal(err)
	}
}

func TestFormatSample(t *testing.T) {
	out := FormatSample(testResult().Samples[2])
	for _, want := range []string{"t=  1.5", "bob", "cap=3.00M", "est=1.20M", "alice/camera active", "got=q", "alice", "f=1.70M"} {
		if !strings.Contains(out, want) {
			t.Errorf("timeline line lacks %q:\n%s", want, out)
		}
	}
}
