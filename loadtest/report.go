package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is what a run measured. Its JSON form is the --json report; the fields the issue
// names (tracks_expected, tracks_received, packet_loss_pct, latency_ms, join_ms, freeze_count,
// freeze_total_ms, received_kbps, sfu_cpu_cores) are at the top level.
type Report struct {
	Config    ReportConfig `json:"config"`
	StartedAt time.Time    `json:"started_at"`
	// DurationS is how long the run went (less than configured when it ended early).
	DurationS float64 `json:"duration_s"`
	// SteadyWindowS is the span rates are computed over: from the last join plus the
	// warmup to the end. Zero when joins took the whole run; rates then cover the time
	// since the publishers joined.
	SteadyWindowS float64 `json:"steady_window_s"`
	EndReason     string  `json:"end_reason,omitempty"`

	PublishersTarget  int `json:"publishers_target"`
	PublishersJoined  int `json:"publishers_joined"`
	SubscribersTarget int `json:"subscribers_target"`
	SubscribersJoined int `json:"subscribers_joined"`
	JoinFailures      int `json:"join_failures"`
	Disconnects       int `json:"disconnects"`

	TracksExpected  int       `json:"tracks_expected"`
	TracksReceived  int       `json:"tracks_received"`
	PacketsReceived uint64    `json:"packets_received"`
	PacketsLost     uint64    `json:"packets_lost"`
	PacketLossPct   float64   `json:"packet_loss_pct"`
	Duplicates      uint64    `json:"duplicate_packets"`
	ProbePackets    uint64    `json:"probe_packets"` // padding-only packets (bandwidth probes), in packets_received
	LatencyMs       Quantiles `json:"latency_ms"`
	VideoLatencyMs  Quantiles `json:"video_latency_ms"`
	AudioLatencyMs  Quantiles `json:"audio_latency_ms"`
	JoinMs          Quantiles `json:"join_ms"`
	FreezeCount     uint64    `json:"freeze_count"`
	FreezeTotalMs   float64   `json:"freeze_total_ms"`
	FramesShown     uint64    `json:"frames_shown"`
	FramesCorrupt   uint64    `json:"frames_corrupt"`
	LayerSwitches   uint64    `json:"layer_switches"`
	PLIsSent        uint64    `json:"plis_sent"`
	// PublisherKeyframeRequests is what publishers received (PLI and FIR, after the SFU
	// merged and throttled subscribers' requests).
	PublisherKeyframeRequests uint64 `json:"publisher_keyframe_requests"`

	ReceivedKbps float64                `json:"received_kbps"`
	Layers       map[string]LayerReport `json:"layers"`
	// LayerPreference: "sent" (each video subscription's highest layer and priority went
	// to the SFU as track settings) or "none" (no video).
	LayerPreference string `json:"layer_preference"`
	// StreamStates counts video and audio subscriptions by the state the SFU last reported
	// for them (active, paused_bandwidth, paused_preference), when it reports them.
	StreamStates map[string]int `json:"stream_states,omitempty"`
	// EstimateKbps is the mean of the SFU's last downlink estimates for the subscribers.
	EstimateKbps float64 `json:"sfu_estimate_kbps_mean,omitempty"`

	// The node's own figures from /metrics over the steady window, when it exposes them.
	SFUMetrics           string   `json:"sfu_metrics"`
	SFUCPUCores          *float64 `json:"sfu_cpu_cores,omitempty"`
	SFUCPUUsPerForwarded *float64 `json:"sfu_cpu_us_per_forwarded_packet,omitempty"`
	SFUForwardedPPS      *float64 `json:"sfu_forwarded_pps,omitempty"`
	SFURSSMB             *float64 `json:"sfu_rss_mb,omitempty"`
	SFURSSMaxMB          *float64 `json:"sfu_rss_max_mb,omitempty"`
	SFUDownTracks        *float64 `json:"sfu_down_tracks,omitempty"`

	LoadTesterCPUCores float64      `json:"loadtester_cpu_cores"`
	Errors             []ErrorCount `json:"errors,omitempty"`
}

// ReportConfig echoes the run's shape.
type ReportConfig struct {
	URL             string  `json:"url"`
	Rooms           int     `json:"rooms"`
	Publishers      int     `json:"publishers"`
	AudioPublishers int     `json:"audio_publishers"`
	Subscribers     int     `json:"subscribers"`
	DurationS       float64 `json:"duration_s"`
	Simulcast       bool    `json:"simulcast"`
	Codec           string  `json:"codec"`
	Layout          string  `json:"layout"`
	Layer           string  `json:"layer"`
	Ramp            float64 `json:"ramp_per_s"`
	LossPercent     float64 `json:"impair_loss_pct,omitempty"`
	BandwidthBps    int64   `json:"impair_bandwidth_bps,omitempty"`
}

// Quantiles of a distribution in milliseconds.
type Quantiles struct {
	P50     float64 `json:"p50"`
	P95     float64 `json:"p95"`
	P99     float64 `json:"p99"`
	Max     float64 `json:"max"`
	Samples uint64  `json:"samples"`
}

// LayerReport is the received rate of one layer ("q", "h", "f", "audio").
type LayerReport struct {
	Streams       int     `json:"streams"` // tracks on this layer at the end
	Kbps          float64 `json:"kbps"`    // all of them together, over the steady window
	KbpsPerStream float64 `json:"kbps_per_stream"`
}

// ErrorCount is one distinct error and how often it happened.
type ErrorCount struct {
	Message string `json:"message"`
	Count   int    `json:"count"`
}

func quantiles(h *histogram) Quantiles {
	return Quantiles{P50: h.quantile(0.5), P95: h.quantile(0.95), P99: h.quantile(0.99),
		Max: float64(h.max) / float64(time.Millisecond), Samples: h.n}
}

// report computes the Report from the final totals and node sample.
func (o *observer) report(final *totals, nodeEnd *nodeSample, end time.Time) *Report {
	r := o.r
	cfg := &r.cfg
	rep := &Report{
		Config: ReportConfig{URL: cfg.URL, Rooms: cfg.Rooms, Publishers: cfg.Publishers, AudioPublishers: cfg.AudioPublishers,
			Subscribers: cfg.Subscribers, DurationS: cfg.Duration.Seconds(), Simulcast: cfg.Simulcast, Codec: string(cfg.Codec),
			Layout: string(cfg.Layout), Layer: cfg.Layer, Ramp: cfg.Ramp,
			LossPercent: cfg.Impairment.LossPercent, BandwidthBps: cfg.Impairment.BandwidthBps},
		StartedAt:         r.start,
		DurationS:         end.Sub(r.start).Seconds(),
		PublishersTarget:  cfg.Rooms * (cfg.Publishers + cfg.AudioPublishers),
		SubscribersTarget: cfg.Rooms * cfg.Subscribers,
		TracksExpected:    cfg.Rooms * cfg.Subscribers * cfg.expectedTracks(),
		TracksReceived:    final.tracks,
		PacketsReceived:   final.packets,
		PacketsLost:       final.lost,
		PacketLossPct:     pct(final.lost, final.expected),
		Duplicates:        final.dups,
		ProbePackets:      final.padding,
		LatencyMs:         quantiles(&final.lat),
		VideoLatencyMs:    quantiles(&final.videoLat),
		AudioLatencyMs:    quantiles(&final.audioLat),
		FreezeCount:       final.freezes,
		FreezeTotalMs:     float64(final.freezeTotal) / float64(time.Millisecond),
		FramesShown:       final.shown,
		FramesCorrupt:     final.corrupt,
		LayerSwitches:     final.switches,
		PLIsSent:          final.plis,
		Layers:            map[string]LayerReport{},
		LayerPreference:   "none",
	}

	r.mu.Lock()
	rep.PublishersJoined, rep.SubscribersJoined = len(r.pubs), len(r.subs)
	rep.JoinFailures, rep.Disconnects, rep.EndReason = r.joinFail, r.disconnects, r.endReason
	for _, msg := range r.errOrder {
		rep.Errors = append(rep.Errors, ErrorCount{Message: msg, Count: r.errs[msg]})
	}
	subs, pubs := r.subs, r.pubs
	r.mu.Unlock()
	for _, p := range pubs {
		rep.PublisherKeyframeRequests += p.keyframeRequests()
	}
	var joins histogram
	states := map[string]int{}
	var est float64
	var nest int
	for _, s := range subs {
		if d := s.joinTime(); d > 0 {
			joins.record(d)
		}
		s.streamStates(states)
		if e := s.estimate.Load(); e > 0 {
			est += float64(e)
			nest++
		}
	}
	if len(states) > 0 {
		rep.StreamStates = states
	}
	if nest > 0 {
		rep.EstimateKbps = est / float64(nest) / 1000
	}
	j := quantiles(&joins)
	rep.JoinMs = Quantiles{P50: j.P50, P99: j.P99, Max: j.Max, Samples: j.Samples}
	if cfg.Publishers > 0 {
		rep.LayerPreference = "sent"
	}

	// Rates over the steady window, or since the publishers joined when there was none.
	o.mu.Lock()
	base, nodeStart, rssMax, scrapeErr := o.steadyAt, o.nodeStart, o.rssMax, o.scrapeErr
	if base != nil {
		rep.SteadyWindowS = end.Sub(base.at).Seconds()
	} else {
		base = o.firstRun
	}
	o.mu.Unlock()
	if base == nil {
		base = &totals{at: r.start}
	}
	span := end.Sub(base.at).Seconds()
	if span > 0 {
		rep.ReceivedKbps = float64(final.bytes-base.bytes) * 8 / span / 1000
		rep.LoadTesterCPUCores = (final.cpu - base.cpu).Seconds() / span
		for i, name := range []string{"q", "h", "f", "audio"} {
			kbps := float64(final.layerBytes[i]-base.layerBytes[i]) * 8 / span / 1000
			n := final.layerStreams[i]
			if n == 0 && kbps == 0 {
				continue
			}
			lr := LayerReport{Streams: n, Kbps: kbps}
			if n > 0 {
				lr.KbpsPerStream = kbps / float64(n)
			}
			rep.Layers[name] = lr
		}
	}

	// The node's figures.
	switch {
	case nodeStart != nil && nodeEnd != nil && nodeEnd.At.After(nodeStart.At):
		rep.SFUMetrics = "ok"
		secs := nodeEnd.At.Sub(nodeStart.At).Seconds()
		if nodeEnd.HasCPU {
			cpu := nodeEnd.CPUSeconds - nodeStart.CPUSeconds
			rep.SFUCPUCores = ptr(cpu / secs)
			if fwd := nodeEnd.Forwarded - nodeStart.Forwarded; nodeEnd.HasForwarded && fwd > 0 {
				rep.SFUCPUUsPerForwarded = ptr(cpu / fwd * 1e6)
			}
		}
		if nodeEnd.HasForwarded {
			rep.SFUForwardedPPS = ptr((nodeEnd.Forwarded - nodeStart.Forwarded) / secs)
			rep.SFUDownTracks = ptr(nodeEnd.DownTracks)
		}
		rep.SFURSSMB = ptr(nodeEnd.RSSBytes / 1e6)
		rep.SFURSSMaxMB = ptr(max(rssMax, nodeEnd.RSSBytes) / 1e6)
	case scrapeErr != "":
		rep.SFUMetrics = scrapeErr
	case nodeEnd == nil:
		rep.SFUMetrics = "unavailable: no scrape at the end of the run"
	default:
		rep.SFUMetrics = "no steady window (joins took the whole run)"
		rep.SFURSSMB = ptr(nodeEnd.RSSBytes / 1e6)
		rep.SFURSSMaxMB = ptr(max(rssMax, nodeEnd.RSSBytes) / 1e6)
	}
	return rep
}

func ptr(v float64) *float64 { return &v }

// WriteJSON writes the report as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteTable writes the report for a person.
func (rep *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, args...)) }
	c := rep.Config
	shape := fmt.Sprintf("%d room(s) x (%d video + %d audio publishers, %d subscribers), %s", c.Rooms, c.Publishers, c.AudioPublishers, c.Subscribers, c.Codec)
	if c.Simulcast {
		shape += " simulcast"
	}
	shape += ", layout " + c.Layout
	if c.Layout == string(LayoutAll) {
		shape += " at " + c.Layer
	}
	row("run", "%s, %.1f s (steady window %.1f s)", shape, rep.DurationS, rep.SteadyWindowS)
	if c.LossPercent > 0 || c.BandwidthBps > 0 {
		row("impairment", "loss %.1f%%, bandwidth cap %s per subscriber", c.LossPercent, bpsString(c.BandwidthBps))
	}
	if rep.EndReason != "" {
		row("ended", "%s", rep.EndReason)
	}
	row("participants", "publishers %d/%d, subscribers %d/%d, join failures %d, disconnects %d",
		rep.PublishersJoined, rep.PublishersTarget, rep.SubscribersJoined, rep.SubscribersTarget, rep.JoinFailures, rep.Disconnects)
	row("tracks", "%d/%d received", rep.TracksReceived, rep.TracksExpected)
	row("join (ws open -> all first frames)", "p50 %.0f ms, p99 %.0f ms, max %.0f ms (%d subscribers)", rep.JoinMs.P50, rep.JoinMs.P99, rep.JoinMs.Max, rep.JoinMs.Samples)
	row("received", "%.0f kbit/s, %d packets", rep.ReceivedKbps, rep.PacketsReceived)
	for _, name := range []string{"q", "h", "f", "audio"} {
		if l, ok := rep.Layers[name]; ok {
			row("  layer "+name, "%d streams, %.0f kbit/s each (%.0f kbit/s total)", l.Streams, l.KbpsPerStream, l.Kbps)
		}
	}
	row("loss after NACK repair", "%.3f%% (%d packets; %d duplicates)", rep.PacketLossPct, rep.PacketsLost, rep.Duplicates)
	row("latency (send -> frame complete)", "p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms", rep.LatencyMs.P50, rep.LatencyMs.P95, rep.LatencyMs.P99, rep.LatencyMs.Max)
	if rep.VideoLatencyMs.Samples > 0 && rep.AudioLatencyMs.Samples > 0 {
		row("  video / audio p99", "%.1f ms / %.1f ms", rep.VideoLatencyMs.P99, rep.AudioLatencyMs.P99)
	}
	row("freezes (> 300 ms)", "%d, %.0f ms in total", rep.FreezeCount, rep.FreezeTotalMs)
	row("frames", "%d shown, %d corrupt", rep.FramesShown, rep.FramesCorrupt)
	row("layer switches", "%d (layer preference: %s)", rep.LayerSwitches, rep.LayerPreference)
	if len(rep.StreamStates) > 0 {
		var parts []string
		for _, k := range []string{"active", "paused_bandwidth", "paused_preference"} {
			if n := rep.StreamStates[k]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", k, n))
			}
		}
		row("SFU stream states", "%s; downlink estimate %.0f kbit/s mean", strings.Join(parts, ", "), rep.EstimateKbps)
	}
	row("keyframe requests", "%d PLIs sent by subscribers, %d received by publishers", rep.PLIsSent, rep.PublisherKeyframeRequests)
	if rep.SFUCPUCores != nil {
		line := fmt.Sprintf("%.2f cores", *rep.SFUCPUCores)
		if rep.SFUForwardedPPS != nil {
			line += fmt.Sprintf(", %.0f forwarded packets/s", *rep.SFUForwardedPPS)
		}
		if rep.SFUCPUUsPerForwarded != nil {
			line += fmt.Sprintf(", %.2f µs CPU per forwarded packet", *rep.SFUCPUUsPerForwarded)
		}
		row("SFU CPU", "%s", line)
	} else {
		row("SFU CPU", "%s", rep.SFUMetrics)
	}
	if rep.SFURSSMB != nil && rep.SFURSSMaxMB != nil {
		row("SFU memory", "%.0f MB resident at the end, %.0f MB peak seen", *rep.SFURSSMB, *rep.SFURSSMaxMB)
	}
	row("load tester CPU", "%.2f cores", rep.LoadTesterCPUCores)
	for _, e := range rep.Errors {
		row("error", "%s (x%d)", e.Message, e.Count)
	}
	return tw.Flush()
}

func bpsString(bps int64) string {
	switch {
	case bps == 0:
		return "none"
	case bps >= 1_000_000:
		return strings.TrimSuffix(fmt.Sprintf("%.2f", float64(bps)/1e6), ".00") + " Mbit/s"
	default:
		return fmt.Sprintf("%d kbit/s", bps/1000)
	}
}
