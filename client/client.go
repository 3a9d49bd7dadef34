// Package client is Cascade's Go participant SDK, built on pion: it joins a room over the
// signaling WebSocket (proto3 JSON, see signaling/PROTOCOL.md), keeps the two peer connections
// (publisher: the client offers; subscriber: the SFU offers), publishes and receives tracks,
// sends and receives data messages, and keeps an up-to-date view of the room. Video quality
// (quality.go): UpdateTrackSettings asks for what to receive, OnStreamState and StreamStates
// report what the SFU forwards, and LocalTrack.OnLayerActive follows dynacast.
//
// Tests, the load tester and bots use it. Callbacks run one at a time on one goroutine, in the
// order the events happened, never under a client lock; they may call back into the client.
// OnTrack is the exception: each remote track gets its own goroutine, so the handler may block
// reading the track until it ends. Close stops every goroutine the client started.
package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	cascadev1 "github.com/cascade-sfu/cascade/proto/cascade/v1"
)

// Timings are moments in the life of a client, for join-to-first-frame measurements. Zero
// means not yet.
type Timings struct {
	DialStart           time.Time // Join called
	WebSocketOpen       time.Time // the WebSocket handshake completed
	Joined              time.Time // the join response arrived
	SubscriberConnected time.Time // the subscriber connection reached "connected"
	PublisherConnected  time.Time // the publisher connection reached "connected"
	FirstRemoteTrack    time.Time // the first remote track's first packet arrived (OnTrack)
}

// Client is one participant's session.
type Client struct {
	cfg  config
	log  *slog.Logger
	sig  *signalConn
	join *cascadev1.JoinResponse // immutable after Join

	pingInterval time.Duration
	pingTimeout  time.Duration

	room *roomState
	pub  *publisher
	sub  *subscriber
	h    handlers

	ctx    context.Context // canceled when the session ends: stops the loops
	cancel context.CancelFunc
	wg     group // goroutines the client owns (and pion's track goroutines while in our code)
	events *eventQueue
	// cbGIDs holds the ids of goroutines running user callbacks, so Close from inside one
	// does not wait for itself.
	cbGIDs sync.Map

	tmu     sync.Mutex // guards timings
	timings Timings

	lastRecv atomic.Int64 // unix ns of the last server message
	rtt      atomic.Int64 // ns, from ping/pong

	cmu     sync.Mutex    // guards changed
	changed chan struct{} // closed and replaced on every state change (WaitFor)

	discOnce sync.Once
	disc     atomic.Pointer[DisconnectError]
	done     chan struct{} // closed when teardown finished (all owned goroutines ended)
}

// Join connects to a Cascade node and joins the room named by token. url is the node's
// ws(s):// or http(s):// address (the /v1/signal path is added when missing). It returns once
// the join response arrives; the peer connections come up in the background (WaitReady waits
// for them). A refused join returns a *SignalError (see ErrorCode).
func Join(ctx context.Context, url, token string, opts ...Option) (*Client, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	t := Timings{DialStart: time.Now()}
	sig, err := dialSignal(ctx, url, &cfg)
	if err != nil {
		return nil, err
	}
	t.WebSocketOpen = time.Now()
	jr, err := handshake(ctx, sig, token, &cfg)
	if err != nil {
		sig.closeNow()
		return nil, err
	}
	t.Joined = time.Now()

	c := &Client{
		cfg:     cfg,
		log:     cfg.logger.With("participant", jr.GetParticipant().GetSid(), "identity", jr.GetParticipant().GetIdentity()),
		sig:     sig,
		join:    jr,
		room:    newRoomState(jr),
		events:  newEventQueue(),
		timings: t,
		changed: make(chan struct{}),
		done:    make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.lastRecv.Store(time.Now().UnixNano())
	if n := jr.GetMaxMessageBytes(); n > 0 {
		sig.maxBytes.Store(int64(n))
	}
	c.pingInterval = time.Duration(jr.GetPingIntervalMs()) * time.Millisecond
	if cfg.pingInterval > 0 {
		c.pingInterval = cfg.pingInterval
	}
	if c.pingInterval <= 0 {
		c.pingInterval = 5 * time.Second
	}
	c.pingTimeout = time.Duration(jr.GetPingTimeoutMs()) * time.Millisecond

	if err := c.setupPeerConnections(); err != nil {
		_ = sig.send(&cascadev1.SignalRequest{Message: &cascadev1.SignalRequest_Leave{Leave: &cascadev1.LeaveRequest{Reason: "client setup failed"}}})
		sig.closeNow()
		c.closePeerConnections()
		c.cancel()
		return nil, err
	}

	go c.events.run(&c.cbGIDs)
	go c.supervise()
	c.wg.Go(c.readLoop)
	c.wg.Go(c.pingLoop)
	c.wg.Go(c.pub.negotiateLoop)
	// The first publisher offer carries only the data channels; it brings the publisher
	// connection up so data can flow before anything is published.
	c.pub.requestNegotiation()
	c.log.Debug("joined", "room", jr.GetRoom().GetName())
	return c, nil
}

// handshake sends join and reads the answer.
func handshake(ctx context.Context, sig *signalConn, token string, cfg *config) (*cascadev1.JoinResponse, error) {
	err := sig.send(&cascadev1.SignalRequest{Message: &cascadev1.SignalRequest_Join{Join: &cascadev1.JoinRequest{
		Token:           token,
		Client:          cfg.clientName,
		NoAutoSubscribe: !cfg.autoSubscribe,
	}}})
	if err != nil {
		return nil, err
	}
	for {
		resp, err := sig.read(ctx)
		if err != nil {
			return nil, fmt.Errorf("client: waiting for join response: %w", err)
		}
		switch m := resp.Message.(type) {
		case *cascadev1.SignalResponse_Join:
			return m.Join, nil
		case *cascadev1.SignalResponse_Error:
			return nil, signalError(m.Error)
		case *cascadev1.SignalResponse_Leave:
			return nil, &DisconnectError{Reason: m.Leave.GetReason(), Message: m.Leave.GetMessage()}
		default:
			return nil, fmt.Errorf("%w: %T before the join response", ErrProtocol, m)
		}
	}
}

func (c *Client) setupPeerConnections() error {
	iceServers := make([]webrtc.ICEServer, 0, len(c.join.GetIceServers()))
	for _, s := range c.join.GetIceServers() {
		iceServers = append(iceServers, webrtc.ICEServer{URLs: s.GetUrls(), Username: s.GetUsername(), Credential: s.GetCredential()})
	}
	mkConfig := func(role PCRole) webrtc.Configuration {
		pc := webrtc.Configuration{
			ICEServers:   iceServers,
			BundlePolicy: webrtc.BundlePolicyMaxBundle,
			SDPSemantics: webrtc.SDPSemanticsUnifiedPlan,
		}
		for _, h := range c.cfg.configHooks {
			h(role, &pc)
		}
		return pc
	}
	var err error
	if c.sub, err = newSubscriber(c, mkConfig(Subscriber)); err != nil {
		return fmt.Errorf("client: subscriber connection: %w", err)
	}
	if c.pub, err = newPublisher(c, mkConfig(Publisher)); err != nil {
		return fmt.Errorf("client: publisher connection: %w", err)
	}
	return nil
}

func (c *Client) closePeerConnections() {
	if c.pub != nil {
		_ = c.pub.pc.GracefulClose()
	}
	if c.sub != nil {
		_ = c.sub.pc.GracefulClose()
	}
}

// send writes a request; after the session ended it returns ErrClosed.
func (c *Client) send(req *cascadev1.SignalRequest) error {
	if c.ctx.Err() != nil {
		return ErrClosed
	}
	return c.sig.send(req)
}

// readLoop handles server messages in order until the connection ends.
func (c *Client) readLoop() {
	for {
		resp, err := c.sig.read(c.ctx)
		if err != nil {
			if c.ctx.Err() == nil {
				c.disconnect(&DisconnectError{Reason: cascadev1.LeaveReason_LEAVE_REASON_UNSPECIFIED, Message: "signaling connection lost", Err: err})
			}
			return
		}
		c.lastRecv.Store(time.Now().UnixNano())
		c.handle(resp)
		c.notify()
	}
}

// pingLoop keeps the session alive and notices a silent server.
func (c *Client) pingLoop() {
	t := time.NewTicker(c.pingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case now := <-t.C:
			if c.pingTimeout > 0 && now.Sub(time.Unix(0, c.lastRecv.Load())) > c.pingTimeout {
				c.disconnect(&DisconnectError{Reason: cascadev1.LeaveReason_LEAVE_REASON_TIMEOUT, Message: "no message from the server within the ping timeout"})
				return
			}
			err := c.send(&cascadev1.SignalRequest{Message: &cascadev1.SignalRequest_Ping{Ping: &cascadev1.Ping{TimestampMs: now.UnixMilli()}}})
			if err != nil && c.ctx.Err() == nil {
				c.log.Debug("ping failed", "err", err)
			}
		}
	}
}

// handle dispatches one server message. It runs on the read loop: protocol work happens here,
// user callbacks are queued.
func (c *Client) handle(resp *cascadev1.SignalResponse) {
	switch m := resp.Message.(type) {
	case *cascadev1.SignalResponse_Offer:
		c.sub.handleOffer(m.Offer)
	case *cascadev1.SignalResponse_Answer:
		c.pub.handleAnswer(m.Answer)
	case *cascadev1.SignalResponse_Trickle:
		c.handleTrickle(m.Trickle)
	case *cascadev1.SignalResponse_TrackPublished:
		c.pub.handleTrackPublished(m.TrackPublished)
	case *cascadev1.SignalResponse_ParticipantJoined:
		if p := c.room.joined(m.ParticipantJoined.GetParticipant()); p != nil {
			c.emit(func(h *handlerSet) { call1(h.participantJoined, p) })
		}
	case *cascadev1.SignalResponse_ParticipantLeft:
		pl := m.ParticipantLeft
		p := c.room.left(pl.GetParticipantSid(), pl.GetIdentity())
		c.sub.forgetParticipant(pl.GetParticipantSid())
		c.emit(func(h *handlerSet) {
			if h.participantLeft != nil {
				h.participantLeft(p, pl.GetReason())
			}
		})
	case *cascadev1.SignalResponse_ParticipantUpdated:
		p := c.room.updated(m.ParticipantUpdated.GetParticipant())
		c.emit(func(h *handlerSet) { call1(h.participantUpdated, p) })
	case *cascadev1.SignalResponse_TrackPublishedEvent:
		ev := m.TrackPublishedEvent
		p, t := c.room.trackPublished(ev.GetParticipantSid(), ev.GetTrack())
		c.emit(func(h *handlerSet) {
			if h.trackPublished != nil {
				h.trackPublished(p, t)
			}
		})
	case *cascadev1.SignalResponse_TrackUnpublished:
		ev := m.TrackUnpublished
		t := c.room.trackUnpublished(ev.GetParticipantSid(), ev.GetTrackSid())
		c.sub.forgetTrack(ev.GetTrackSid())
		c.emit(func(h *handlerSet) {
			if h.trackUnpublished != nil {
				h.trackUnpublished(ev.GetParticipantSid(), t)
			}
		})
	case *cascadev1.SignalResponse_TrackMuted:
		ev := m.TrackMuted
		t := c.room.trackMuted(ev.GetParticipantSid(), ev.GetTrackSid(), ev.GetMuted())
		c.emit(func(h *handlerSet) {
			if h.trackMuted != nil {
				h.trackMuted(ev.GetParticipantSid(), t, ev.GetMuted())
			}
		})
	case *cascadev1.SignalResponse_SpeakersChanged:
		s := c.room.setSpeakers(m.SpeakersChanged.GetSpeakers())
		c.emit(func(h *handlerSet) { call1(h.speakersChanged, s) })
	case *cascadev1.SignalResponse_Subscription:
		c.sub.handleSubscription(m.Subscription)
	case *cascadev1.SignalResponse_StreamState:
		c.handleStreamState(m.StreamState)
	case *cascadev1.SignalResponse_SubscribedLayers:
		c.handleSubscribedLayers(m.SubscribedLayers)
	case *cascadev1.SignalResponse_Pong:
		if ts := m.Pong.GetTimestampMs(); ts > 0 {
			c.rtt.Store(int64(time.Since(time.UnixMilli(ts))))
		}
	case *cascadev1.SignalResponse_Leave:
		c.disconnect(&DisconnectError{Reason: m.Leave.GetReason(), Message: m.Leave.GetMessage()})
	case *cascadev1.SignalResponse_Error:
		c.handleError(signalError(m.Error))
	case *cascadev1.SignalResponse_Join:
		c.log.Warn("ignoring a second join response")
	}
}

// handleError routes a server error to the request waiting for it, or to OnError.
func (c *Client) handleError(e *SignalError) {
	switch normRequest(e.Request) {
	case "offer":
		if c.pub.failOffer(e) {
			return
		}
	case "addtrack":
		if c.pub.failAddTrack(e) {
			return
		}
	case "subscription":
		if c.sub.failSubscription(e) {
			return
		}
	}
	c.log.Warn("server error", "code", e.Code.String(), "message", e.Message, "request", e.Request)
	c.emit(func(h *handlerSet) { call1(h.err, e) })
}

func (c *Client) handleTrickle(t *cascadev1.TrickleRequest) {
	cand := candidateFromProto(t.GetCandidate())
	var err error
	switch t.GetTarget() {
	case cascadev1.SignalTarget_SIGNAL_TARGET_PUBLISHER:
		err = c.pub.cands.addRemote(c.pub.pc, cand)
	case cascadev1.SignalTarget_SIGNAL_TARGET_SUBSCRIBER:
		err = c.sub.cands.addRemote(c.sub.pc, cand)
	}
	if err != nil {
		c.log.Warn("cannot add remote ICE candidate", "target", t.GetTarget().String(), "err", err)
	}
}

// disconnect ends the session once; the supervisor does the teardown.
func (c *Client) disconnect(e *DisconnectError) {
	c.discOnce.Do(func() {
		c.disc.Store(e)
		if e.Reason == cascadev1.LeaveReason_LEAVE_REASON_CLIENT_REQUEST {
			c.log.Debug("leaving")
		} else {
			c.log.Info("disconnected", "reason", e.Reason.String(), "message", e.Message, "err", e.Err)
		}
		c.cancel()
	})
}

// supervise tears the session down once it ends: close the connections, wait for every owned
// goroutine, deliver OnDisconnected, and drain the callback queue.
func (c *Client) supervise() {
	<-c.ctx.Done()
	if c.disc.Load().Reason == cascadev1.LeaveReason_LEAVE_REASON_CLIENT_REQUEST {
		c.sig.close()
	} else {
		c.sig.closeNow()
	}
	c.closePeerConnections()
	c.wg.closeAndWait()
	e := c.disc.Load()
	c.emit(func(h *handlerSet) { call1(h.disconnected, e) })
	c.events.close()
	close(c.done)
	c.notify()
}

// Leave tells the server the participant is leaving, then closes the client (see Close).
func (c *Client) Leave() error {
	if c.ctx.Err() == nil {
		_ = c.sig.send(&cascadev1.SignalRequest{Message: &cascadev1.SignalRequest_Leave{Leave: &cascadev1.LeaveRequest{}}})
	}
	return c.Close()
}

// Close ends the session without a leave message and waits until every goroutine the client
// started has ended and the last callback (OnDisconnected) has run. Called from inside a
// callback, it starts the teardown and returns without waiting. Safe to call more than once.
func (c *Client) Close() error {
	c.disconnect(&DisconnectError{Reason: cascadev1.LeaveReason_LEAVE_REASON_CLIENT_REQUEST})
	if _, inCallback := c.cbGIDs.Load(goroutineID()); inCallback {
		return nil
	}
	<-c.done
	<-c.events.done
	return nil
}

// Done is closed when the session has ended and been torn down.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the session ended, or nil while it runs.
func (c *Client) Err() error {
	if e := c.disc.Load(); e != nil {
		return e
	}
	return nil
}

// notify wakes WaitFor callers.
func (c *Client) notify() {
	c.cmu.Lock()
	close(c.changed)
	c.changed = make(chan struct{})
	c.cmu.Unlock()
}

func (c *Client) changedCh() <-chan struct{} {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	return c.changed
}

// WaitFor waits until cond returns true, re-checking whenever the client's state changes (and
// every 50 ms, for conditions on outside state). It returns ctx's error on timeout and
// ErrClosed if the session ends first.
func (c *Client) WaitFor(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		ch := c.changedCh()
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.done:
			if cond() {
				return nil
			}
			return fmt.Errorf("%w: %w", ErrClosed, c.Err())
		case <-ch:
		case <-t.C:
		}
	}
}

// WaitReady waits until both peer connections are connected and the data channels (ours on
// the publisher connection, the SFU's on the subscriber connection) are open.
func (c *Client) WaitReady(ctx context.Context) error {
	return c.WaitFor(ctx, c.Ready)
}

// Ready reports whether both peer connections are connected and every data channel is open.
func (c *Client) Ready() bool {
	return c.pub.pc.ConnectionState() == webrtc.PeerConnectionStateConnected &&
		c.sub.pc.ConnectionState() == webrtc.PeerConnectionStateConnected &&
		c.pub.dataReady() && c.sub.dataReady()
}

// SID is the local participant's server-assigned sid.
func (c *Client) SID() string { return c.join.GetParticipant().GetSid() }

// Identity is the local participant's identity.
func (c *Client) Identity() string { return c.join.GetParticipant().GetIdentity() }

// JoinResponse returns a copy of the join response.
func (c *Client) JoinResponse() *cascadev1.JoinResponse { return clone(c.join) }

// Room returns the room as last reported.
func (c *Client) Room() *cascadev1.Room { return c.room.roomInfo() }

// LocalParticipant returns the local participant, with the tracks it publishes.
func (c *Client) LocalParticipant() *cascadev1.ParticipantInfo { return c.room.localInfo() }

// Participants returns the other participants (with their tracks), oldest first.
func (c *Client) Participants() []*cascadev1.ParticipantInfo { return c.room.participants() }

// Participant returns a participant (the local one too) by sid, or nil.
func (c *Client) Participant(sid string) *cascadev1.ParticipantInfo { return c.room.participant(sid) }

// ParticipantByIdentity returns a participant by identity, or nil.
func (c *Client) ParticipantByIdentity(identity string) *cascadev1.ParticipantInfo {
	return c.room.byIdentity(identity)
}

// Track returns a published track and its publisher by track sid, or nils.
func (c *Client) Track(sid string) (*cascadev1.ParticipantInfo, *cascadev1.TrackInfo) {
	return c.room.track(sid)
}

// ActiveSpeakers returns the speakers of the last speakersChanged, loudest first.
func (c *Client) ActiveSpeakers() []*cascadev1.SpeakerInfo { return c.room.speakerList() }

// RTT is the last signaling round trip measured by ping/pong (0 before the first pong).
func (c *Client) RTT() time.Duration { return time.Duration(c.rtt.Load()) }

// Timings returns the session's timestamps so far.
func (c *Client) Timings() Timings {
	c.tmu.Lock()
	defer c.tmu.Unlock()
	return c.timings
}

func (c *Client) setTiming(f func(*Timings)) {
	c.tmu.Lock()
	f(&c.timings)
	c.tmu.Unlock()
}

// PublisherPC returns the publisher peer connection (for stats; do not renegotiate it).
func (c *Client) PublisherPC() *webrtc.PeerConnection { return c.pub.pc }

// SubscriberPC returns the subscriber peer connection (for stats; do not renegotiate it).
func (c *Client) SubscriberPC() *webrtc.PeerConnection { return c.sub.pc }

// requestContext derives a context bounded by the request timeout and the session.
func (c *Client) requestContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(parent, c.cfg.requestTimeout)
	stop := context.AfterFunc(c.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// ctxErr turns a finished request context into the error a caller should see.
func (c *Client) ctxErr(ctx context.Context, what string) error {
	if c.ctx.Err() != nil {
		if e := c.Err(); e != nil {
			return fmt.Errorf("%s: %w", what, e)
		}
		return fmt.Errorf("%s: %w", what, ErrClosed)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", what, ErrTimeout)
	}
	return fmt.Errorf("%s: %w", what, ctx.Err())
}
