package loadtest

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/cascade-sfu/cascade/client"
	cascadev1 "github.com/cascade-sfu/cascade/proto/cascade/v1"
)

// subscriber is one subscribing participant: it follows the room, subscribes by the layout,
// and measures every track it receives.
type subscriber struct {
	run      *run
	id       string
	c        *client.Client
	expected int       // tracks the layout wants
	wsOpen   time.Time // the WebSocket handshake completed
	want     chan wanted

	firsts   atomic.Int32 // tracks with a first frame
	joinDone atomic.Int64 // unix ns when every expected track had its first frame

	mu        sync.Mutex // guards tracks, requested, states
	tracks    map[string]*trackRecv
	requested map[string]bool
	states    map[string]cascadev1.StreamState // the SFU's last word on each track
	estimate  atomic.Uint64                    // the SFU's estimate of the downlink, bit/s

	wg sync.WaitGroup // the subscription goroutine
}

// wanted is a track the layout takes, at a layer ("" for audio) and priority.
type wanted struct {
	sid      string
	layer    string
	priority int32
}

// pinPriority is the priority of the speaker layout's big tile (the protocol's example
// value for pinned tiles).
const pinPriority = 10

func newSubscriber(r *run, id string, c *client.Client) *subscriber {
	return &subscriber{
		run: r, id: id, c: c, expected: r.cfg.expectedTracks(), wsOpen: c.Timings().WebSocketOpen,
		want: make(chan wanted, 64), tracks: map[string]*trackRecv{}, requested: map[string]bool{},
		states: map[string]cascadev1.StreamState{},
	}
}

// start hooks the client's events and subscribes to what the room already has.
func (s *subscriber) start() {
	s.c.OnTrack(s.onTrack)
	s.c.OnTrackPublished(func(p *cascadev1.ParticipantInfo, t *cascadev1.TrackInfo) { s.consider(p, t) })
	s.c.OnStreamState(s.onStreamState)
	s.wg.Add(1)
	go s.subscribeLoop()
	for _, p := range s.c.Participants() {
		for _, t := range p.GetTracks() {
			s.consider(p, t)
		}
	}
}

// consider queues t for subscription if the layout takes it.
func (s *subscriber) consider(p *cascadev1.ParticipantInfo, t *cascadev1.TrackInfo) {
	w, ok := s.run.cfg.layoutWants(p.GetIdentity(), t)
	if !ok {
		return
	}
	s.mu.Lock()
	dup := s.requested[t.GetSid()]
	s.requested[t.GetSid()] = true
	s.mu.Unlock()
	if dup {
		return
	}
	select {
	case s.want <- w:
	case <-s.c.Done():
	}
}

// layoutWants says whether a subscriber takes track t of the participant with identity, and
// at which layer.
func (c *Config) layoutWants(identity string, t *cascadev1.TrackInfo) (wanted, bool) {
	w := wanted{sid: t.GetSid()}
	switch t.GetKind() {
	case cascadev1.TrackKind_TRACK_KIND_AUDIO:
		return w, true
	case cascadev1.TrackKind_TRACK_KIND_VIDEO:
	default:
		return w, false
	}
	if c.Layout == LayoutAll {
		w.layer = c.Layer
		return w, true
	}
	switch i := publisherIndex(identity); {
	case i == 0:
		w.layer, w.priority = "f", pinPriority
	case i >= 1 && i <= speakerSmallTiles:
		w.layer = "q"
	default:
		return w, false
	}
	return w, true
}

// subscribeLoop sends subscriptions, batching what queued up meanwhile, until the session
// ends.
func (s *subscriber) subscribeLoop() {
	defer s.wg.Done()
	for {
		var batch []wanted
		select {
		case w := <-s.want:
			batch = append(batch, w)
		case <-s.c.Done():
			return
		}
	more:
		for {
			select {
			case w := <-s.want:
				batch = append(batch, w)
			default:
				break more
			}
		}
		sids := make([]string, len(batch))
		for i, w := range batch {
			sids[i] = w.sid
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.run.cfg.JoinTimeout)
		err := s.c.UpdateSubscription(ctx, true, sids...)
		if err != nil && !errors.Is(err, client.ErrClosed) {
			s.run.fail("subscribe", err)
		}
		for _, w := range batch {
			if w.layer == "" || err != nil {
				continue
			}
			// The highest layer and the priority of the tile (signaling/PROTOCOL.md, track
			// settings); the SFU may send less when the estimate says so.
			err := s.c.UpdateTrackSettings(ctx, &cascadev1.UpdateTrackSettings{TrackSids: []string{w.sid}, MaxRid: w.layer, Priority: w.priority})
			if err != nil && !errors.Is(err, client.ErrClosed) {
				s.run.fail("track settings", err)
			}
		}
		cancel()
	}
}

// onTrack measures one remote track until it ends.
func (s *subscriber) onTrack(rt *client.RemoteTrack) {
	mime := strings.ToLower(rt.Track.Codec().MimeType)
	audio := rt.Kind() == webrtc.RTPCodecTypeAudio
	var asm frameAssembler
	switch {
	case audio:
	case mime == strings.ToLower(webrtc.MimeTypeVP8):
		asm = &vp8Assembler{}
	case mime == strings.ToLower(webrtc.MimeTypeH264):
		asm = &h264Assembler{}
	default:
		s.run.fail("receive", errors.New("track with codec "+mime+" the load tester does not synthesize"))
		drain(rt)
		return
	}
	tr := newTrackRecv(audio, asm, s.firstFrame)
	s.mu.Lock()
	s.tracks[rt.TrackSID] = tr
	s.mu.Unlock()

	pc := s.c.SubscriberPC()
	ssrc := uint32(rt.Track.SSRC())
	pli := func() {
		_ = pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
	}
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	var deadlineSet time.Time
	for {
		now := time.Now()
		// A read deadline lets the renderer's clock run while nothing arrives (a stalled
		// picture is when keyframe requests matter most); setting it costs a timer, so it
		// is refreshed at most every 50 ms.
		if now.Sub(deadlineSet) > 50*time.Millisecond {
			_ = rt.Track.SetReadDeadline(now.Add(250 * time.Millisecond))
			deadlineSet = now
			if tr.tick(now) {
				pli()
			}
		}
		n, _, err := rt.Track.Read(buf)
		now = time.Now()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				deadlineSet = time.Time{}
				continue
			}
			return
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			continue
		}
		if tr.packet(&pkt, n, now) {
			pli()
		}
	}
}

// onStreamState records what the SFU says each track gets.
func (s *subscriber) onStreamState(u *cascadev1.StreamStateUpdate) {
	s.estimate.Store(u.GetEstimateBps())
	s.mu.Lock()
	for _, st := range u.GetStreams() {
		s.states[st.GetTrackSid()] = st.GetState()
	}
	s.mu.Unlock()
}

// streamStates counts the tracks in each state the SFU last reported.
func (s *subscriber) streamStates(into map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.states {
		into[streamStateName(st)]++
	}
}

func streamStateName(st cascadev1.StreamState) string {
	switch st {
	case cascadev1.StreamState_STREAM_STATE_ACTIVE:
		return "active"
	case cascadev1.StreamState_STREAM_STATE_PAUSED_BANDWIDTH:
		return "paused_bandwidth"
	case cascadev1.StreamState_STREAM_STATE_PAUSED_PREFERENCE:
		return "paused_preference"
	}
	return st.String()
}

// drain reads and discards a track (so pion's buffers do not fill) until it ends.
func drain(rt *client.RemoteTrack) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := rt.Track.Read(buf); err != nil {
			return
		}
	}
}

// firstFrame counts a track's first frame; the last expected one completes the join.
func (s *subscriber) firstFrame(now time.Time) {
	if int(s.firsts.Add(1)) == s.expected {
		s.joinDone.Store(now.UnixNano())
	}
}

// joinTime is WebSocket open to the first frame of every expected track, or 0 if not yet.
func (s *subscriber) joinTime() time.Duration {
	ns := s.joinDone.Load()
	if ns == 0 || s.wsOpen.IsZero() {
		return 0
	}
	return time.Unix(0, ns).Sub(s.wsOpen)
}

// trackList returns the tracks received so far.
func (s *subscriber) trackList() []*trackRecv {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*trackRecv, 0, len(s.tracks))
	for _, t := range s.tracks {
		out = append(out, t)
	}
	return out
}
