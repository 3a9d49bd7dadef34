package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"

	"github.com/cascade-sfu/cascade/auth"
	"github.com/cascade-sfu/cascade/client"
	"github.com/cascade-sfu/cascade/client/synth"
	"github.com/cascade-sfu/cascade/node"
	cascadev1 "github.com/cascade-sfu/cascade/proto/cascade/v1"
)

const (
	e2eKey    = "E2EKEY"
	e2eSecret = "e2e-secret-0123456789abcdef0123456789"
)

// noLeaks checks, after every other cleanup of the test has run, that the test left no
// goroutine behind.
func noLeaks(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

func e2eLogger() *slog.Logger {
	level := slog.LevelError + 4 // pion reports routine teardown as errors
	if os.Getenv("CASCADE_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

func startE2ENode(t *testing.T, tweak func(*node.Config)) *node.Node {
	t.Helper()
	cfg := node.Config{Bind: "127.0.0.1", IncludeLoopback: true, Keys: auth.Keys{e2eKey: e2eSecret}}
	if tweak != nil {
		tweak(&cfg)
	}
	n, err := node.New(cfg, e2eLogger().With("side", "sfu"))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

func e2eToken(t *testing.T, room, identity string) string {
	t.Helper()
	tok, err := auth.Mint(e2eKey, e2eSecret, auth.TokenParams{Identity: identity, Name: identity,
		Grant: auth.VideoGrant{Room: room, RoomJoin: true}})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// peer is a Go participant that checks everything it receives.
type peer struct {
	t    *testing.T
	name string
	c    *client.Client

	mu          sync.Mutex
	streams     map[string]*stream // by track sid
	left        map[string]bool    // identities seen leaving
	unpublished map[string]bool    // track sids seen going away
	firstVideo  time.Time          // when the first complete remote video frame arrived
}

// stream is what one peer received of one remote track.
type stream struct {
	kind      webrtc.RTPCodecType
	publisher string
	seqs      map[uint64]bool
	unwrap    uint64
	started   bool
	packets   int
	frames    int // complete, verified video frames
	audio     int // verified audio packets
	corrupt   int
	ended     bool
}

func joinPeer(t *testing.T, n *node.Node, room, name string, opts ...client.Option) *peer {
	t.Helper()
	p := &peer{t: t, name: name, streams: map[string]*stream{}, left: map[string]bool{}, unpublished: map[string]bool{}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts = append([]client.Option{client.WithIncludeLoopback(), client.WithLogger(e2eLogger().With("side", name)),
		client.WithClientName("e2e")}, opts...)
	c, err := client.Join(ctx, "ws://"+n.HTTPAddr(), e2eToken(t, room, name), opts...)
	if err != nil {
		t.Fatalf("%s: join: %v", name, err)
	}
	p.c = c
	c.OnTrack(p.onTrack)
	c.OnParticipantLeft(func(pi *cascadev1.ParticipantInfo, _ cascadev1.LeaveReason) {
		p.mu.Lock()
		p.left[pi.GetIdentity()] = true
		p.mu.Unlock()
	})
	c.OnTrackUnpublished(func(_ string, ti *cascadev1.TrackInfo) {
		p.mu.Lock()
		p.unpublished[ti.GetSid()] = true
		p.mu.Unlock()
	})
	t.Cleanup(func() { _ = c.Close() })
	return p
}

func (p *peer) onTrack(rt *client.RemoteTrack) {
	s := &stream{kind: rt.Kind(), publisher: rt.ParticipantIdentity, seqs: map[uint64]bool{}}
	p.mu.Lock()
	p.streams[rt.TrackSID] = s
	p.mu.Unlock()
	var asm synth.Assembler
	for {
		pkt, err := rt.ReadRTP()
		if err != nil {
			p.mu.Lock()
			s.ended = true
			p.mu.Unlock()
			return
		}
		p.mu.Lock()
		s.record(pkt.SequenceNumber)
		if s.kind == webrtc.RTPCodecTypeAudio {
			if _, err := synth.VerifyOpusPacket(pkt.Payload); err != nil {
				s.corrupt++
			} else {
				s.audio++
			}
		}
		p.mu.Unlock()
		if s.kind != webrtc.RTPCodecTypeVideo {
			continue
		}
		_, ok, err := asm.Push(pkt)
		if !ok {
			continue
		}
		p.mu.Lock()
		if err != nil {
			s.corrupt++
		} else {
			s.frames++
			if p.firstVideo.IsZero() {
				p.firstVideo = time.Now()
			}
		}
		p.mu.Unlock()
	}
}

// record notes a sequence number, extended across wrap-around.
func (s *stream) record(seq uint16) {
	if !s.started {
		s.started = true
		s.unwrap = 1<<16 | uint64(seq)
	} else {
		ext := uint64(int64(s.unwrap) + int64(int16(seq-uint16(s.unwrap))))
		if ext > s.unwrap {
			s.unwrap = ext
		}
		s.seqs[ext] = true
		s.packets++
		return
	}
	s.seqs[s.unwrap] = true
	s.packets++
}

// gaps counts sequence numbers never received between the first and the last.
func (s *stream) gaps() int {
	if len(s.seqs) == 0 {
		return 0
	}
	keys := make([]uint64, 0, len(s.seqs))
	for k := range s.seqs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return int(keys[len(keys)-1]-keys[0]+1) - len(keys)
}

// snapshot returns a copy of the streams from publisher (all publishers if "").
func (p *peer) byPublisher(publisher string) []stream {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []stream
	for _, s := range p.streams {
		if publisher == "" || s.publisher == publisher {
			cp := *s
			cp.seqs = nil
			out = append(out, cp)
		}
	}
	return out
}

// receiving reports whether p gets video frames and audio from each of publishers.
func (p *peer) receiving(minFrames, minAudio int, publishers ...string) bool {
	for _, pub := range publishers {
		var v, a bool
		for _, s := range p.byPublisher(pub) {
			v = v || s.kind == webrtc.RTPCodecTypeVideo && s.frames >= minFrames
			a = a || s.kind == webrtc.RTPCodecTypeAudio && s.audio >= minAudio
		}
		if !v || !a {
			return false
		}
	}
	return true
}

func (p *peer) describe() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.name + ":"
	for sid, s := range p.streams {
		out += fmt.Sprintf(" [%s from %s %s: pkts=%d frames=%d audio=%d corrupt=%d gaps=%d ended=%v]",
			sid, s.publisher, s.kind, s.packets, s.frames, s.audio, s.corrupt, s.gaps(), s.ended)
	}
	return out
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, timeout time.Duration, cond func() bool, describe ...func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			msg := "timed out waiting for " + what
			for _, d := range describe {
				msg += "\n  " + d()
			}
			t.Fatal(msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// avSource is a peer's synthetic camera and microphone.
type avSource struct {
	video *synth.VP8Source
	audio *synth.OpusSource
	vt    *client.LocalTrack
	at    *client.LocalTrack
}

func (p *peer) publishAV(level int) *avSource {
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
	src := &avSource{}
	if src.video, err = synth.NewVP8Source(vtr, synth.VP8Config{FPS: 30, Bitrate: 300_000, KeyframeInterval: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if src.audio, err = synth.NewOpusSource(atr, synth.OpusConfig{}); err != nil {
		t.Fatal(err)
	}
	if src.vt, err = p.c.PublishTrack(vtr, client.TrackOptions{Name: "camera", Source: cascadev1.TrackSource_TRACK_SOURCE_CAMERA, Width: 640, Height: 360}); err != nil {
		t.Fatalf("%s: publish video: %v", p.name, err)
	}
	src.vt.OnKeyframeRequest(func(string) { src.video.RequestKeyframe() })
	if src.at, err = p.c.PublishTrack(atr, client.TrackOptions{Name: "mic", Source: cascadev1.TrackSource_TRACK_SOURCE_MICROPHONE}); err != nil {
		t.Fatalf("%s: publish audio: %v", p.name, err)
	}
	src.audio.SetAudioLevelExtensionID(src.at.HeaderExtensionID(client.AudioLevelURI))
	src.audio.SetLevel(level, level < 127)
	src.video.Start()
	src.audio.Start()
	t.Cleanup(src.stop)
	return src
}

func (s *avSource) stop() {
	s.video.Stop()
	s.audio.Stop()
}
