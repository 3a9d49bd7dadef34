package loadtest

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/cascade-sfu/cascade/client/synth"
	cascadev1 "github.com/cascade-sfu/cascade/proto/cascade/v1"
)

func TestSeqTracker(t *testing.T) {
	tests := []struct {
		name                 string
		seqs                 []uint16
		expected, lost, dups uint64
	}{
		{"in order", []uint16{1, 2, 3, 4}, 4, 0, 0},
		{"wraps", []uint16{65534, 65535, 0, 1}, 4, 0, 0},
		{"one missing", []uint16{10, 11, 13, 14}, 5, 1, 0},
		{"repaired late", []uint16{10, 11, 13, 14, 12}, 5, 0, 0},
		{"retransmitted twice", []uint16{10, 11, 12, 11, 11}, 3, 0, 2},
		{"reordered before the first", []uint16{100, 99, 101}, 3, 0, 0},
		{"big jump", []uint16{1, 2, 3000, 3001}, 3001, 2997, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s seqTracker
			for _, q := range tc.seqs {
				s.push(q)
			}
			if s.expected() != tc.expected || s.lost() != tc.lost || s.dups != tc.dups {
				t.Fatalf("expected %d lost %d dups %d; want %d %d %d", s.expected(), s.lost(), s.dups, tc.expected, tc.lost, tc.dups)
			}
		})
	}
}

func TestRenderer(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	f := func(n uint32, layer int, key bool) frameRef { return frameRef{num: n, layer: layer, key: key} }

	t.Run("waits for a keyframe, then shows in order", func(t *testing.T) {
		r := newRenderer()
		r.packet(at(0))
		r.frame(f(5, 0, false), at(0))
		if r.shown != 0 {
			t.Fatal("showed a delta frame before any keyframe")
		}
		if r.tick(at(100)) {
			t.Fatal("asked for a keyframe before giving the SFU time")
		}
		if !r.tick(at(600)) {
			t.Fatal("no keyframe request after 600 ms without one")
		}
		r.frame(f(6, 0, true), at(610))
		r.frame(f(7, 0, false), at(643))
		if r.shown != 2 || r.freezes != 0 {
			t.Fatalf("shown %d freezes %d", r.shown, r.freezes)
		}
	})

	t.Run("a gap filled by a retransmission", func(t *testing.T) {
		r := newRenderer()
		r.frame(f(0, 2, true), at(0))
		r.frame(f(2, 2, false), at(66)) // frame 1 still missing a packet
		r.frame(f(3, 2, false), at(100))
		if r.shown != 1 {
			t.Fatalf("shown %d before the gap filled", r.shown)
		}
		if r.tick(at(150)) {
			t.Fatal("gave up on the gap within the jitter wait")
		}
		r.frame(f(1, 2, false), at(160))
		if r.shown != 4 || r.broken {
			t.Fatalf("shown %d broken %v after the repair", r.shown, r.broken)
		}
	})

	t.Run("an unrepaired gap freezes until a keyframe", func(t *testing.T) {
		r := newRenderer()
		r.frame(f(0, 2, true), at(0))
		r.frame(f(2, 2, false), at(66))
		if !r.tick(at(66 + 200)) {
			t.Fatal("no keyframe request once the jitter wait passed")
		}
		if r.frame(f(3, 2, false), at(300)); r.shown != 1 {
			t.Fatal("showed a frame of a broken picture")
		}
		if r.tick(at(500)) {
			t.Fatal("repeated the keyframe request too soon")
		}
		if !r.tick(at(800)) {
			t.Fatal("no repeated keyframe request")
		}
		r.frame(f(30, 2, true), at(1000))
		if r.shown != 2 || r.freezes != 1 || r.freezeTotal != time.Second {
			t.Fatalf("shown %d freezes %d (%v)", r.shown, r.freezes, r.freezeTotal)
		}
		if r.openFreeze(at(1100)) != 0 || r.openFreeze(at(1400)) != 400*time.Millisecond {
			t.Fatal("open freeze")
		}
	})

	t.Run("layer switches at keyframes", func(t *testing.T) {
		r := newRenderer()
		r.frame(f(0, 0, true), at(0))
		r.frame(f(1, 0, false), at(33))
		r.frame(f(2, 2, true), at(66))
		r.frame(f(3, 2, false), at(100))
		r.frame(f(4, 1, true), at(133))
		if r.switches != 2 || r.layer != 1 || r.shown != 5 {
			t.Fatalf("switches %d layer %d shown %d", r.switches, r.layer, r.shown)
		}
	})

	t.Run("a corrupt frame breaks the picture", func(t *testing.T) {
		r := newRenderer()
		r.frame(f(0, 0, true), at(0))
		if !r.corrupt(at(33)) || !r.broken {
			t.Fatal("corrupt frame did not break the picture")
		}
	})
}

// feed sends packets of a synthetic stream through a trackRecv, dropping the packets drop
// says, and returns the stats.
func feed(t *testing.T, tr *trackRecv, frames [][]rtp.Packet, interval time.Duration, drop func(frame, pkt int) bool) trackStats {
	t.Helper()
	t0 := time.Now()
	for i, pkts := range frames {
		now := t0.Add(time.Duration(i) * interval)
		for j := range pkts {
			if drop != nil && drop(i, j) {
				continue
			}
			p := pkts[j]
			tr.packet(&p, 12+len(p.Payload), now)
		}
		tr.tick(now)
	}
	return tr.snapshot(t0.Add(time.Duration(len(frames))*interval), nil, true)
}

func vp8Frames(t *testing.T, n int) [][]rtp.Packet {
	t.Helper()
	s, err := synth.NewVP8Stream(synth.VP8Config{Bitrate: 1_700_000, Layer: 2, KeyframeInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return clip(n, time.Second/30, s.NextFrame)
}

func h264Frames(t *testing.T, n int) [][]rtp.Packet {
	t.Helper()
	s, err := synth.NewH264Stream(synth.H264Config{Bitrate: 500_000, Layer: 1, KeyframeInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return clip(n, time.Second/30, s.NextFrame)
}

func clip(n int, every time.Duration, next func(now, send time.Time, key bool) ([]rtp.Packet, synth.FrameHeader)) [][]rtp.Packet {
	t0 := time.Now()
	var out [][]rtp.Packet
	for i := 0; i < n; i++ {
		now := t0.Add(time.Duration(i) * every)
		pkts, _ := next(now, now, false)
		cp := make([]rtp.Packet, len(pkts))
		for j, p := range pkts {
			cp[j] = rtp.Packet{Header: p.Header, Payload: bytes.Clone(p.Payload)}
		}
		out = append(out, cp)
	}
	return out
}

func TestTrackRecvVideo(t *testing.T) {
	for _, tc := range []struct {
		name   string
		frames func(*testing.T, int) [][]rtp.Packet
		asm    func() frameAssembler
		layer  int
	}{
		{"vp8", vp8Frames, func() frameAssembler { return &vp8Assembler{} }, 2},
		{"h264", h264Frames, func() frameAssembler { return &h264Assembler{} }, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			frames := tc.frames(t, 90) // 3 s, keyframes at 0, 1 s and 2 s
			var first time.Time
			st := feed(t, newTrackRecv(false, tc.asm(), func(now time.Time) { first = now }), frames, time.Second/30, nil)
			if st.Shown != 90 || st.Corrupt != 0 || st.Lost != 0 || st.Freezes != 0 || first.IsZero() {
				t.Fatalf("clean stream: %+v", st)
			}
			// Everything is on the stream's layer but the very first packet of an H.264
			// stream, a STAP-A that comes before any synthetic header.
			if st.LastLayer != tc.layer || st.LayerBytes[tc.layer]+st.LayerBytes[layerUnknown] != st.Bytes || st.LayerBytes[layerUnknown] > 100 {
				t.Fatalf("layer %d, bytes %v of %d", st.LastLayer, st.LayerBytes, st.Bytes)
			}

			// Lose one packet of frame 40 for good: the picture breaks until the keyframe at
			// frame 60, a freeze of about 20 frames, with a keyframe request.
			st = feed(t, newTrackRecv(false, tc.asm(), nil), frames, time.Second/30, func(f, p int) bool { return f == 40 && p == 1 })
			if st.Lost != 1 || st.Freezes != 1 || st.PLIs == 0 || st.Shown > 72 || st.Shown < 65 {
				t.Fatalf("lost packet: %+v", st)
			}
			if st.FreezeTotal < 600*time.Millisecond || st.FreezeTotal > 800*time.Millisecond {
				t.Fatalf("freeze of %v, want about 20 frames", st.FreezeTotal)
			}
		})
	}
}

func TestTrackRecvAudio(t *testing.T) {
	s, err := synth.NewOpusStream(synth.OpusConfig{})
	if err != nil {
		t.Fatal(err)
	}
	frames := clip(50, 20*time.Millisecond, func(now, send time.Time, _ bool) ([]rtp.Packet, synth.FrameHeader) {
		return []rtp.Packet{*s.NextPacket(send, 1, 0x85)}, synth.FrameHeader{}
	})
	st := feed(t, newTrackRecv(true, nil, nil), frames, 20*time.Millisecond, func(f, _ int) bool { return f == 7 })
	if st.Frames != 49 || st.Lost != 1 || st.LastLayer != layerAudio || st.LayerBytes[layerAudio] != st.Bytes {
		t.Fatalf("%+v", st)
	}
}

func TestLayoutWants(t *testing.T) {
	video := &cascadev1.TrackInfo{Sid: "TR_v", Kind: cascadev1.TrackKind_TRACK_KIND_VIDEO}
	audio := &cascadev1.TrackInfo{Sid: "TR_a", Kind: cascadev1.TrackKind_TRACK_KIND_AUDIO}
	all := Config{Layout: LayoutAll, Layer: "h"}
	speaker := Config{Layout: LayoutSpeaker}
	tests := []struct {
		cfg      Config
		identity string
		track    *cascadev1.TrackInfo
		want     bool
		layer    string
	}{
		{all, "pub-007", video, true, "h"},
		{all, "aud-000", audio, true, ""},
		{speaker, "pub-000", video, true, "f"},
		{speaker, "pub-005", video, true, "q"},
		{speaker, "pub-006", video, false, ""},
		{speaker, "aud-003", audio, true, ""},
		{speaker, "someone", video, false, ""},
	}
	for _, tc := range tests {
		w, ok := tc.cfg.layoutWants(tc.identity, tc.track)
		if ok != tc.want || ok && w.layer != tc.layer {
			t.Errorf("%s %s %s: %v %q, want %v %q", tc.cfg.Layout, tc.identity, tc.track.GetKind(), ok, w.layer, tc.want, tc.layer)
		}
	}
	if n := (&Config{Layout: LayoutSpeaker, Publishers: 4, AudioPublishers: 2}).expectedTracks(); n != 6 {
		t.Errorf("speaker, 4 video + 2 audio: %d tracks", n)
	}
	if n := (&Config{Layout: LayoutSpeaker, Publishers: 9}).expectedTracks(); n != 6 {
		t.Errorf("speaker, 9 video: %d tracks", n)
	}
}

func TestConfigValidate(t *testing.T) {
	tok := func(string, string, bool) (string, error) { return "t", nil }
	good := Config{URL: "ws://127.0.0.1:7700", Token: tok, Publishers: 1, Subscribers: 1}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mut  func(*Config)
		want string
	}{
		{func(c *Config) { c.URL = "" }, "no URL"},
		{func(c *Config) { c.URL = "ftp://x" }, "scheme"},
		{func(c *Config) { c.Token = nil }, "token"},
		{func(c *Config) { c.Publishers = 0 }, "no publishers"},
		{func(c *Config) { c.Codec = "vp9" }, "codec"},
		{func(c *Config) { c.Layout = "grid" }, "layout"},
		{func(c *Config) { c.Layer = "x" }, "layer"},
		{func(c *Config) { c.Duration = time.Millisecond }, "duration"},
		{func(c *Config) { c.Impairment.LossPercent = 101 }, "loss"},
		{func(c *Config) { c.Impairment.BandwidthBps = 100 }, "bandwidth"},
	} {
		c := good
		tc.mut(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v, want an error about %q", err, tc.want)
		}
	}
	for in, want := range map[string]string{
		"ws://h:1/v1/signal": "http://h:1/metrics",
		"wss://h":            "https://h/metrics",
		"http://h:7700":      "http://h:7700/metrics",
	} {
		c := Config{URL: in}
		if got := c.metricsURL(); got != want {
			t.Errorf("metrics URL of %s = %s, want %s", in, got, want)
		}
	}
	if got := (&Config{URL: "ws://h", MetricsURL: "-"}).metricsURL(); got != "" {
		t.Errorf("metrics off: %q", got)
	}
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.5
process_resident_memory_bytes 5.24288e+07
cascade_forwarded_packets_total 1000
cascade_forwarded_bytes_total{node="a"} 600
cascade_forwarded_bytes_total{node="b"} 400
cascade_down_tracks 8
go_goroutines 12
`
	s, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if s.CPUSeconds != 12.5 || s.RSSBytes != 52428800 || s.Forwarded != 1000 || s.ForwardedBytes != 1000 || s.DownTracks != 8 || !s.HasCPU || !s.HasForwarded {
		t.Fatalf("%+v", s)
	}
	if _, err := parseMetrics(strings.NewReader("<html>not metrics</html>\n")); err == nil {
		t.Fatal("an HTML page parsed as metrics")
	}
}
