package scenario

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cascade-sfu/cascade/auth"
	"github.com/cascade-sfu/cascade/client"
	"github.com/cascade-sfu/cascade/node"
	cascadev1 "github.com/cascade-sfu/cascade/proto/cascade/v1"
)

// Options tune a run.
type Options struct {
	// Logger receives the SFU's and the participants' logs (default: none).
	Logger *slog.Logger
	// Progress, when set, is called with each sample as it is taken (from the run's
	// goroutine).
	Progress func(Sample)
	// JoinTimeout bounds each join and publish (default 15 s).
	JoinTimeout time.Duration
	// SFU tunes the node's configuration before it starts.
	SFU func(*node.Config)
	// NoDynacast makes every publisher keep all its layers on, whatever the SFU's dynacast
	// updates say (as PublisherSpec.NoDynacast does for one).
	NoDynacast bool
}

// participant is one client of the run.
type participant struct {
	name string
	c    *client.Client
	link *Link
	cam  *Camera         // publishers
	obs  *Observer       // subscribers
	spec *SubscriberSpec // subscribers
	// maxRID is the subscriber's preferred maximum layer (SetMaxLayer steps).
	maxRID string
	// settingsSent: track settings went out, so clearing them needs a message too.
	settingsSent bool
}

// run is one execution of a Spec.
type run struct {
	spec Spec
	opts Options
	log  *slog.Logger

	net  *Network
	node *node.Node
	url  string
	key  string
	sec  string
	pubs []*participant
	subs []*participant

	start  time.Time
	steps  []stepRecord
	prev   map[string]TrackCounters   // by subscriber name + track sid: the last sample's totals
	prevPL map[string]layerTotals     // by publisher name + rid
	names  map[string]string          // track sid -> sample name
	sids   map[string]map[string]bool // publisher name -> its track sids
}

type layerTotals struct{ frames, bytes uint64 }

// Run executes spec: it builds the virtual network and the SFU, joins everyone, starts the
// media, applies the steps while sampling the timeline, and measures the figures. It
// stops everything it started before returning, on error too.
func Run(ctx context.Context, spec Spec, opts Options) (res *Result, err error) {
	spec = spec.withDefaults()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.JoinTimeout <= 0 {
		opts.JoinTimeout = 15 * time.Second
	}
	r := &run{spec: spec, opts: opts, log: opts.Logger, prev: map[string]TrackCounters{}, prevPL: map[string]layerTotals{},
		names: map[string]string{}, sids: map[string]map[string]bool{}}
	defer func() {
		if cerr := r.close(); cerr != nil && err == nil {
			r.log.Debug("scenario teardown", "err", cerr)
		}
	}()
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	return r.timeline(ctx)
}

func (r *run) setup(ctx context.Context) error {
	var err error
	if r.net, err = NewNetwork(); err != nil {
		return err
	}
	sfuLink, err := r.net.AddHost("sfu", LinkConfig{})
	if err != nil {
		return err
	}
	for _, ps := range r.spec.Publishers {
		l, err := r.net.AddHost(ps.Name, LinkConfig{})
		if err != nil {
			return err
		}
		r.pubs = append(r.pubs, &participant{name: ps.Name, link: l})
	}
	for i := range r.spec.Subscribers {
		ss := &r.spec.Subscribers[i]
		l, err := r.net.AddHost(ss.Name, ss.Link)
		if err != nil {
			return err
		}
		r.subs = append(r.subs, &participant{name: ss.Name, link: l, spec: ss, obs: NewObserver()})
	}
	if err := r.net.Start(); err != nil {
		return err
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	r.key, r.sec = "SCENARIO", hex.EncodeToString(b)
	cfg := node.Config{Bind: "127.0.0.1", RTCBind: SFUAddr, RTCPort: 7702, Net: sfuLink.Net,
		Keys: auth.Keys{r.key: r.sec}}
	if r.opts.SFU != nil {
		r.opts.SFU(&cfg)
	}
	if r.node, err = node.New(cfg, r.log.With("side", "sfu")); err != nil {
		return err
	}
	if err := r.node.Start(); err != nil {
		return err
	}
	r.url = "ws://" + r.node.HTTPAddr() + "/v1/signal"

	// Subscribers first, so they are in the room when the tracks are published.
	for _, p := range r.subs {
		if err := r.join(ctx, p); err != nil {
			return err
		}
		p.obs.Attach(p.c)
	}
	for i, p := range r.pubs {
		if err := r.join(ctx, p); err != nil {
			return err
		}
		ps := r.spec.Publishers[i]
		if p.cam, err = PublishCamera(p.c, p.name, CameraOptions{Video: ps.Video, Audio: ps.Audio,
			TemporalLayers: ps.TemporalLayers, KeyframeInterval: ps.KeyframeInterval, NoDynacast: ps.NoDynacast || r.opts.NoDynacast,
			LayerBitrates: ps.LayerBitrates}); err != nil {
			return err
		}
		r.sids[p.name] = map[string]bool{}
		if t := p.cam.VideoTrack; t != nil {
			r.names[t.SID()] = CameraOf(p.name)
			r.sids[p.name][t.SID()] = true
		}
		if t := p.cam.AudioTrack; t != nil {
			r.names[t.SID()] = MicrophoneOf(p.name)
			r.sids[p.name][t.SID()] = true
		}
	}
	for _, p := range r.subs {
		if err := r.sendSettings(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) join(ctx context.Context, p *participant) error {
	jctx, cancel := context.WithTimeout(ctx, r.opts.JoinTimeout)
	defer cancel()
	tok, err := auth.Mint(r.key, r.sec, auth.TokenParams{Identity: p.name, Name: p.name,
		Grant: auth.VideoGrant{Room: r.spec.Name, RoomJoin: true}})
	if err != nil {
		return err
	}
	copts := []client.Option{client.WithNet(p.link.Net), client.WithLogger(r.log.With("side", p.name)),
		client.WithClientName("cascade-scenario"), client.WithRequestTimeout(r.opts.JoinTimeout)}
	p.c, err = client.Join(jctx, r.url, tok, copts...)
	if err != nil {
		return fmt.Errorf("scenario: %s: join: %w", p.name, err)
	}
	return nil
}

// sendSettings sends a subscriber's track settings for every publisher's camera: its
// priority and its preferred maximum layer.
func (r *run) sendSettings(ctx context.Context, p *participant) error {
	for _, pub := range r.pubs {
		if pub.cam == nil || pub.cam.VideoTrack == nil {
			continue
		}
		prio := p.spec.Priority[pub.name]
		if prio == 0 && p.maxRID == "" && !p.settingsSent {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, r.opts.JoinTimeout)
		err := p.c.UpdateTrackSettings(sctx, &cascadev1.UpdateTrackSettings{TrackSids: []string{pub.cam.VideoTrack.SID()},
			Priority: prio, MaxRid: p.maxRID})
		cancel()
		if err != nil {
			return fmt.Errorf("scenario: %s: track settings: %w", p.name, err)
		}
	}
	p.settingsSent = p.settingsSent || p.maxRID != "" || len(p.spec.Priority) > 0
	return nil
}

// timeline starts the media, applies the steps on time and samples until the end.
func (r *run) timeline(ctx context.Context) (*Result, error) {
	for _, p := range r.pubs {
		p.cam.Start()
	}
	r.start = time.Now()
	every := r.spec.SampleEvery
	next := every
	steps := r.spec.Steps
	var samples []Sample
	for {
		due := next
		if len(steps) > 0 && steps[0].At < due {
			due = steps[0].At
		}
		if wait := time.Until(r.start.Add(due)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
		}
		for len(steps) > 0 && steps[0].At <= due {
			if err := r.apply(ctx, steps[0]); err != nil {
				return nil, err
			}
			steps = steps[1:]
		}
		if due == next {
			s := r.sample(next)
			samples = append(samples, s)
			if r.opts.Progress != nil {
				r.opts.Progress(s)
			}
			if next >= r.spec.Duration {
				break
			}
			next += every
		}
	}
	return r.result(samples), nil
}

// apply carries out one step.
func (r *run) apply(ctx context.Context, s Step) error {
	p := r.subscriber(s.Subscriber)
	switch s.Action {
	case SetRate:
		p.link.SetRate(s.Value)
	case SetLoss:
		if err := p.link.SetLoss(s.Value); err != nil {
			return err
		}
	case SetMaxLayer:
		p.maxRID = s.RID
		if err := r.sendSettings(ctx, p); err != nil {
			return err
		}
	}
	r.steps = append(r.steps, stepRecord{Step: s, t: time.Since(r.start)})
	r.log.Info("scenario step", "t", time.Since(r.start), "subscriber", s.Subscriber, "action", s.Action, "value", s.Value, "rid", s.RID)
	return nil
}

func (r *run) subscriber(name string) *participant {
	for _, p := range r.subs {
		if p.name == name {
			return p
		}
	}
	return nil
}

// sample takes the timeline's sample at offset at.
func (r *run) sample(at time.Duration) Sample {
	secs := r.spec.SampleEvery.Seconds()
	s := Sample{T: at.Seconds()}
	for _, p := range r.subs {
		ss := SubscriberSample{Name: p.name, CapacityBps: p.link.RateBps(), EstimateBps: int(p.c.BandwidthEstimate())}
		states := p.c.StreamStates()
		var bytes uint64
		for _, c := range p.obs.Counters() {
			key := p.name + "\x00" + c.TrackSID
			prev := r.prev[key]
			r.prev[key] = c
			exp, lost := int(c.Expected-prev.Expected), int(c.Holes-prev.Holes)
			ts := TrackSample{Track: r.trackName(c), Video: c.Video, Frames: int(c.Frames - prev.Frames),
				DeliveredBps: int(float64(c.Bytes-prev.Bytes) * 8 / secs), LossPct: pct(lost, exp)}
			if ts.Frames > 0 {
				ts.Layer = ridOf(int(c.Layer))
			}
			if st := states[c.TrackSID]; st != nil {
				ts.State, ts.Reason = StateName(st.GetState()), st.GetReason()
				ts.CurrentRID, ts.TargetRID = st.GetCurrentRid(), st.GetTargetRid()
			}
			bytes += c.Bytes - prev.Bytes
			ss.ExpectedPkts += exp
			ss.LostPkts += lost
			ss.Tracks = append(ss.Tracks, ts)
		}
		ss.DeliveredBps = int(float64(bytes) * 8 / secs)
		ss.LossPct = pct(ss.LostPkts, ss.ExpectedPkts)
		s.Subscribers = append(s.Subscribers, ss)
	}
	for _, p := range r.pubs {
		ps := PublisherSample{Name: p.name}
		if p.cam.Video != nil {
			for _, rid := range rids {
				st := p.cam.Video.Stats(rid)
				key := p.name + "\x00" + rid
				prev := r.prevPL[key]
				r.prevPL[key] = layerTotals{frames: st.Frames, bytes: st.Bytes}
				ps.Layers = append(ps.Layers, LayerSample{RID: rid, Active: p.cam.VideoTrack.LayerActive(rid),
					Frames: int(st.Frames - prev.frames), Bps: int(float64(st.Bytes-prev.bytes) * 8 / secs)})
			}
		}
		s.Publishers = append(s.Publishers, ps)
	}
	return s
}

func (r *run) trackName(c TrackCounters) string {
	if n, ok := r.names[c.TrackSID]; ok {
		return n
	}
	if c.Video {
		return CameraOf(c.Publisher)
	}
	return MicrophoneOf(c.Publisher)
}

func pct(n, of int) float64 {
	if of <= 0 {
		return 0
	}
	return float64(n) / float64(of) * 100
}

// close stops everything the run started, the media first.
func (r *run) close() error {
	for _, p := range r.pubs {
		if p.cam != nil {
			p.cam.Stop()
		}
	}
	var errs []error
	for _, p := range append(append([]*participant{}, r.subs...), r.pubs...) {
		if p.c != nil {
			errs = append(errs, p.c.Close())
		}
	}
	if r.node != nil {
		errs = append(errs, r.node.Close())
	}
	if r.net != nil {
		errs = append(errs, r.net.Close())
	}
	return errors.Join(errs...)
}
