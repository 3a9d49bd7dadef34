package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/cascade-sfu/cascade/scenario"
)

func init() {
	register(&command{
		name:    "scenario",
		args:    "NAME [--svg FILE] [--json FILE] | --list | --from-json FILE --svg FILE",
		summary: "run a network-condition scenario in process over a virtual network and report how forwarding coped",
		run:     runScenario,
	})
}

func runScenario(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, commands["scenario"])
	list := fs.Bool("list", false, "list the scenarios")
	svgPath := fs.String("svg", "", "write a chart of the run (SVG) to `file`")
	jsonPath := fs.String("json", "", "write the timeline and figures as JSON to `file` (- for standard output)")
	quiet := fs.Bool("quiet", false, "print only the summary line, not the timeline")
	noDynacast := fs.Bool("no-dynacast", false, "publishers keep every layer on, ignoring the SFU's dynacast updates")
	from := fs.String("from-json", "", "instead of running, read an earlier run's --json `file` and write its --svg chart and summary")
	logLevel := fs.String("log-level", "none", "`level` of the SFU's and participants' logs on standard error: debug, info, warn, error or none")
	// The name may come before the flags (sfu scenario drop-restore --svg f.svg) or after.
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if name == "" && fs.NArg() > 0 {
		name = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return 2
		}
	}
	if fs.NArg() > 0 {
		return exitCode(e, "scenario", usageErrorf("unexpected arguments: %s", strings.Join(fs.Args(), " ")))
	}
	if *list {
		w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		for _, s := range scenario.List() {
			fmt.Fprintf(w, "%s\t%v\t%s\n", s.Name, s.Duration, s.Summary)
		}
		_ = w.Flush()
		return 0
	}
	if *from != "" {
		return redraw(e, *from, *svgPath)
	}
	if name == "" {
		fs.Usage()
		return 2
	}
	spec, err := scenario.Lookup(name)
	if err != nil {
		return exitCode(e, "scenario", usageErrorf("%v", err))
	}
	opts := scenario.Options{Logger: slog.New(slog.DiscardHandler), NoDynacast: *noDynacast}
	if *logLevel != "none" {
		level, err := parseLevel(*logLevel)
		if err != nil {
			return exitCode(e, "scenario", usageErrorf("--log-level: %v", err))
		}
		opts.Logger = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	}
	if !*quiet {
		fmt.Fprintf(e.stdout, "scenario %s: %s\n", spec.Name, spec.Summary)
		opts.Progress = func(s scenario.Sample) { fmt.Fprint(e.stdout, scenario.FormatSample(s)) }
	}
	res, err := scenario.Run(ctx, spec, opts)
	if err != nil {
		return exitCode(e, "scenario", err)
	}
	if !*quiet {
		for _, tr := range res.Figures.Transitions {
			fmt.Fprintf(e.stdout, "transition %q at %.1fs: %s %s->%s switch_ms=%d loss_pct=%.1f max_freeze_ms=%d (over %.1fs)\n",
				tr.Label, tr.AtSec, tr.Direction, tr.From, tr.Expect, tr.SwitchMs, tr.LossPct, tr.MaxFreezeMs, tr.WindowSec)
		}
		f := res.Figures
		fmt.Fprintf(e.stdout, "focus %s receiving %s: longest stall while active %d ms, paused %d ms, residual loss %.2f%%, estimate error over %d steady constrained samples\n",
			res.Focus.Subscriber, res.Focus.Publisher, f.MaxStallMs, f.PausedMs, f.ResidualLossPct, f.EstimateSamples)
	}
	if *svgPath != "" {
		if err := writeOutput(*svgPath, res.WriteSVG); err != nil {
			return exitCode(e, "scenario", err)
		}
	}
	if *jsonPath != "" {
		if *jsonPath == "-" {
			err = res.WriteJSON(e.stdout)
		} else {
			err = writeOutput(*jsonPath, res.WriteJSON)
		}
		if err != nil {
			return exitCode(e, "scenario", err)
		}
	}
	fmt.Fprintln(e.stdout, res.SummaryLine)
	return 0
}

// writeOutput creates path and writes it with write.
func writeOutput(path string, write func(w io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// redraw writes the chart of an earlier run from its JSON.
func redraw(e *env, from, svgPath string) int {
	b, err := os.ReadFile(from)
	if err != nil {
		return exitCode(e, "scenario", err)
	}
	var res scenario.Result
	if err := json.Unmarshal(b, &res); err != nil {
		return exitCode(e, "scenario", fmt.Errorf("%s: %w", from, err))
	}
	if svgPath != "" {
		if err := writeOutput(svgPath, res.WriteSVG); err != nil {
			return exitCode(e, "scenario", err)
		}
	}
	fmt.Fprintln(e.stdout, res.SummaryLine)
	return 0
}
