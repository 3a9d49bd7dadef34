package client_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"

	"github.com/cascade-sfu/cascade/auth"
	"github.com/cascade-sfu/cascade/client"
	"github.com/cascade-sfu/cascade/client/synth"
	"github.com/cascade-sfu/cascade/internal/testnode"
	"github.com/cascade-sfu/cascade/node"
	cascadev1 "github.com/cascade-sfu/cascade/proto/cascade/v1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testLogger logs errors to stderr (everything with CASCADE_TEST_DEBUG=1): pion warns about
// routine teardown.
func testLogger() *slog.Logger {
	level := slog.LevelError
	if os.Getenv("CASCADE_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// startNode runs a real node on loopback for the test.
func startNode(t *testing.T) *node.Node {
	t.Helper()
	n := testnode.Start(t, testLogger().With("side", "node"), func(c *node.Config) { c.Dev = true })
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("node close: %v", err)
		}
	})
	return n
}

func mint(t *testing.T, room, identity string, edit ...func(*auth.VideoGrant)) string {
	t.Helper()
	return testnode.Mint(t, auth.TokenParams{Identity: identity, Name: identity, Grant: testnode.JoinGrant(room, edit...)})
}

func url(n *node.Node) string { return "ws://" + n.HTTPAddr() }

// join connects a client that the test closes at cleanup (clients close before the node:
// cleanups run last-registered first).
func join(t *testing.T, n *node.Node, room, identity string, opts ...client.Option) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts = append([]client.Option{
		client.WithIncludeLoopback(),
		client.WithLogger(testLogger().With("side", identity)),
	}, opts...)
	c, err := client.Join(ctx, url(n), mint(t, room, identity), opts...)
	if err != nil {
		t.Fatalf("%s: join: %v", identity, err)
	}
	t.Cleanup(func() { _ = c.Leave() })
	return c
}

func waitFor(t *testing.T, c *client.Client, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.WaitFor(ctx, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// media is what a test participant publishes: synthetic VP8 and Opus.
type media struct {
	video  *synth.VP8Source
	opus   *synth.OpusSource
	vt, at *client.LocalTrack
}

func publishAV(t *testing.T, c *client.Client, level int) *media {
	t.Helper()
	vtr, err := synth.NewVP8Track("cam-"+c.Identity(), "stream-"+c.Identity())
	if err != nil {
		t.Fatal(err)
	}
	atr, err := synth.NewOpusTrack("mic-"+c.Identity(), "stream-"+c.Identity())
	if err != nil {
		t.Fatal(err)
	}
	m := &media{}
	if m.video, err = synth.NewVP8Source(vtr, synth.VP8Config{FPS: 30, Bitrate: 400_000, KeyframeInterval: time.Second}); err != nil {
		t.Fatal(err)
	}
	if m.opus, err = synth.NewOpusSource(atr, synth.OpusConfig{}); err != nil {
		t.Fatal(err)
	}
	m.vt, err = c.PublishTrack(vtr, client.TrackOptions{
		Name: "camera", Source: cascadev1.TrackSource_TRACK_SOURCE_CAMERA, Width: 640, Height: 360,
	})
	if err != nil {
		t.Fatalf("%s: publish video: %v", c.Identity(), err)
	}
	m.vt.OnKeyframeRequest(func(string) { m.video.RequestKeyframe() })
	m.at, err = c.PublishTrack(atr, client.TrackOptions{Name: "mic", Source: cascadev1.TrackSource_TRACK_SOURCE_MICROPHONE})
	if err != nil {
		t.Fatalf("%s: publish audio: %v", c.Identity(), err)
	}
	id := m.at.HeaderExtensionID(client.AudioLevelURI)
	if id == 0 {
		t.Fatalf("%s: audio level extension not negotiated", c.Identity())
	}
	m.opus.SetAudioLevelExtensionID(id)
	m.opus.SetLevel(level, level < 127)
	m.video.Start()
	m.opus.Start()
	t.Cleanup(func() { m.video.Stop(); m.opus.Stop() })
	return m
}

// receiver checks every remote track it is given and counts what verified.
type receiver struct {
	mu      sync.Mutex
	frames  map[string]int // verified video frames by track sid
	layers  map[uint8]int  // verified video frames by simulcast layer index
	audio   map[string]int // verified audio packets by track sid
	tracks  map[string]*client.RemoteTrack
	corrupt atomic.Int64
	errs    []error
	latency time.Duration // worst first-packet latency seen
}

func newReceiver(c *client.Client) *receiver {
	r := &receiver{frames: map[string]int{}, layers: map[uint8]int{}, audio: map[string]int{}, tracks: map[string]*client.RemoteTrack{}}
	c.OnTrack(r.onTrack)
	return r
}

func (r *receiver) onTrack(rt *client.RemoteTrack) {
	r.mu.Lock()
	r.tracks[rt.TrackSID] = rt
	r.mu.Unlock()
	var asm synth.Assembler
	for {
		p, err := rt.ReadRTP()
		if err != nil {
			return
		}
		switch rt.Kind() {
		case webrtc.RTPCodecTypeVideo:
			f, ok, err := asm.Push(p)
			if !ok {
				continue
			}
			r.mu.Lock()
			if err != nil {
				r.corrupt.Add(1)
				r.errs = append(r.errs, err)
			} else {
				r.frames[rt.TrackSID]++
				r.layers[f.Header.Layer]++
				r.latency = max(r.latency, f.Header.Latency(time.Now()))
			}
			r.mu.Unlock()
		case webrtc.RTPCodecTypeAudio:
			_, err := synth.VerifyOpusPacket(p.Payload)
			r.mu.Lock()
			if err != nil {
				r.corrupt.Add(1)
				r.errs = append(r.errs, err)
			} else {
				r.audio[rt.TrackSID]++
			}
			r.mu.Unlock()
		}
	}
}

func (r *receiver) counts(sid string) (video, audio int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.frames[sid], r.audio[sid]
}

func (r *receiver) track(sid string) *client.RemoteTrack {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tracks[sid]
}

func TestTwoParticipantsExchangeMedia(t *testing.T) {
	n := startNode(t)
	alice := join(t, n, "media", "alice")
	bob := join(t, n, "media", "bob")
	ra, rb := newReceiver(alice), newReceiver(bob)
	ma := publishAV(t, alice, 20)
	mb := publishAV(t, bob, 127)

	const wantFrames, wantAudio = 30, 25
	waitFor(t, bob, "bob to receive alice's media", func() bool {
		v, a := rb.counts(ma.vt.SID())
		_, a2 := rb.counts(ma.at.SID())
		return v >= wantFrames && a+a2 >= wantAudio
	})
	waitFor(t, alice, "alice to receive bob's media", func() bool {
		v, _ := ra.counts(mb.vt.SID())
		_, a := ra.counts(mb.at.SID())
		return v >= wantFrames && a >= wantAudio
	})
	for name, r := range map[string]*receiver{"alice": ra, "bob": rb} {
		if n := r.corrupt.Load(); n > 0 {
			t.Errorf("%s received %d corrupt frames/packets: %v", name, n, r.errs[:min(len(r.errs), 5)])
		}
	}

	// Remote tracks name their publisher and match the publisher's track sids.
	for _, tc := range []struct {
		r         *receiver
		publisher *client.Client
		m         *media
	}{{rb, alice, ma}, {ra, bob, mb}} {
		for _, lt := range []*client.LocalTrack{tc.m.vt, tc.m.at} {
			rt := tc.r.track(lt.SID())
			if rt == nil {
				t.Fatalf("track %s of %s never arrived", lt.SID(), tc.publisher.Identity())
			}
			if rt.ParticipantSID != tc.publisher.SID() || rt.ParticipantIdentity != tc.publisher.Identity() {
				t.Errorf("track %s: publisher %q/%q, want %q/%q", lt.SID(), rt.ParticipantSID, rt.ParticipantIdentity,
					tc.publisher.SID(), tc.publisher.Identity())
			}
		}
	}

	// Room state: each sees the other with two tracks.
	waitFor(t, bob, "bob's view of alice's tracks", func() bool {
		p := bob.ParticipantByIdentity("alice")
		return p != nil && len(p.GetTracks()) == 2
	})
	p := bob.ParticipantByIdentity("alice")
	for _, tr := range p.GetTracks() {
		if tr.GetSid() != ma.vt.SID() && tr.GetSid() != ma.at.SID() {
			t.Errorf("bob sees alice track %s, not one she published", tr.GetSid())
		}
	}
	if got := len(alice.LocalParticipant().GetTracks()); got != 2 {
		t.Errorf("alice's local participant lists %d tracks, want 2", got)
	}
	tm := bob.Timings()
	if tm.WebSocketOpen.IsZero() || tm.FirstRemoteTrack.IsZero() || tm.FirstRemoteTrack.Before(tm.WebSocketOpen) {
		t.Errorf("timings %+v", tm)
	}
	rb.mu.Lock()
	worst := rb.latency
	rb.mu.Unlock()
	t.Logf("join to first track: %v; worst frame latency alice->bob %v", tm.FirstRemoteTrack.Sub(tm.DialStart), worst)
}

func TestActiveSpeaker(t *testing.T) {
	n := startNode(t)
	alice := join(t, n, "speakers", "alice")
	bob := join(t, n, "speakers", "bob")
	var events atomic.Int64
	bob.OnSpeakersChanged(func([]*cascadev1.SpeakerInfo) { events.Add(1) })
	m := publishAV(t, alice, 127)
	waitFor(t, bob, "alice's tracks", func() bool {
		p := bob.ParticipantByIdentity("alice")
		return p != nil && len(p.GetTracks()) == 2
	})
	if s := bob.ActiveSpeakers(); len(s) != 0 {
		t.Fatalf("speakers while alice is silent: %v", s)
	}
	m.opus.SetLevel(10, true) // -10 dBov: speaking
	waitFor(t, bob, "alice to become the active speaker", func() bool {
		s := bob.ActiveSpeakers()
		return len(s) > 0 && s[0].GetParticipantSid() == alice.SID()
	})
	m.opus.SetLevel(127, false)
	waitFor(t, bob, "alice to stop speaking", func() bool { return len(bob.ActiveSpeakers()) == 0 })
	// The callback runs on the event goroutine, after the state it reports was recorded.
	waitFor(t, bob, "two speaker events", func() bool { return events.Load() >= 2 })
}

func TestSimulcastPublish(t *testing.T) {
	n := startNode(t)
	alice := join(t, n, "simulcast", "alice")
	bob := join(t, n, "simulcast", "bob")
	rb := newReceiver(bob)
	tracks, err := synth.NewSimulcastTracks("cam", "alice-stream")
	if err != nil {
		t.Fatal(err)
	}
	src, err := synth.NewSimulcastSource(synth.DefaultSimulcastLayers(tracks[0], tracks[1], tracks[2]),
		synth.VP8Config{FPS: 30, KeyframeInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	lt, err := alice.PublishSimulcast(tracks, client.TrackOptions{
		Name: "camera", Source: cascadev1.TrackSource_TRACK_SOURCE_CAMERA, Width: 1280, Height: 720,
	})
	if err != nil {
		t.Fatal(err)
	}
	lt.OnKeyframeRequest(src.RequestKeyframe)
	src.Start()
	defer src.Stop()
	if got := lt.RIDs(); len(got) != 3 || got[0] != "q" || got[2] != "f" {
		t.Fatalf("rids %v", got)
	}
	waitFor(t, bob, "simulcast frames at bob", func() bool {
		v, _ := rb.counts(lt.SID())
		return v >= 30
	})
	if n := rb.corrupt.Load(); n > 0 {
		t.Errorf("%d corrupt frames: %v", n, rb.errs[:min(len(rb.errs), 5)])
	}
	info := lt.Info()
	if !info.GetSimulcast() && len(info.GetLayers()) != 3 {
		t.Errorf("server track info does not describe simulcast: %v", info)
	}
	rb.mu.Lock()
	t.Logf("frames at bob by layer (0=q, 1=h, 2=f): %v; PLIs per layer at alice: %d", rb.layers, lt.PLICount())
	rb.mu.Unlock()
}

func TestDataMessages(t *testing.T) {
	n := startNode(t)
	alice := join(t, n, "data", "alice")
	bob := join(t, n, "data", "bob")
	carol := join(t, n, "data", "carol")
	type inbox struct {
		mu   sync.Mutex
		msgs []client.DataPacket
	}
	boxes := map[string]*inbox{}
	for _, c := range []*client.Client{alice, bob, carol} {
		b := &inbox{}
		boxes[c.Identity()] = b
		c.OnData(func(p client.DataPacket) {
			b.mu.Lock()
			b.msgs = append(b.msgs, p)
			b.mu.Unlock()
		})
	}
	got := func(who, topic string) []client.DataPacket {
		b := boxes[who]
		b.mu.Lock()
		defer b.mu.Unlock()
		var out []client.DataPacket
		for _, m := range b.msgs {
			if m.Topic == topic {
				out = append(out, m)
			}
		}
		return out
	}
	for _, c := range []*client.Client{alice, bob, carol} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		if err := c.WaitReady(ctx); err != nil {
			cancel()
			t.Fatalf("%s not ready: %v", c.Identity(), err)
		}
		cancel()
	}

	// Broadcast, reliable: everyone but the sender, stamped with the sender.
	if err := alice.SendData([]byte("hello all"), client.Reliable, "chat"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, bob, "broadcast at bob and carol", func() bool {
		return len(got("bob", "chat")) == 1 && len(got("carol", "chat")) == 1
	})
	m := got("bob", "chat")[0]
	if string(m.Payload) != "hello all" || m.ParticipantIdentity != "alice" || m.ParticipantSID != alice.SID() || m.Kind != client.Reliable {
		t.Errorf("bob got %+v", m)
	}

	// Addressed to bob only; then a broadcast marker on the same ordered channel: once carol
	// has the marker, the private message would have arrived before it if it were coming.
	if err := alice.SendData([]byte("psst"), client.Reliable, "private", "bob"); err != nil {
		t.Fatal(err)
	}
	if err := alice.SendData([]byte("marker"), client.Reliable, "marker"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, bob, "markers", func() bool {
		return len(got("bob", "marker")) == 1 && len(got("carol", "marker")) == 1
	})
	if p := got("bob", "private"); len(p) != 1 || string(p[0].Payload) != "psst" {
		t.Errorf("bob's private messages: %+v", p)
	}
	if p := got("carol", "private"); len(p) != 0 {
		t.Errorf("carol received a message addressed to bob: %+v", p)
	}
	if p := got("alice", "private"); len(p) != 0 {
		t.Errorf("the sender received its own message: %+v", p)
	}

	// Lossy.
	if err := bob.SendData([]byte{0, 1, 2, 255}, client.Lossy, "telemetry"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, alice, "lossy message at alice", func() bool { return len(got("alice", "telemetry")) == 1 })
	if m := got("alice", "telemetry")[0]; m.Kind != client.Lossy || string(m.Payload) != "\x00\x01\x02\xff" || m.ParticipantIdentity != "bob" {
		t.Errorf("alice got %+v", m)
	}

	if err := alice.SendData(make([]byte, 60<<10), client.Reliable, "big"); !errors.Is(err, client.ErrDataTooLarge) {
		t.Errorf("oversize message: err = %v, want ErrDataTooLarge", err)
	}
}

func TestJoinErrors(t *testing.T) {
	n := startNode(t)
	expired := func() string {
		now := time.Now()
		g := auth.VideoGrant{Room: "r", RoomJoin: true}
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, auth.Claims{
			RegisteredClaims: jwt.RegisteredClaims{
				Issuer: testnode.Key, Subject: "late",
				IssuedAt:  jwt.NewNumericDate(now.Add(-2 * time.Hour)),
				ExpiresAt: jwt.NewNumericDate(now.Add(-time.Hour)),
			},
			Video: &g,
		}).SignedString([]byte(testnode.Secret))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	wrongSecret := func() string {
		tok, err := auth.Mint(testnode.Key, "ffffffffffffffffffffffffffffffffffff", auth.TokenParams{
			Identity: "mallory", Grant: auth.VideoGrant{Room: "r", RoomJoin: true},
		})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tests := []struct {
		name  string
		token string
		want  cascadev1.ErrorCode
	}{
		{"expired", expired(), cascadev1.ErrorCode_ERROR_CODE_TOKEN_EXPIRED},
		{"wrong secret", wrongSecret(), cascadev1.ErrorCode_ERROR_CODE_TOKEN_INVALID},
		{"garbage", "not-a-jwt", cascadev1.ErrorCode_ERROR_CODE_TOKEN_INVALID},
		{"missing", "", cascadev1.ErrorCode_ERROR_CODE_TOKEN_MISSING},
		{"no join grant", mint(t, "r", "x", func(g *auth.VideoGrant) { g.RoomJoin = false }), cascadev1.ErrorCode_ERROR_CODE_ROOM_NOT_ALLOWED},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := client.Join(ctx, url(n), tc.token, client.WithIncludeLoopback())
			if err == nil {
				_ = c.Close()
				t.Fatal("join succeeded")
			}
			var se *client.SignalError
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T) is not a *client.SignalError", err, err)
			}
			if se.Code != tc.want || client.ErrorCode(err) != tc.want {
				t.Fatalf("code %v, want %v (%v)", se.Code, tc.want, err)
			}
			if !errors.Is(err, &client.SignalError{Code: tc.want}) {
				t.Fatalf("errors.Is by code failed for %v", err)
			}
		})
	}
}

func TestPublishWithoutGrant(t *testing.T) {
	n := startNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Join(ctx, url(n), mint(t, "nopub", "viewer", func(g *auth.VideoGrant) { g.CanPublish = auth.Bool(false) }),
		client.WithIncludeLoopback(), client.WithLogger(testLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tr, err := synth.NewVP8Track("cam", "s")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.PublishTrack(tr, client.TrackOptions{Source: cascadev1.TrackSource_TRACK_SOURCE_CAMERA})
	if code := client.ErrorCode(err); code != cascadev1.ErrorCode_ERROR_CODE_PERMISSION_DENIED {
		t.Fatalf("publish without grant: %v (code %v)", err, code)
	}
	if len(c.LocalTracks()) != 0 {
		t.Fatal("refused track still listed")
	}
}

func TestManualSubscriptionMuteUnpublish(t *testing.T) {
	n := startNode(t)
	alice := join(t, n, "manual", "alice")
	bob := join(t, n, "manual", "bob", client.WithAutoSubscribe(false))
	rb := newReceiver(bob)
	var muted, unpublished atomic.Int64
	bob.OnTrackMuted(func(_ string, _ *cascadev1.TrackInfo, m bool) {
		if m {
			muted.Add(1)
		}
	})
	bob.OnTrackUnpublished(func(string, *cascadev1.TrackInfo) { unpublished.Add(1) })
	m := publishAV(t, alice, 127)
	waitFor(t, bob, "alice's tracks announced", func() bool {
		p := bob.ParticipantByIdentity("alice")
		return p != nil && len(p.GetTracks()) == 2
	})
	// Not subscribed: nothing arrives.
	time.Sleep(300 * time.Millisecond) // give a wrongly forwarded track time to show up
	if v, _ := rb.counts(m.vt.SID()); v != 0 {
		t.Fatalf("received %d frames without subscribing", v)
	}
	if err := bob.Subscribe(m.vt.SID()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, bob, "frames after subscribing", func() bool { v, _ := rb.counts(m.vt.SID()); return v >= 10 })
	if err := bob.Unsubscribe(m.vt.SID()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, bob, "video to stop after unsubscribing", func() bool { return trackEnded(rb, m.vt.SID()) })

	if err := bob.Subscribe("TR_does_not_exist"); client.ErrorCode(err) != cascadev1.ErrorCode_ERROR_CODE_TRACK_NOT_FOUND {
		t.Errorf("subscribing to an unknown track: %v", err)
	}

	if err := m.at.Mute(true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, bob, "mute event", func() bool { return muted.Load() == 1 })
	if _, tr := bob.Track(m.at.SID()); tr == nil || !tr.GetMuted() {
		t.Errorf("bob's view of the muted track: %v", tr)
	}
	m.opus.Stop()
	if err := m.at.Unpublish(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, bob, "unpublish event", func() bool { return unpublished.Load() == 1 })
	if p := bob.ParticipantByIdentity("alice"); len(p.GetTracks()) != 1 {
		t.Errorf("alice still lists %d tracks at bob", len(p.GetTracks()))
	}
	if len(alice.LocalTracks()) != 1 {
		t.Errorf("alice has %d local tracks after unpublishing one", len(alice.LocalTracks()))
	}
}

// trackEnded reports whether the receiver's frame count has stopped growing for 300 ms.
func trackEnded(r *receiver, sid string) bool {
	before, _ := r.counts(sid)
	time.Sleep(300 * time.Millisecond)
	after, _ := r.counts(sid)
	return after == before
}

func TestDisconnects(t *testing.T) {
	n := startNode(t)
	alice := join(t, n, "bye", "alice")
	bob := join(t, n, "bye", "bob")
	var left atomic.Value
	alice.OnParticipantLeft(func(p *cascadev1.ParticipantInfo, _ cascadev1.LeaveReason) { left.Store(p.GetIdentity()) })
	waitFor(t, alice, "bob in alice's room", func() bool { return alice.ParticipantByIdentity("bob") != nil })

	disc := make(chan *client.DisconnectError, 1)
	bob.OnDisconnected(func(e *client.DisconnectError) { disc <- e })
	if err := bob.Leave(); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-disc:
		if e.Reason != cascadev1.LeaveReason_LEAVE_REASON_CLIENT_REQUEST {
			t.Errorf("bob's disconnect reason %v", e.Reason)
		}
	default:
		t.Error("OnDisconnected had not run when Leave returned")
	}
	if !errors.Is(bob.Err(), client.ErrClosed) {
		t.Errorf("bob.Err() = %v", bob.Err())
	}
	if err := bob.SendData([]byte("x"), client.Reliable, ""); !errors.Is(err, client.ErrClosed) {
		t.Errorf("SendData after Leave: %v", err)
	}
	waitFor(t, alice, "bob gone from alice's room", func() bool { return alice.ParticipantByIdentity("bob") == nil })
	waitFor(t, alice, "OnParticipantLeft for bob", func() bool { return left.Load() == "bob" })

	// The server going away ends alice's session too.
	aliceDone := make(chan *client.DisconnectError, 1)
	alice.OnDisconnected(func(e *client.DisconnectError) { aliceDone <- e })
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-aliceDone:
		t.Logf("alice disconnected: %v", e)
	case <-time.After(10 * time.Second):
		t.Fatal("alice not disconnected 10 s after the node closed")
	}
	<-alice.Done()
}

// TestCloseFromCallback: Close inside a callback must not deadlock.
func TestCloseFromCallback(t *testing.T) {
	n := startNode(t)
	alice := join(t, n, "cb", "alice")
	bob := join(t, n, "cb", "bob")
	_ = bob
	closed := make(chan struct{})
	alice.OnParticipantJoined(func(*cascadev1.ParticipantInfo) {
		_ = alice.Close()
		close(closed)
	})
	carol := join(t, n, "cb", "carol")
	_ = carol
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close from a callback did not return")
	}
	select {
	case <-alice.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("teardown did not finish")
	}
}
