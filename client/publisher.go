package client

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	cascadev1 "github.com/cascade-sfu/cascade/proto/cascade/v1"
)

// publisher is the connection the client offers: its tracks and data channels. Offers are
// strictly serialized: negotiateLoop sends one, waits for its answer, and only then sends the
// next; requests arriving meanwhile fold into that next offer.
type publisher struct {
	c        *Client
	pc       *webrtc.PeerConnection
	stamp    *stamper
	cands    *candidates
	reliable *webrtc.DataChannel
	lossy    *webrtc.DataChannel

	negReq  chan struct{} // capacity 1: a renegotiation is wanted
	answers chan error    // capacity 1: the outcome of the outstanding offer, from the read loop

	// addMu is held while an addTrack is queued and sent, so the order of pendingAdds is the
	// order the server receives (and answers) them in. It guards nothing else.
	addMu sync.Mutex

	mu          sync.Mutex // guards the fields below
	wantGen     uint64     // renegotiations requested so far
	waiters     []negWaiter
	offerID     uint32 // the outstanding offer's id; 0: none
	lastOfferID uint32
	pendingAdds []*pendingAdd          // addTracks awaiting trackPublished, in send order
	tracks      map[string]*LocalTrack // by cid
}

type negWaiter struct {
	gen uint64
	ch  chan error
}

type pendingAdd struct {
	cid string
	ch  chan addResult // capacity 1
}

type addResult struct {
	info *cascadev1.TrackInfo
	err  error
}

func newPublisher(c *Client, cfg webrtc.Configuration) (*publisher, error) {
	st := newStamper()
	api, err := newAPI(Publisher, &c.cfg, st)
	if err != nil {
		return nil, err
	}
	pc, err := api.NewPeerConnection(cfg)
	if err != nil {
		return nil, err
	}
	p := &publisher{
		c:       c,
		pc:      pc,
		stamp:   st,
		cands:   &candidates{role: Publisher, send: c.send},
		negReq:  make(chan struct{}, 1),
		answers: make(chan error, 1),
		tracks:  map[string]*LocalTrack{},
	}
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if err := p.cands.local(cand); err != nil && c.ctx.Err() == nil {
			c.log.Warn("cannot send publisher ICE candidate", "err", err)
		}
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) { c.onConnState(Publisher, s) })
	// Both channels exist before the first offer (PROTOCOL.md), so it carries the SCTP section.
	if p.reliable, err = pc.CreateDataChannel(reliableLabel, nil); err != nil {
		_ = pc.Close()
		return nil, err
	}
	unordered, noRetransmits := false, uint16(0)
	if p.lossy, err = pc.CreateDataChannel(lossyLabel, &webrtc.DataChannelInit{Ordered: &unordered, MaxRetransmits: &noRetransmits}); err != nil {
		_ = pc.Close()
		return nil, err
	}
	p.reliable.OnOpen(c.notify)
	p.lossy.OnOpen(c.notify)
	return p, nil
}

func (p *publisher) dataChannel(k DataKind) *webrtc.DataChannel {
	if k == Lossy {
		return p.lossy
	}
	return p.reliable
}

func (p *publisher) dataReady() bool {
	return p.reliable.ReadyState() == webrtc.DataChannelStateOpen && p.lossy.ReadyState() == webrtc.DataChannelStateOpen
}

// requestNegotiation asks for an offer reflecting the current transceivers. The returned
// channel yields the outcome of the first offer made after the request.
func (p *publisher) requestNegotiation() <-chan error {
	ch := make(chan error, 1)
	p.mu.Lock()
	p.wantGen++
	p.waiters = append(p.waiters, negWaiter{gen: p.wantGen, ch: ch})
	p.mu.Unlock()
	select {
	case p.negReq <- struct{}{}:
	default: // one is already pending; it will cover this request
	}
	return ch
}

// resolveWaiters hands err to every waiter whose request the offer made at gen covered.
func (p *publisher) resolveWaiters(gen uint64, err error) {
	p.mu.Lock()
	var done []negWaiter
	keep := p.waiters[:0]
	for _, w := range p.waiters {
		if w.gen <= gen {
			done = append(done, w)
		} else {
			keep = append(keep, w)
		}
	}
	p.waiters = keep
	p.mu.Unlock()
	for _, w := range done {
		w.ch <- err
	}
}

// negotiateLoop makes one offer at a time until the session ends.
func (p *publisher) negotiateLoop() {
	defer func() { p.resolveWaiters(math.MaxUint64, p.c.closedErr()) }()
	for {
		select {
		case <-p.c.ctx.Done():
			return
		case <-p.negReq:
		}
		p.mu.Lock()
		gen := p.wantGen
		p.mu.Unlock()
		err := p.negotiateOnce()
		if err != nil && p.c.ctx.Err() == nil {
			p.c.log.Warn("publisher negotiation failed", "err", err)
		}
		p.resolveWaiters(gen, err)
	}
}

// negotiateOnce sends an offer and waits for its answer to be applied.
func (p *publisher) negotiateOnce() error {
	offer, err := p.pc.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("create offer: %w", err)
	}
	if err := p.pc.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("set local offer: %w", err)
	}
	p.registerStamps()
	select {
	case <-p.answers: // a stale outcome of an abandoned offer
	default:
	}
	p.mu.Lock()
	p.lastOfferID++
	id := p.lastOfferID
	p.offerID = id
	p.mu.Unlock()
	err = p.c.send(&cascadev1.SignalRequest{Message: &cascadev1.SignalRequest_Offer{
		Offer: &cascadev1.SessionDescription{Type: "offer", Sdp: offer.SDP, Id: id},
	}})
	if err == nil {
		err = p.cands.localDescriptionSent()
	}
	if err == nil {
		timer := time.NewTimer(p.c.cfg.requestTimeout)
		select {
		case err = <-p.answers:
		case <-timer.C:
			err = fmt.Errorf("%w: no answer to publisher offer %d", ErrTimeout, id)
		case <-p.c.ctx.Done():
			err = p.c.closedErr()
		}
		timer.Stop()
	}
	if err != nil {
		p.mu.Lock()
		if p.offerID == id {
			p.offerID = 0
		}
		p.mu.Unlock()
		if p.pc.SignalingState() == webrtc.SignalingStateHaveLocalOffer {
			_ = p.pc.SetLocalDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeRollback})
		}
	}
	return err
}

// registerStamps tells the stamper each sending encoding's mid and rid. Mids are assigned by
// the time the offer is set; pion binds the streams when the answer is applied.
func (p *publisher) registerStamps() {
	for _, tr := range p.pc.GetTransceivers() {
		s := tr.Sender()
		if s == nil || s.Track() == nil || tr.Mid() == "" {
			continue
		}
		for _, enc := range s.GetParameters().Encodings {
			p.stamp.set(uint32(enc.SSRC), tr.Mid(), enc.RID)
		}
	}
}

// handleAnswer applies the SFU's answer to the outstanding offer (read loop).
func (p *publisher) handleAnswer(sd *cascadev1.SessionDescription) {
	p.mu.Lock()
	id := p.offerID
	match := id != 0 && (sd.GetId() == id || sd.GetId() == 0)
	if match {
		p.offerID = 0
	}
	p.mu.Unlock()
	if !match {
		p.c.log.Warn("ignoring publisher answer that matches no outstanding offer", "id", sd.GetId(), "outstanding", id)
		return
	}
	err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sd.GetSdp()})
	if err != nil {
		err = fmt.Errorf("apply publisher answer %d: %w", id, err)
	} else {
		for _, e := range p.cands.remoteDescriptionSet(p.pc) {
			p.c.log.Warn("buffered publisher candidate rejected", "err", e)
		}
	}
	select {
	case p.answers <- err:
	default:
	}
}

// failOffer ends the outstanding offer with a server error; it reports whether there was one.
func (p *publisher) failOffer(e *SignalError) bool {
	p.mu.Lock()
	had := p.offerID != 0
	p.offerID = 0
	p.mu.Unlock()
	if had {
		select {
		case p.answers <- e:
		default:
		}
	}
	return had
}

// handleTrackPublished resolves the addTrack with the same cid (or, when the server names
// none, the oldest).
func (p *publisher) handleTrackPublished(r *cascadev1.TrackPublishedResponse) {
	p.mu.Lock()
	var pa *pendingAdd
	for i, x := range p.pendingAdds {
		if x.cid == r.GetCid() || r.GetCid() == "" {
			pa = x
			p.pendingAdds = append(p.pendingAdds[:i], p.pendingAdds[i+1:]...)
			break
		}
	}
	p.mu.Unlock()
	if pa == nil {
		p.c.log.Warn("trackPublished for no pending addTrack", "cid", r.GetCid())
		return
	}
	pa.ch <- addResult{info: r.GetTrack()}
}

// failAddTrack resolves the oldest pending addTrack with a server error. Errors carry no cid;
// the server answers in order, and addMu keeps pendingAdds in that order.
func (p *publisher) failAddTrack(e *SignalError) bool {
	p.mu.Lock()
	if len(p.pendingAdds) == 0 {
		p.mu.Unlock()
		return false
	}
	pa := p.pendingAdds[0]
	p.pendingAdds = p.pendingAdds[1:]
	p.mu.Unlock()
	pa.ch <- addResult{err: e}
	return true
}

func (p *publisher) dropAdd(pa *pendingAdd) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, x := range p.pendingAdds {
		if x == pa {
			p.pendingAdds = append(p.pendingAdds[:i], p.pendingAdds[i+1:]...)
			return
		}
	}
}

// closedErr is the error calls see once the session has ended.
func (c *Client) closedErr() error {
	if e := c.disc.Load(); e != nil {
		return e
	}
	return ErrClosed
}
