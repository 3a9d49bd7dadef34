package sfu

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/cascade-sfu/cascade/router"
	"github.com/cascade-sfu/cascade/simulcast"
	"github.com/cascade-sfu/cascade/transport"
)

// Participant is one client in a room with its two PeerConnections. Its negotiation and
// subscription state is owned by its operations queue.
type Participant struct {
	room     *Room
	sfu      *SFU
	sid      string
	identity string
	joinedAt int64
	sink     Sink
	log      *slog.Logger
	ops      *opQueue
	autoSub  bool
	closed   atomic.Bool

	infoMu     sync.Mutex // guards name, metadata, permission, tracks, trackOrder, pending
	name       string
	metadata   string
	permission Permission
	tracks     map[string]*publishedTrack // by sid, media arriving
	trackOrder []*publishedTrack
	pending    map[string]*publishedTrack // by cid, announced by addTrack, no media yet

	pub, sub *webrtc.PeerConnection
	subDC    [2]*webrtc.DataChannel // reliable, lossy on the subscriber connection
	bw       *bandwidth             // the subscriber connection's downlink estimate
	cc       *transport.SendPath    // the subscriber connection's media path; marks probe packets

	// Owned by the ops goroutine.
	subs        map[string]*subscription // by track sid
	negotiating bool
	renegotiate bool
	offerID     uint32
	negTimer    *time.Timer
	remoteCands [2][]webrtc.ICECandidateInit // buffered until the remote description is set

	dataMu      sync.Mutex // guards dataOpen and dataPending
	dataOpen    [2]bool
	dataPending [2][][]byte // messages waiting for a subscriber data channel to open

	// Quality state, owned by the ops goroutine.
	settings     map[string]TrackSettings // subscriber preferences by track sid
	lastStreams  []StreamState            // stream state last sent to the client
	lastEstimate int
	probing      bool
	speaking     atomic.Bool // an active speaker: its video gets priority

	stopTicker chan struct{}
	wg         sync.WaitGroup // RTCP readers and the ticker
	dataDrops  atomic.Uint64
}

// publishedTrack is a track this participant publishes.
type publishedTrack struct {
	sid, cid      string
	kind          TrackKind
	source        TrackSource
	name          string
	width, height uint32
	layers        []VideoLayer
	simulcast     bool
	mime          atomic.Pointer[string]
	mutedFlag     atomic.Bool
	receiver      atomic.Pointer[router.Receiver]
	owner         *Participant

	// Dynacast: layers the publisher was told to pause (bit per layer), and, owned by the
	// publisher's ops goroutine, when each layer was last needed.
	dynacastPaused atomic.Uint32
	// dynacastResumed[l] is when layer l was last asked to resume (unix ns): until it
	// arrives it is priced at its nominal rate, not at the nothing measured for it.
	dynacastResumed [simulcast.MaxLayers]atomic.Int64
	lastNeeded      [simulcast.MaxLayers]time.Time
	dynacastSent    bool
}

func (t *publishedTrack) recv() *router.Receiver { return t.receiver.Load() }
func (t *publishedTrack) muted() bool            { return t.mutedFlag.Load() }

func (t *publishedTrack) info() TrackInfo {
	ti := TrackInfo{SID: t.sid, Kind: t.kind, Source: t.source, Name: t.name, Muted: t.muted(),
		Width: t.width, Height: t.height, Simulcast: t.simulcast, Layers: t.layers, ParticipantSID: t.owner.sid}
	if m := t.mime.Load(); m != nil {
		ti.MimeType = *m
	}
	return ti
}

// subscription is one track this participant receives.
type subscription struct {
	track      *publishedTrack
	dt         *router.DownTrack
	sender     *webrtc.RTPSender
	pauseVotes int // allocations in a row that found no room (ops goroutine)
}

func newParticipant(r *Room, jp JoinParams, sink Sink) (*Participant, error) {
	p := &Participant{
		room: r, sfu: r.sfu, sid: newID("PA_"), identity: jp.Identity, joinedAt: nowMs(), sink: sink,
		autoSub: jp.AutoSubscribe, name: jp.Name, metadata: jp.Metadata, permission: jp.Permission,
		tracks: map[string]*publishedTrack{}, pending: map[string]*publishedTrack{},
		subs: map[string]*subscription{}, stopTicker: make(chan struct{}), settings: map[string]TrackSettings{},
	}
	p.log = r.log.With("participant", p.sid, "identity", jp.Identity)
	tr := r.sfu.tr
	var err error
	if p.pub, err = tr.PublisherAPI().NewPeerConnection(tr.Configuration()); err != nil {
		return nil, fmt.Errorf("publisher connection: %w", err)
	}
	p.bw = newBandwidth(r.sfu.cfg.BWE)
	p.bw.onMove = func() { p.ops.Push(func() { p.allocateLocked(time.Now(), false) }) }
	if p.sub, p.cc, err = tr.NewSubscriberPeerConnection(p.bw); err != nil {
		_ = p.pub.Close()
		return nil, fmt.Errorf("subscriber connection: %w", err)
	}
	ordered := false
	var zero uint16
	for i, init := range []*webrtc.DataChannelInit{nil, {Ordered: &ordered, MaxRetransmits: &zero}} {
		label := [...]string{labelReliable, labelLossy}[i]
		if p.subDC[i], err = p.sub.CreateDataChannel(label, init); err != nil {
			_ = p.pub.Close()
			_ = p.sub.Close()
			return nil, fmt.Errorf("data channel: %w", err)
		}
		p.watchDataChannel(i)
	}
	p.ops = newOpQueue()
	for i, pc := range []*webrtc.PeerConnection{p.pub, p.sub} {
		target := Target(i)
		pc.OnICECandidate(func(c *webrtc.ICECandidate) {
			if c != nil && !p.closed.Load() {
				p.sink.SendCandidate(target, c.ToJSON())
			}
		})
		pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
			if s == webrtc.PeerConnectionStateFailed && !p.closed.Load() {
				p.log.Warn("connection failed", "target", target)
				p.room.leave(p, LeaveTransportFailed)
			}
		})
	}
	p.pub.OnTrack(func(t *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		p.ops.Push(func() { p.handleTrack(t, recv) })
	})
	p.pub.OnDataChannel(p.handleDataChannel)
	// The participant's whole life is counted in the SFU's wait group.
	r.sfu.wg.Add(1)
	go func() {
		defer r.sfu.wg.Done()
		<-p.ops.Done()
		p.wg.Wait()
	}()
	return p, nil
}

// start runs once the join response is queued: subscribe to what is already published,
// make the first subscriber offer (it carries the data channels) and start the layer ticker.
func (p *Participant) start(existing []*publishedTrack) {
	p.wg.Add(1)
	go p.tick()
	p.ops.Push(func() {
		if p.permission.CanSubscribe && p.autoSub {
			for _, t := range existing {
				p.subscribeLocked(t)
			}
		}
		p.negotiateLocked()
	})
}

func (p *Participant) tick() {
	defer p.wg.Done()
	t := time.NewTicker(p.sfu.cfg.LayerCheckInterval)
	defer t.Stop()
	sr := time.NewTicker(senderReportInterval)
	defer sr.Stop()
	for {
		select {
		case now := <-t.C:
			p.ops.Push(func() {
				p.allocateLocked(now, true)
				p.updateDynacastLocked(now)
			})
		case <-sr.C:
			p.ops.Push(func() { p.sendSenderReportsLocked(time.Now()) })
		case <-p.stopTicker:
			return
		}
	}
}

// SID is the participant's server id.
func (p *Participant) SID() string { return p.sid }

// Identity is the participant's identity from its token.
func (p *Participant) Identity() string { return p.identity }

// Room is the participant's room.
func (p *Participant) Room() *Room { return p.room }

func (p *Participant) perm() Permission {
	p.infoMu.Lock()
	defer p.infoMu.Unlock()
	return p.permission
}

// Info returns a snapshot of the participant and its published tracks.
func (p *Participant) Info() ParticipantInfo {
	p.infoMu.Lock()
	defer p.infoMu.Unlock()
	info := ParticipantInfo{SID: p.sid, Identity: p.identity, Name: p.name, Metadata: p.metadata,
		JoinedAtMs: p.joinedAt, Permission: p.permission}
	for _, t := range p.trackOrder {
		info.Tracks = append(info.Tracks, t.info())
	}
	return info
}

func (p *Participant) publishedTracks() []*publishedTrack {
	p.infoMu.Lock()
	defer p.infoMu.Unlock()
	return append([]*publishedTrack(nil), p.trackOrder...)
}

// Leave removes the participant from its room.
func (p *Participant) Leave(reason LeaveReason) { p.room.leave(p, reason) }

// do runs op on the participant's queue and returns its error, or ErrParticipantClosed.
func (p *Participant) do(op func() error) error {
	var err error
	if !p.ops.Do(func() {
		if p.closed.Load() {
			err = ErrParticipantClosed
			return
		}
		err = op()
	}) {
		return ErrParticipantClosed
	}
	return err
}

// AddICECandidate adds a remote candidate for one of the connections, buffering it until
// that connection has a remote description.
func (p *Participant) AddICECandidate(target Target, c webrtc.ICECandidateInit) error {
	if target != TargetPublisher && target != TargetSubscriber {
		return fmt.Errorf("%w: unknown target", ErrInvalidArgument)
	}
	return p.do(func() error {
		pc := p.pc(target)
		if pc.RemoteDescription() == nil {
			if len(p.remoteCands[target]) >= 256 {
				return fmt.Errorf("%w: too many candidates before a description", ErrInvalidArgument)
			}
			p.remoteCands[target] = append(p.remoteCands[target], c)
			return nil
		}
		if err := pc.AddICECandidate(c); err != nil {
			return fmt.Errorf("%w: candidate: %v", ErrInvalidArgument, err)
		}
		return nil
	})
}

func (p *Participant) pc(t Target) *webrtc.PeerConnection {
	if t == TargetSubscriber {
		return p.sub
	}
	return p.pub
}

func (p *Participant) flushCandidatesLocked(t Target) {
	pc := p.pc(t)
	for _, c := range p.remoteCands[t] {
		if err := pc.AddICECandidate(c); err != nil {
			p.log.Debug("dropping bad buffered candidate", "err", err)
		}
	}
	p.remoteCands[t] = nil
}

// RequestKeyframe implements router.KeyframeRequester: a PLI to the publisher.
func (p *Participant) RequestKeyframe(ssrc uint32) {
	if p.closed.Load() {
		return
	}
	_ = p.pub.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
}

// close tears the participant down; called by the room once it has been removed.
func (p *Participant) close(reason LeaveReason) {
	if p.closed.Swap(true) {
		return
	}
	p.sink.Close(reason, "")
	p.ops.Push(p.teardownLocked)
	p.ops.Stop()
}

func (p *Participant) teardownLocked() {
	close(p.stopTicker)
	if p.negTimer != nil {
		p.negTimer.Stop()
	}
	for _, t := range p.publishedTracks() {
		if r := t.recv(); r != nil {
			r.Close()
		}
	}
	for _, s := range p.subs {
		s.dt.Close()
	}
	if err := p.pub.Close(); err != nil {
		p.log.Debug("closing publisher connection", "err", err)
	}
	if err := p.sub.Close(); err != nil {
		p.log.Debug("closing subscriber connection", "err", err)
	}
	for _, t := range p.publishedTracks() {
		if r := t.recv(); r != nil {
			r.Wait()
		}
	}
}
