package scenario

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// The chart: a header, then per subscriber a rate panel (link capacity, the SFU's
// estimate, delivered media, and loss as bars along its floor) and one lane per received
// camera (layer delivered, layer targeted, paused spans); last, one panel per publisher
// with what each of its layers sent. Steps are dashed verticals across everything.
const (
	svgWidth    = 1000
	svgLeft     = 70
	svgRight    = 130 // room for the legend
	svgRateH    = 190
	svgLaneH    = 50
	svgLaneGap  = 24 // above each lane, for its title
	svgGap      = 34
	svgHeaderH  = 90
	svgFooterH  = 30
	plotW       = svgWidth - svgLeft - svgRight
	colCapacity = "#9e9e9e"
	colEstimate = "#1f6fd1"
	colGot      = "#2e9d48"
	colLoss     = "#d93025"
	colTarget   = "#f29900"
	colPaused   = "#fde0dc"
)

var layerColors = []string{"#9ccc65", "#42a5f5", "#5e35b1"} // q, h, f

// WriteSVG draws the run as an SVG chart.
func (r *Result) WriteSVG(w io.Writer) error {
	bw := bufio.NewWriter(w)
	c := &chart{w: bw, res: r, dur: math.Max(r.DurationSec, 1)}
	c.draw()
	return bw.Flush()
}

type chart struct {
	w   *bufio.Writer
	res *Result
	dur float64
	y   float64 // top of the next panel
}

func (c *chart) printf(format string, a ...any) { fmt.Fprintf(c.w, format, a...) }

func (c *chart) x(t float64) float64 { return svgLeft + t/c.dur*plotW }

func esc(s string) string { return html.EscapeString(s) }

func (c *chart) draw() {
	lanes := 0
	for _, s := range c.res.Subscribers {
		for _, t := range s.Tracks {
			if t.Video {
				lanes++
			}
		}
	}
	pubPanels := 0
	for _, p := range c.res.Publishers {
		if len(p.Layers) > 0 {
			pubPanels++
		}
	}
	height := svgHeaderH + len(c.res.Subscribers)*(svgRateH+svgGap) + lanes*(svgLaneH+svgLaneGap) +
		pubPanels*(svgRateH/2+svgGap) + svgFooterH
	c.printf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n",
		svgWidth, height, svgWidth, height)
	c.printf(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	c.printf(`<text x="%d" y="22" font-size="16" font-weight="bold">scenario %s</text>`+"\n", svgLeft, esc(c.res.Scenario))
	c.printf(`<text x="%d" y="40">%s</text>`+"\n", svgLeft, esc(c.res.Summary))
	c.printf(`<text x="%d" y="58" font-family="monospace">%s</text>`+"\n", svgLeft, esc(c.res.SummaryLine))
	c.printf(`<text x="%d" y="74" fill="#555">figures for %s receiving %s's camera; dashed verticals: link changes</text>`+"\n",
		svgLeft, esc(c.res.Focus.Subscriber), esc(c.res.Focus.Publisher))
	c.y = svgHeaderH + 14
	top := c.y
	for _, s := range c.res.Subscribers {
		c.subscriberPanel(s)
	}
	for _, p := range c.res.Publishers {
		if len(p.Layers) > 0 {
			c.publisherPanel(p)
		}
	}
	c.steps(top, c.y-svgGap+12)
	c.timeAxis(c.y - svgGap + 12)
	c.printf("</svg>\n")
}

// steps draws a dashed vertical line and a label at every step.
func (c *chart) steps(top, bottom float64) {
	for _, st := range c.res.Steps {
		x := c.x(st.AtSec)
		c.printf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#555" stroke-dasharray="4 3"/>`+"\n", x, top, x, bottom)
		label := st.Label
		if label == "" {
			label = st.Action
		}
		what := ""
		switch st.Action {
		case SetRate.String():
			what = " → " + kbps(st.Value)
		case SetLoss.String():
			what = fmt.Sprintf(" → %d%%", st.Value)
		case SetMaxLayer.String():
			what = " → " + orDash(st.RID)
		}
		c.printf(`<text x="%.1f" y="%.1f" fill="#333">%s%s</text>`+"\n", x+3, top+10, esc(label), esc(what))
	}
}

func (c *chart) timeAxis(y float64) {
	c.printf(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#333"/>`+"\n", svgLeft, y, svgLeft+plotW, y)
	step := niceStep(c.dur / 10)
	for t := 0.0; t <= c.dur+1e-9; t += step {
		x := c.x(t)
		c.printf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333"/>`+"\n", x, y, x, y+4)
		c.printf(`<text x="%.1f" y="%.1f" text-anchor="middle">%gs</text>`+"\n", x, y+16, t)
	}
}

// subscriberPanel draws one subscriber's rates and its camera lanes.
func (c *chart) subscriberPanel(s SubscriberResult) {
	top := c.y
	var capS, estS, gotS []point
	var loss []point
	maxV := 1.0
	for _, smp := range c.res.Samples {
		ss := smp.Subscriber(s.Name)
		if ss == nil {
			continue
		}
		if ss.CapacityBps > 0 {
			capS = append(capS, point{smp.T, float64(ss.CapacityBps)})
		}
		estS = append(estS, point{smp.T, float64(ss.EstimateBps)})
		gotS = append(gotS, point{smp.T, float64(ss.DeliveredBps)})
		loss = append(loss, point{smp.T, ss.LossPct})
		maxV = math.Max(maxV, math.Max(float64(ss.CapacityBps), math.Max(float64(ss.EstimateBps), float64(ss.DeliveredBps))))
	}
	maxV = niceCeil(maxV * 1.05)
	y := func(v float64) float64 { return top + svgRateH - v/maxV*svgRateH }
	c.frame(top, svgRateH, fmt.Sprintf("%s: link capacity, SFU estimate, delivered media", s.Name))
	// Grid and axis labels.
	step := niceStep(maxV / 4)
	for v := 0.0; v <= maxV+1e-9; v += step {
		c.printf(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>`+"\n", svgLeft, y(v), svgLeft+plotW, y(v))
		c.printf(`<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", svgLeft-4, y(v)+4, axisLabel(v))
	}
	// Loss: bars from the floor, full height meaning 20%.
	for _, p := range loss {
		if p.v <= 0 {
			continue
		}
		h := math.Min(p.v/20, 1) * svgRateH / 4
		w := plotW * c.res.SampleEverySec / c.dur
		c.printf(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" opacity="0.6"><title>loss %.1f%%</title></rect>`+"\n",
			c.x(p.t)-w, top+svgRateH-h, w, h, colLoss, p.v)
	}
	c.polyline(capS, y, colCapacity, 4, "", true)
	c.polyline(estS, y, colEstimate, 2, "", true)
	c.polyline(gotS, y, colGot, 1.5, "", false)
	c.legend(top, []legendItem{{colCapacity, "capacity"}, {colEstimate, "SFU estimate"}, {colGot, "delivered"}, {colLoss, "loss (¼ = 20%)"}})
	c.y = top + svgRateH + svgLaneGap
	for _, t := range s.Tracks {
		if t.Video {
			c.lane(s.Name, t)
		}
	}
	c.y += svgGap - svgLaneGap
}

// lane draws a camera's layers over time: delivered (solid steps, coloured by layer),
// the SFU's target (dashed) and spans reported paused (shaded).
func (c *chart) lane(sub string, t TrackResult) {
	top := c.y
	level := func(l int) float64 { return top + svgLaneH - 7 - float64(l+1)*(svgLaneH-14)/3 }
	c.printf(`<rect x="%d" y="%.1f" width="%d" height="%d" fill="#fafafa" stroke="#ccc"/>`+"\n", svgLeft, top, plotW, svgLaneH)
	for i, st := range t.States {
		if st.State == "active" {
			continue
		}
		end := c.dur
		if i+1 < len(t.States) {
			end = t.States[i+1].AtSec
		}
		c.printf(`<rect x="%.1f" y="%.1f" width="%.1f" height="%d" fill="%s"><title>%s</title></rect>`+"\n",
			c.x(st.AtSec), top, math.Max(c.x(end)-c.x(st.AtSec), 1), svgLaneH, colPaused, esc(st.State))
	}
	for l := -1; l < len(rids); l++ {
		name := "none"
		if l >= 0 {
			name = rids[l]
		}
		c.printf(`<text x="%d" y="%.1f" text-anchor="end" fill="#666">%s</text>`+"\n", svgLeft-4, level(l)+4, name)
	}
	c.printf(`<text x="%d" y="%.1f" fill="#333">%s receiving %s: layer delivered (solid), SFU target (dashed), paused by the SFU (shaded)</text>`+"\n",
		svgLeft, top-5, esc(sub), esc(t.Track))
	var prev *point
	for _, smp := range c.res.Samples {
		ss := smp.Subscriber(sub)
		if ss == nil {
			continue
		}
		ts := ss.Track(t.Track)
		if ts == nil {
			continue
		}
		l := layerIndex(ts.Layer)
		p := point{smp.T, float64(l)}
		if prev != nil {
			x0, x1 := c.x(prev.t), c.x(p.t)
			col := "#bbb"
			if l >= 0 {
				col = layerColors[l]
			}
			c.printf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="5"/>`+"\n",
				x0, level(l), x1, level(l), col)
		}
		prev = &p
	}
	var target []point
	for _, smp := range c.res.Samples {
		if ss := smp.Subscriber(sub); ss != nil {
			if ts := ss.Track(t.Track); ts != nil && ts.State != "" {
				target = append(target, point{smp.T, float64(layerIndex(ts.TargetRID))})
			}
		}
	}
	c.polyline(target, level2(level), colTarget, 1.5, "5 3", true)
	c.y = top + svgLaneH + svgLaneGap
}

// level2 adapts a lane's level function to polyline's value mapping.
func level2(level func(int) float64) func(float64) float64 {
	return func(v float64) float64 { return level(int(v)) }
}

// publisherPanel draws what each layer of a publisher sent.
func (c *chart) publisherPanel(p PublisherResult) {
	top := c.y
	h := float64(svgRateH / 2)
	series := make([][]point, len(rids))
	maxV := 1.0
	for _, smp := range c.res.Samples {
		ps := smp.Publisher(p.Name)
		if ps == nil {
			continue
		}
		for i, l := range ps.Layers {
			if i < len(series) {
				series[i] = append(series[i], point{smp.T, float64(l.Bps)})
				maxV = math.Max(maxV, float64(l.Bps))
			}
		}
	}
	maxV = niceCeil(maxV * 1.05)
	y := func(v float64) float64 { return top + h - v/maxV*h }
	c.frame(top, int(h), fmt.Sprintf("%s: sent per layer (payload)", p.Name))
	step := niceStep(maxV / 2)
	for v := 0.0; v <= maxV+1e-9; v += step {
		c.printf(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>`+"\n", svgLeft, y(v), svgLeft+plotW, y(v))
		c.printf(`<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", svgLeft-4, y(v)+4, axisLabel(v))
	}
	var items []legendItem
	for i, s := range series {
		c.polyline(s, y, layerColors[i], 1.5, "", false)
		items = append(items, legendItem{layerColors[i], rids[i]})
	}
	c.legend(top, items)
	c.y = top + h + svgGap
}

type point struct{ t, v float64 }

// axisLabel is a bitrate axis tick.
func axisLabel(v float64) string {
	if v <= 0 {
		return "0"
	}
	return kbps(int(v))
}

type legendItem struct{ color, label string }

func (c *chart) legend(top float64, items []legendItem) {
	x := float64(svgLeft + plotW + 12)
	for i, it := range items {
		yy := top + 14 + float64(i)*16
		c.printf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="3"/>`+"\n", x, yy-4, x+16, yy-4, it.color)
		c.printf(`<text x="%.1f" y="%.1f">%s</text>`+"\n", x+20, yy, esc(it.label))
	}
}

func (c *chart) frame(top float64, h int, title string) {
	c.printf(`<rect x="%d" y="%.1f" width="%d" height="%d" fill="none" stroke="#ccc"/>`+"\n", svgLeft, top, plotW, h)
	c.printf(`<text x="%d" y="%.1f" font-weight="bold">%s</text>`+"\n", svgLeft, top-5, esc(title))
}

// polyline draws a series; stepped series hold each value until the next sample.
func (c *chart) polyline(pts []point, y func(float64) float64, color string, width float64, dash string, stepped bool) {
	if len(pts) == 0 {
		return
	}
	var b strings.Builder
	for i, p := range pts {
		if stepped && i > 0 {
			fmt.Fprintf(&b, "%.1f,%.1f ", c.x(p.t), y(pts[i-1].v))
		}
		fmt.Fprintf(&b, "%.1f,%.1f ", c.x(p.t), y(p.v))
	}
	extra := ""
	if dash != "" {
		extra = fmt.Sprintf(` stroke-dasharray="%s"`, dash)
	}
	c.printf(`<polyline points="%s" fill="none" stroke="%s" stroke-width="%.1f"%s/>`+"\n",
		strings.TrimSpace(b.String()), color, width, extra)
}

// niceStep rounds a raw step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// niceCeil rounds v up to a multiple of a nice step.
func niceCeil(v float64) float64 {
	s := niceStep(v / 5)
	return math.Ceil(v/s) * s
}
