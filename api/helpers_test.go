package api_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cascade-sfu/cascade/api/apiclient"
	"github.com/cascade-sfu/cascade/auth"
	"github.com/cascade-sfu/cascade/client"
	"github.com/cascade-sfu/cascade/client/synth"
	"github.com/cascade-sfu/cascade/internal/testnode"
	"github.com/cascade-sfu/cascade/node"
	pb "github.com/cascade-sfu/cascade/proto/cascade/v1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// harness is a node on loopback and an all-rooms admin client of its gRPC API.
type harness struct {
	t   *testing.T
	n   *node.Node
	api *apiclient.Client
}

func start(t *testing.T, tweak func(*node.Config)) *harness {
	t.Helper()
	n := testnode.Start(t, nil, tweak)
	c, err := apiclient.Dial(n.GRPCAddr(), apiclient.WithAPIKey(testnode.Key, testnode.Secret))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &harness{t: t, n: n, api: c}
}

// ctx is a context for one call.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return c
}

// dialAs makes a client of the node's API that sends tok.
func (h *harness) dialAs(tok string) pb.RoomServiceClient {
	h.t.Helper()
	c, err := apiclient.Dial(h.n.GRPCAddr(), apiclient.WithToken(tok))
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { _ = c.Close() })
	return c
}

// wantCode fails unless err is a gRPC status with code whose message contains every one of
// words.
func wantCode(t *testing.T, err error, code codes.Code, words ...string) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != code {
		t.Fatalf("got %v, want %v", err, code)
	}
	for _, w := range words {
		if !strings.Contains(st.Message(), w) {
			t.Fatalf("%v: message %q does not mention %q", code, st.Message(), w)
		}
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// peer is a connected Go participant that records what it is told and counts the packets
// of each track it receives.
type peer struct {
	t    *testing.T
	name string
	c    *client.Client

	mu          sync.Mutex
	packets     map[string]int  // by track sid
	ended       map[string]bool // remote tracks whose reads failed
	unpublished map[string]bool // track sids seen going away
	left        map[string]pb.LeaveReason
	updates     []*pb.ParticipantInfo
	muted       map[string]bool
	data        []client.DataPacket
}

func (h *harness) join(room, identity string, grant func(*auth.VideoGrant), opts ...client.Option) *peer {
	t := h.t
	t.Helper()
	g := auth.VideoGrant{Room: room, RoomJoin: true}
	if grant != nil {
		grant(&g)
	}
	tok := testnode.Mint(t, auth.TokenParams{Identity: identity, Name: identity, Grant: g})
	p := &peer{t: t, name: identity, packets: map[string]int{}, ended: map[string]bool{},
		unpublished: map[string]bool{}, left: map[string]pb.LeaveReason{}, muted: map[string]bool{}}
	c, err := client.Join(ctx(t), "ws://"+h.n.HTTPAddr(), tok, append([]client.Option{client.WithIncludeLoopback()}, opts...)...)
	if err != nil {
		t.Fatalf("%s: join: %v", identity, err)
	}
	p.c = c
	c.OnTrack(p.read)
	c.OnTrackUnpublished(func(_ string, ti *pb.TrackInfo) { p.record(func() { p.unpublished[ti.GetSid()] = true }) })
	c.OnParticipantLeft(func(pi *pb.ParticipantInfo, r pb.LeaveReason) { p.record(func() { p.left[pi.GetIdentity()] = r }) })
	c.OnParticipantUpdated(func(pi *pb.ParticipantInfo) { p.record(func() { p.updates = append(p.updates, pi) }) })
	c.OnTrackMuted(func(_ string, ti *pb.TrackInfo, m bool) { p.record(func() { p.muted[ti.GetSid()] = m }) })
	c.OnData(func(d client.DataPacket) { p.record(func() { p.data = append(p.data, d) }) })
	t.Cleanup(func() { _ = c.Close() })
	if err := c.WaitReady(ctx(t)); err != nil {
		t.Fatalf("%s: not ready: %v", identity, err)
	}
	return p
}

func (p *peer) record(f func()) {
	p.mu.Lock()
	f()
	p.mu.Unlock()
}

func (p *peer) read(rt *client.RemoteTrack) {
	for {
		if _, err := rt.ReadRTP(); err != nil {
			p.record(func() { p.ended[rt.TrackSID] = true })
			return
		}
		p.record(func() { p.packets[rt.TrackSID]++ })
	}
}

// got reports a snapshot test under the peer's lock.
func (p *peer) got(f func() bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return f()
}

// disconnectReason waits for the session to end and returns why.
func (p *peer) disconnectReason() pb.LeaveReason {
	p.t.Helper()
	select {
	case <-p.c.Done():
	case <-time.After(15 * time.Second):
		p.t.Fatalf("%s was not disconnected", p.name)
	}
	var de *client.DisconnectError
	if !errors.As(p.c.Err(), &de) {
		p.t.Fatalf("%s: session ended with %v", p.name, p.c.Err())
	}
	return de.Reason
}

// av is a peer's synthetic camera and microphone.
type av struct {
	video  *synth.VP8Source
	audio  *synth.OpusSource
	vt, at *client.LocalTrack
}

func (p *peer) publishAV() *av {
	t := p.t
	t.Helper()
	vtr, err := synth.NewVP8Track("cam-"+p.name, "av-"+p.name)
	if err != nil {
		t.Fatal(err)
	}
	atr, err := synth.NewOpusTrack("mic-"+p.name, "av-"+p.name)
	if err != nil {
		t.Fatal(err)
	}
	s := &av{}
	if s.video, err = synth.NewVP8Source(vtr, synth.VP8Config{FPS: 30, Bitrate: 300_000, KeyframeInterval: time.Second}); err != nil {
		t.Fatal(err)
	}
	if s.audio, err = synth.NewOpusSource(atr, synth.OpusConfig{}); err != nil {
		t.Fatal(err)
	}
	if s.vt, err = p.c.PublishTrack(vtr, client.TrackOptions{Name: "camera", Source: pb.TrackSource_TRACK_SOURCE_CAMERA, Width: 640, Height: 360}); err != nil {
		t.Fatalf("%s: publish video: %v", p.name, err)
	}
	s.vt.OnKeyframeRequest(func(string) { s.video.RequestKeyframe() })
	if s.at, err = p.c.PublishTrack(atr, client.TrackOptions{Name: "mic", Source: pb.TrackSource_TRACK_SOURCE_MICROPHONE}); err != nil {
		t.Fatalf("%s: publish audio: %v", p.name, err)
	}
	s.audio.SetAudioLevelExtensionID(s.at.HeaderExtensionID(client.AudioLevelURI))
	s.audio.SetLevel(30, true)
	s.video.Start()
	s.audio.Start()
	t.Cleanup(s.stop)
	return s
}

func (s *av) stop() {
	s.video.Stop()
	s.audio.Stop()
}

// receiving waits until p has received at least n packets of every one of sids.
func (p *peer) receiving(n int, sids ...string) {
	p.t.Helper()
	eventually(p.t, p.name+" receiving "+strings.Join(sids, ","), 20*time.Second, func() bool {
		return p.got(func() bool {
			for _, sid := range sids {
				if p.packets[sid] < n {
					return false
				}
			}
			return true
		})
	})
}
