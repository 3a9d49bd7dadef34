package loadtest

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// totals is the sum of every subscriber's track counters at one moment.
type totals struct {
	at             time.Time
	tracks         int // tracks that delivered a first frame
	layerBytes     [layerSlots]uint64
	layerStreams   [layerSlots]int // tracks whose last shown frame was on each layer
	packets, bytes uint64
	expected, lost uint64
	dups           uint64
	padding        uint64
	frames         uint64
	shown, corrupt uint64
	freezes        uint64
	freezeTotal    time.Duration
	switches       uint64
	plis           uint64
	lat            histogram // every sample
	videoLat       histogram
	audioLat       histogram
	cpu            time.Duration // the load tester's own CPU time
}

// observer watches a run: progress lines, scrapes of the node's metrics, and the snapshots
// the report is computed from.
type observer struct {
	r      *run
	scr    *scraper // nil: no metrics
	cancel context.CancelFunc
	done   chan struct{}
	steady chan time.Time // when the steady window starts

	mu         sync.Mutex // guards the fields below
	pubsJoined time.Time
	joinsEnd   time.Time
	steadyAt   *totals     // load tester totals at the steady window's start
	nodeStart  *nodeSample // node metrics at the steady window's start
	nodeLast   *nodeSample
	nodePrev   *nodeSample
	rssMax     float64
	scrapeErr  string
	firstRun   *totals // totals at the first subscriber join (for runs without a steady window)
}

func newObserver(r *run) *observer {
	o := &observer{r: r, done: make(chan struct{}), steady: make(chan time.Time, 1)}
	if u := r.cfg.metricsURL(); u != "" {
		o.scr = newScraper(u)
	} else {
		o.scrapeErr = "not scraped (--metrics-url -)"
	}
	return o
}

// scrapeEvery spaces scrapes of /metrics (RSS peak, the progress line's CPU figure).
const scrapeEvery = 5 * time.Second

// begin starts the observer's goroutine.
func (o *observer) begin(ctx context.Context) {
	ctx, o.cancel = context.WithCancel(ctx)
	go o.loop(ctx)
}

func (o *observer) loop(ctx context.Context) {
	defer close(o.done)
	progress := time.NewTicker(o.r.cfg.ProgressInterval)
	defer progress.Stop()
	scrapes := time.NewTicker(scrapeEvery)
	defer scrapes.Stop()
	o.scrape(ctx)
	prev := o.collect(time.Now(), false)
	var steadyTimer <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case at := <-o.steady:
			d := time.Until(at)
			if d < 0 {
				d = 0
			}
			steadyTimer = time.After(d)
		case <-steadyTimer:
			steadyTimer = nil
			t := o.collect(time.Now(), false)
			smp := o.scrape(ctx)
			o.mu.Lock()
			o.steadyAt = t
			o.nodeStart = smp
			o.mu.Unlock()
		case <-scrapes.C:
			o.scrape(ctx)
		case <-progress.C:
			cur := o.collect(time.Now(), false)
			if w := o.r.cfg.Progress; w != nil {
				fmt.Fprintln(w, o.progressLine(prev, cur))
			}
			prev = cur
		}
	}
}

// publishersJoined marks the end of the publisher joins.
func (o *observer) publishersJoined(at time.Time) {
	t := o.collect(at, false)
	o.mu.Lock()
	o.pubsJoined = at
	o.firstRun = t
	o.mu.Unlock()
}

// joinsDone marks the end of all joins: the steady window starts a warmup later.
func (o *observer) joinsDone(at time.Time) {
	o.mu.Lock()
	o.joinsEnd = at
	o.mu.Unlock()
	o.steady <- at.Add(o.r.cfg.Warmup)
}

// scrape reads the node's metrics once, remembering the result (nil when it failed).
func (o *observer) scrape(ctx context.Context) *nodeSample {
	if o.scr == nil {
		return nil
	}
	o.mu.Lock()
	if o.scrapeErr != "" && o.nodeLast == nil {
		// The first scrape failed: the node does not expose metrics where we look.
		o.mu.Unlock()
		return nil
	}
	o.mu.Unlock()
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	smp, err := o.scr.scrape(sctx)
	o.mu.Lock()
	defer o.mu.Unlock()
	if err != nil {
		if o.scrapeErr == "" {
			o.scrapeErr = "unavailable: " + err.Error()
			o.r.log.Warn("cannot read the node's metrics", "url", o.scr.url, "err", err)
		}
		return nil
	}
	o.nodePrev, o.nodeLast = o.nodeLast, &smp
	o.rssMax = max(o.rssMax, smp.RSSBytes)
	return &smp
}

// collect sums every track's counters at now.
func (o *observer) collect(now time.Time, final bool) *totals {
	o.r.mu.Lock()
	subs := append([]*subscriber(nil), o.r.subs...)
	o.r.mu.Unlock()
	t := &totals{at: now, cpu: processCPU()}
	for _, s := range subs {
		for _, tr := range s.trackList() {
			lat := &t.videoLat
			if tr.audio {
				lat = &t.audioLat
			}
			st := tr.snapshot(now, lat, final)
			if !st.FirstFrame.IsZero() {
				t.tracks++
			}
			for i, b := range st.LayerBytes {
				t.layerBytes[i] += b
			}
			if st.LastLayer >= 0 {
				t.layerStreams[st.LastLayer]++
			}
			t.packets += st.Packets
			t.bytes += st.Bytes
			t.expected += st.Expected
			t.lost += st.Lost
			t.dups += st.Duplicates
			t.padding += st.Padding
			t.frames += st.Frames
			t.shown += st.Shown
			t.corrupt += st.Corrupt
			t.freezes += st.Freezes
			t.freezeTotal += st.FreezeTotal
			t.switches += st.Switches
			t.plis += st.PLIs
		}
	}
	t.lat.merge(&t.videoLat)
	t.lat.merge(&t.audioLat)
	return t
}

// progressLine is one line of live status.
func (o *observer) progressLine(prev, cur *totals) string {
	r := o.r
	r.mu.Lock()
	pubs, subs, fails, disc := len(r.pubs), len(r.subs), r.joinFail, r.disconnects
	var est float64
	var nest int
	for _, s := range r.subs {
		if e := s.estimate.Load(); e > 0 {
			est += float64(e)
			nest++
		}
	}
	r.mu.Unlock()
	cfg := &r.cfg
	dt := cur.at.Sub(prev.at).Seconds()
	mbps := 0.0
	if dt > 0 {
		mbps = float64(cur.bytes-prev.bytes) * 8 / dt / 1e6
	}
	loss := pct(cur.lost-min(prev.lost, cur.lost), cur.expected-min(prev.expected, cur.expected))
	line := fmt.Sprintf("[%5.0fs] pubs %d/%d subs %d/%d tracks %d/%d | rx %.1f Mbit/s | loss %.2f%% | latency p50 %.1f p99 %.1f ms | freezes %d",
		cur.at.Sub(r.start).Seconds(), pubs, cfg.Rooms*(cfg.Publishers+cfg.AudioPublishers), subs, cfg.Rooms*cfg.Subscribers,
		cur.tracks, cfg.Rooms*cfg.Subscribers*cfg.expectedTracks(), mbps, loss, cur.lat.quantile(0.5), cur.lat.quantile(0.99), cur.freezes)
	o.mu.Lock()
	a, b := o.nodePrev, o.nodeLast
	o.mu.Unlock()
	if a != nil && b != nil && b.HasCPU && b.At.After(a.At) {
		line += fmt.Sprintf(" | sfu %.2f cores", (b.CPUSeconds-a.CPUSeconds)/b.At.Sub(a.At).Seconds())
	}
	if nest > 0 {
		line += fmt.Sprintf(" | estimate %.1f Mbit/s", est/float64(nest)/1e6)
	}
	if fails > 0 || disc > 0 {
		line += fmt.Sprintf(" | join failures %d, disconnects %d", fails, disc)
	}
	return line
}

// finish stops the observer and computes the report at end.
func (o *observer) finish(end time.Time) *Report {
	o.cancel()
	<-o.done
	final := o.collect(end, true)
	var smp *nodeSample
	if o.scr != nil {
		// A fresh context: the run's may be over, and this scrape is bounded on its own.
		smp = o.scrape(context.Background())
	}
	return o.report(final, smp, end)
}

func pct(part, whole uint64) float64 {
	if whole == 0 {
		return 0
	}
	return 100 * float64(part) / float64(whole)
}
