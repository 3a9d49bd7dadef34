package sfu

import (
	"slices"
	"time"

	"github.com/cascade-sfu/cascade/bwe"
	"github.com/cascade-sfu/cascade/router"
	"github.com/cascade-sfu/cascade/simulcast"
)

// Nominal bitrates of layers not being received (paused by dynacast, or not started yet),
// so the allocator can still choose them; real ones replace them once measured.
var nominalLayerBps = [simulcast.MaxLayers]int{150_000, 500_000, 1_700_000}

// reasonMuted is the stream state reason for a track its publisher or the server muted.
const reasonMuted bwe.Reason = "muted"

const (
	nominalSingleLayerBps = 300_000
	nominalAudioBps       = 40_000
	// pauseVotes is how many allocations in a row must find no room for a track before it
	// is paused: a momentary dip in the estimate costs a layer, not the picture.
	pauseVotes = 3
)

// UpdateTrackSettings records preferences for received tracks (also for tracks not
// subscribed yet) and re-runs the allocation.
func (p *Participant) UpdateTrackSettings(sids []string, st TrackSettings) error {
	if len(sids) == 0 || len(sids) > 256 {
		return ErrInvalidArgument
	}
	if st.MaxRID != "" {
		if _, ok := simulcast.LayerForRID(st.MaxRID); !ok {
			return ErrInvalidArgument
		}
	}
	return p.do(func() error {
		for _, sid := range sids {
			if len(p.settings) >= 1024 {
				break
			}
			p.settings[sid] = st
		}
		p.allocateLocked(time.Now(), false)
		return nil
	})
}

// dynacastResumeWait is how long a layer the publisher was asked to resume counts as
// coming: its encoder restarts, and the first frame takes a round trip.
const dynacastResumeWait = 2 * time.Second

// layerBps is what each layer of a subscription costs, as the allocator sees it.
func layerBps(t *publishedTrack, r *router.Receiver) [simulcast.MaxLayers]int {
	measured := r.LayerBitrates()
	if t.kind == KindAudio {
		if measured[0] == 0 {
			measured[0] = nominalAudioBps
		}
		return measured
	}
	if !r.Simulcast() {
		if measured[0] == 0 {
			measured[0] = nominalSingleLayerBps
		}
		return measured
	}
	paused := t.dynacastPaused.Load()
	active := uint32(r.ActiveLayers(layerActiveWindow))
	steady := uint32(r.SteadyLayers(layerActiveWindow, layerSettle))
	for l := range measured {
		bit := uint32(1) << l
		resuming := time.Since(time.Unix(0, t.dynacastResumed[l].Load())) < dynacastResumeWait
		switch {
		case paused&bit != 0:
			// Paused by us: it would come back if asked, at about its nominal rate (what
			// is still measured is its last packets, a fraction of it).
			measured[l] = t.nominalBps(int8(l))
		case active&bit != 0 || resuming:
			if steady&bit == 0 || measured[l] == 0 {
				// Just (re)started or still on its way: the measuring interval covers
				// part of it at most.
				measured[l] = max(measured[l], t.nominalBps(int8(l)))
			}
		case !t.layerAnnounced(int8(l)) && l == 0:
			measured[l] = t.nominalBps(int8(l)) // nothing measured yet
		default:
			measured[l] = 0 // the publisher is not sending it
		}
	}
	return measured
}

// allocateLocked shares the subscriber's estimated bandwidth among its tracks and applies
// the result: target layers, pauses, stream state to the client, probing. tick is set for
// the regular allocation: only those count toward pausing a track (pauseVotes), so early
// allocations when the estimate moves do not shorten the grace a track gets.
func (p *Participant) allocateLocked(now time.Time, tick bool) {
	if p.closed.Load() {
		return
	}
	if rtt := p.worstRTT(); rtt > 0 {
		p.bw.setRTT(rtt)
	}
	estimate := p.bw.allocating()
	subs := make([]*subscription, 0, len(p.subs))
	for _, s := range p.subs {
		subs = append(subs, s)
	}
	slices.SortFunc(subs, func(a, b *subscription) int {
		if a.track.sid < b.track.sid {
			return -1
		}
		return 1
	})
	tracks := make([]bwe.Track, len(subs))
	muted := make([]bool, len(subs))
	for i, s := range subs {
		t := s.track
		st := p.settings[t.sid]
		bt := bwe.Track{ID: t.sid, Audio: t.kind == KindAudio, Class: bwe.ClassDefault, Priority: int(st.Priority),
			LayerBps: layerBps(t, s.dt.Receiver()), MaxLayer: st.maxLayer(t.layers), Disabled: st.Disabled && t.kind == KindVideo}
		switch {
		case t.source == SourceScreenShare:
			bt.Class = bwe.ClassScreen
		case st.Priority > 0 || t.owner.speaking.Load():
			bt.Class = bwe.ClassPinned
		}
		bt.Current = max(s.dt.CurrentLayer(), 0)
		bt.Paused = s.dt.Paused() && s.pauseVotes >= pauseVotes
		tracks[i] = bt
		muted[i] = t.muted()
	}
	budget := estimate
	if !p.bw.trusted(now) {
		budget = max(budget, bwe.Minimum(tracks))
	}
	allocs := bwe.Allocate(budget, tracks)
	update := StreamStateUpdate{EstimateBps: estimate}
	var media int
	var video []*router.DownTrack
	for i, a := range allocs {
		s := subs[i]
		if muted[i] {
			// A muted track (by its publisher or the server) is not forwarded at all, even
			// if the publisher keeps sending.
			s.dt.Pause()
			if s.track.kind == KindVideo {
				update.Streams = append(update.Streams, StreamState{ParticipantSID: s.track.owner.sid, TrackSID: s.track.sid,
					State: bwe.StatePausedPreference, Reason: reasonMuted})
			}
			continue
		}
		media += a.Bps
		if s.track.kind != KindVideo {
			s.dt.SetTargetLayer(0)
			continue
		}
		video = append(video, s.dt)
		switch {
		case a.Layer != simulcast.NoLayer:
			s.pauseVotes = 0
			s.dt.SetTargetLayer(a.Layer)
			if s.track.dynacastPaused.Load()&(1<<a.Layer) != 0 {
				owner := s.track.owner
				owner.ops.Push(func() { owner.updateDynacastLocked(time.Now()) })
			}
		case a.State == bwe.StatePausedPreference:
			s.dt.Pause()
		default:
			if tick {
				s.pauseVotes++
			}
			if s.pauseVotes < pauseVotes && !s.dt.Paused() {
				// Not yet: hold the lowest layer while the estimate settles.
				a.State, a.Reason = bwe.StateActive, bwe.ReasonBandwidth
				s.dt.SetTargetLayer(max(s.dt.TargetLayer(), 0))
			} else {
				s.dt.Pause()
			}
		}
		ss := StreamState{ParticipantSID: s.track.owner.sid, TrackSID: s.track.sid, State: a.State, Reason: a.Reason}
		if s.dt.Receiver().Simulcast() {
			ss.TargetRID = simulcast.RID(s.dt.TargetLayer())
			ss.CurrentRID = simulcast.RID(s.dt.CurrentLayer())
		}
		update.Streams = append(update.Streams, ss)
	}
	p.sendStreamStateLocked(update)
	p.maybeProbeLocked(now, bwe.Desired(tracks), media, video)
}

// sendStreamStateLocked tells the client when what it gets changed (or the estimate moved
// by more than a tenth).
func (p *Participant) sendStreamStateLocked(u StreamStateUpdate) {
	qs, ok := p.sink.(QualitySink)
	if !ok {
		return
	}
	changed := !slices.Equal(u.Streams, p.lastStreams)
	if !changed && p.lastEstimate > 0 {
		d := float64(u.EstimateBps-p.lastEstimate) / float64(p.lastEstimate)
		changed = d > 0.1 || d < -0.1
	}
	if !changed {
		return
	}
	p.lastStreams = u.Streams
	p.lastEstimate = u.EstimateBps
	qs.SendStreamState(u)
}

func (p *Participant) worstRTT() time.Duration {
	var worst float64
	for _, s := range p.subs {
		worst = max(worst, s.dt.Stats().RTTMillis)
	}
	return time.Duration(worst * float64(time.Millisecond))
}

// maybeProbeLocked starts a probe when the prober asks for one: padding on the video
// down tracks, on top of the media, up to the probe rate, for a short cluster.
func (p *Participant) maybeProbeLocked(now time.Time, desired, media int, video []*router.DownTrack) {
	if p.probing || len(video) == 0 {
		return
	}
	rate := p.bw.probe(now, desired)
	if rate <= media {
		return
	}
	p.probing = true
	p.wg.Add(1)
	go p.runProbe(rate-media, video)
}

// probeLength bounds one probe cluster; the prober decides how often.
const probeLength = 250 * time.Millisecond

func (p *Participant) runProbe(paddingBps int, video []*router.DownTrack) {
	defer p.wg.Done()
	defer p.ops.Push(func() { p.probing = false })
	p.cc.SetProbing(true)
	defer p.cc.SetProbing(false)
	interval := router.ProbeInterval()
	t := time.NewTicker(interval)
	defer t.Stop()
	end := time.Now().Add(probeLength)
	perTick := float64(paddingBps) / 8 * interval.Seconds() // bytes
	var owed float64                                        // bytes due and not yet sent
	i := 0
	for time.Now().Before(end) {
		select {
		case <-p.stopTicker:
			return
		case <-t.C:
		}
		owed += perTick
		n := int(owed / probeWireBytes)
		if n == 0 {
			continue
		}
		for tries := 0; tries < len(video); tries++ {
			dt := video[i%len(video)]
			i++
			if dt.WriteProbe(n) > 0 {
				owed -= float64(n) * probeWireBytes
				break
			}
		}
		// What could not go out this tick (every track inside a frame) is owed at most
		// one tick longer, so the padding never bursts.
		owed = min(owed, max(2*perTick, probeWireBytes))
	}
}

// probeWireBytes is one probe packet on the wire: 255 bytes of padding, the RTP header
// with the transport-wide sequence number, the SRTP tag, and UDP/IP headers.
const probeWireBytes = 255 + 12 + 8 + 10 + 28
