package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cascade-sfu/cascade/auth"
	"github.com/cascade-sfu/cascade/loadtest"
)

func init() {
	register(&command{
		name:    "loadtest",
		args:    "--url URL --api-key K --api-secret S [flags]",
		summary: "load a node with synthetic publishers and subscribers and report what viewers experience",
		run:     runLoadtest,
	})
}

func runLoadtest(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, commands["loadtest"])
	cf := addConfigFlags(fs, false)
	var cfg loadtest.Config
	fs.StringVar(&cfg.URL, "url", "ws://127.0.0.1:7700", "the node's signaling `URL` (ws, wss, http or https)")
	fs.IntVar(&cfg.Rooms, "rooms", 1, "`number` of rooms")
	fs.IntVar(&cfg.Publishers, "publishers", 1, "video publishers per room")
	fs.IntVar(&cfg.AudioPublishers, "audio-publishers", 0, "audio-only publishers per room")
	fs.IntVar(&cfg.Subscribers, "subscribers", 10, "subscribers per room")
	fs.DurationVar(&cfg.Duration, "duration", 30*time.Second, "length of the run, joins included")
	fs.BoolVar(&cfg.Simulcast, "simulcast", false, "publish three simulcast layers (q, h, f: about 150, 500, 1700 kbit/s)")
	codec := fs.String("codec", "vp8", "video `codec`: vp8 or h264")
	layout := fs.String("layout", "all", "what subscribers take: all (every track, video at --layer) or speaker (the first publisher at the top layer, up to five others at the lowest)")
	fs.StringVar(&cfg.Layer, "layer", "f", "`layer` subscribers take with --layout all: q, h or f")
	ramp := fs.String("ramp", "", "join `rate`, e.g. 10/s or 120/m (default: as fast as the node answers)")
	jsonPath := fs.String("json", "", "write the report as JSON to `file` (- for standard output)")
	fs.Float64Var(&cfg.Impairment.LossPercent, "impair-loss", 0, "drop this `percent` of RTP/RTCP on each subscriber's receive path")
	bw := fs.String("impair-bandwidth", "", "cap each subscriber's receive path at this `rate`, e.g. 800k or 2M (bit/s)")
	fs.StringVar(&cfg.MetricsURL, "metrics-url", "", "the node's Prometheus `URL` (default: /metrics on --url's host; - for none)")
	fs.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "time after the last join left out of the steady window")
	fs.DurationVar(&cfg.Grace, "grace", 10*time.Second, "longest teardown after the run; the command ends by --duration plus this")
	fs.DurationVar(&cfg.JoinTimeout, "join-timeout", 15*time.Second, "longest wait for one participant's join")
	fs.DurationVar(&cfg.ProgressInterval, "progress", 2*time.Second, "interval between progress lines on standard error (0: none)")
	fs.StringVar(&cfg.RoomPrefix, "room-prefix", "", "room name `prefix` (default: loadtest- and a random suffix)")
	logLevel := fs.String("log-level", "none", "`level` of the participants' logs on standard error: debug, info, warn, error or none (pion reports routine teardown as errors)")
	steps := fs.String("steps", "", "capacity sweep: comma-separated subscriber `counts` per room, one run each, stopping at the first over --max-loss or --max-p99")
	maxLoss := fs.Float64("max-loss", 1, "with --steps: the loss `percent` (after NACK repair) that ends the sweep")
	maxP99 := fs.Duration("max-p99", 100*time.Millisecond, "with --steps: the latency p99 that ends the sweep")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	cfg.Codec, cfg.Layout = loadtest.Codec(strings.ToLower(*codec)), loadtest.Layout(strings.ToLower(*layout))
	var err error
	if cfg.Ramp, err = parseRate(*ramp); err != nil {
		return exitCode(e, "loadtest", usageErrorf("--ramp: %v", err))
	}
	if cfg.Impairment.BandwidthBps, err = parseBitrate(*bw); err != nil {
		return exitCode(e, "loadtest", usageErrorf("--impair-bandwidth: %v", err))
	}
	level := slog.LevelError + 4 // above every level: nothing is logged
	if *logLevel != "none" {
		if level, err = parseLevel(*logLevel); err != nil {
			return exitCode(e, "loadtest", usageErrorf("--log-level: %v", err))
		}
	}
	s, err := cf.load(e.getenv)
	if err != nil {
		return exitCode(e, "loadtest", err)
	}
	key, secret, err := s.signingKey()
	if err != nil {
		return exitCode(e, "loadtest", err)
	}
	ttl := cfg.Duration + time.Hour
	cfg.Token = func(room, identity string, publish bool) (string, error) {
		grant := auth.VideoGrant{Room: room, RoomJoin: true}
		if !publish {
			grant.CanPublish = auth.Bool(false)
		}
		return auth.Mint(key, secret, auth.TokenParams{Identity: identity, Name: identity, TTL: ttl, Grant: grant})
	}
	if cfg.ProgressInterval > 0 {
		cfg.Progress = e.stderr
	} else {
		cfg.ProgressInterval = time.Hour // no lines within any sensible run
	}
	cfg.Logger = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	if err := cfg.Validate(); err != nil {
		return exitCode(e, "loadtest", usageErrorf("%v", strings.TrimPrefix(err.Error(), loadtest.ErrBadConfig.Error()+": ")))
	}
	if *steps != "" {
		counts, err := parseSteps(*steps)
		if err != nil {
			return exitCode(e, "loadtest", usageErrorf("--steps: %v", err))
		}
		return runSweep(ctx, e, cfg, counts, *maxLoss, *maxP99, *jsonPath)
	}

	rep, runErr := loadtest.Run(ctx, cfg)
	if rep == nil {
		return exitCode(e, "loadtest", runErr)
	}
	fmt.Fprintln(e.stdout)
	_ = rep.WriteTable(e.stdout)
	if *jsonPath != "" {
		if err := writeReport(e, *jsonPath, rep); err != nil {
			fmt.Fprintf(e.stderr, "sfu loadtest: writing the JSON report: %v\n", err)
			if runErr == nil {
				return 1
			}
		}
	}
	if runErr != nil {
		fmt.Fprintf(e.stderr, "sfu loadtest: %v (the report above is partial)\n", runErr)
		return 1
	}
	return 0
}

func writeReport(e *env, path string, rep any) error {
	w := e.stdout
	var f *os.File
	if path != "-" {
		var err error
		if f, err = os.Create(path); err != nil {
			return err
		}
		w = f
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	err := enc.Encode(rep)
	if f != nil {
		err = errors.Join(err, f.Close())
	}
	return err
}

// sweepStep is one run of a capacity sweep.
type sweepStep struct {
	Subscribers   int              `json:"subscribers_per_room"`
	VideoStreams  int              `json:"forwarded_video_streams"`
	Pass          bool             `json:"pass"`
	PPSPerSFUCore *float64         `json:"forwarded_pps_per_sfu_core,omitempty"`
	Report        *loadtest.Report `json:"report"`
	Error         string           `json:"error,omitempty"`
}

// runSweep runs one load test per subscriber count until one fails the loss or latency
// limit, and reports the last count that passed: the knee.
func runSweep(ctx context.Context, e *env, cfg loadtest.Config, counts []int, maxLoss float64, maxP99 time.Duration, jsonPath string) int {
	var out struct {
		MaxLossPct float64     `json:"max_loss_pct"`
		MaxP99Ms   float64     `json:"max_p99_ms"`
		Steps      []sweepStep `json:"steps"`
		Knee       *sweepStep  `json:"knee,omitempty"`
	}
	out.MaxLossPct, out.MaxP99Ms = maxLoss, float64(maxP99)/float64(time.Millisecond)
	for i, n := range counts {
		if ctx.Err() != nil {
			break
		}
		c := cfg
		c.Subscribers = n
		c.RoomPrefix = ""
		rep, err := loadtest.Run(ctx, c)
		if rep == nil {
			return exitCode(e, "loadtest", err)
		}
		st := sweepStep{Subscribers: n, Report: rep}
		for _, l := range []string{"q", "h", "f"} {
			st.VideoStreams += rep.Layers[l].Streams
		}
		if rep.SFUCPUCores != nil && rep.SFUForwardedPPS != nil && *rep.SFUCPUCores > 0 {
			v := *rep.SFUForwardedPPS / *rep.SFUCPUCores
			st.PPSPerSFUCore = &v
		}
		st.Pass = err == nil && rep.TracksReceived == rep.TracksExpected && rep.PacketLossPct <= maxLoss && rep.LatencyMs.P99 <= out.MaxP99Ms
		if err != nil {
			st.Error = err.Error()
		}
		out.Steps = append(out.Steps, st)
		line := fmt.Sprintf("step %d: %d subscribers/room, %d/%d tracks, %d video streams (f %d, h %d, q %d), loss %.2f%%, p99 %.1f ms, freezes %d",
			i+1, n, rep.TracksReceived, rep.TracksExpected, st.VideoStreams, rep.Layers["f"].Streams, rep.Layers["h"].Streams,
			rep.Layers["q"].Streams, rep.PacketLossPct, rep.LatencyMs.P99, rep.FreezeCount)
		if rep.SFUCPUCores != nil {
			line += fmt.Sprintf(", sfu %.2f cores", *rep.SFUCPUCores)
		}
		if rep.SFUCPUUsPerForwarded != nil {
			line += fmt.Sprintf(", %.1f µs/pkt", *rep.SFUCPUUsPerForwarded)
		}
		if st.PPSPerSFUCore != nil {
			line += fmt.Sprintf(", %.0f pps/core", *st.PPSPerSFUCore)
		}
		verdict := "pass"
		if !st.Pass {
			verdict = "FAIL"
		}
		fmt.Fprintf(e.stdout, "%s: %s\n", line, verdict)
		if !st.Pass {
			break
		}
		out.Knee = &out.Steps[len(out.Steps)-1]
		// Let the node finish tearing the last step's sessions down.
		select {
		case <-ctx.Done():
		case <-time.After(3 * time.Second):
		}
	}
	if out.Knee != nil {
		fmt.Fprintf(e.stdout, "knee: %d subscribers per room, %d forwarded video streams", out.Knee.Subscribers, out.Knee.VideoStreams)
		if out.Knee.PPSPerSFUCore != nil {
			fmt.Fprintf(e.stdout, ", %.0f forwarded packets/s per SFU core", *out.Knee.PPSPerSFUCore)
		}
		fmt.Fprintln(e.stdout)
	} else {
		fmt.Fprintln(e.stdout, "knee: none of the steps passed")
	}
	if jsonPath != "" {
		if err := writeReport(e, jsonPath, &out); err != nil {
			fmt.Fprintf(e.stderr, "sfu loadtest: writing the JSON report: %v\n", err)
			return 1
		}
	}
	return 0
}

// parseSteps reads "10,20,40".
func parseSteps(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a list of positive counts like 10,20,40", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// parseRate reads "10/s", "120/m" or "10" (per second); "" is 0 (no pacing).
func parseRate(s string) (float64, error) {
	if s == "" {
		return 0, nil
	}
	num, unit, _ := strings.Cut(s, "/")
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("%q is not a positive rate like 10/s", s)
	}
	switch unit {
	case "", "s":
		return v, nil
	case "m":
		return v / 60, nil
	}
	return 0, fmt.Errorf("%q: the unit must be /s or /m", s)
}

// parseBitrate reads bits per second with an optional k, M or G suffix (and an optional
// "bit", "bps" or "bit/s" after it); "" is 0.
func parseBitrate(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	t := strings.TrimSpace(s)
	for _, suf := range []string{"bit/s", "bps", "bit", "b"} {
		if strings.HasSuffix(strings.ToLower(t), suf) {
			t = t[:len(t)-len(suf)]
			break
		}
	}
	mult := 1.0
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k', 'K':
			mult, t = 1e3, t[:n-1]
		case 'm', 'M':
			mult, t = 1e6, t[:n-1]
		case 'g', 'G':
			mult, t = 1e9, t[:n-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%q is not a bit rate like 800k or 2M", s)
	}
	return int64(v * mult), nil
}
