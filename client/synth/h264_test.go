package synth

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// collectH264 runs an H.264 stream for n frames, 1/fps apart, and returns copies of every
// packet by frame.
func collectH264(t testing.TB, s *H264Stream, n int, keyAt map[int]bool) ([][]rtp.Packet, []FrameHeader) {
	t.Helper()
	return collectStream(t, s, s.cfg.FPS, n, keyAt)
}

func TestH264StreamPackets(t *testing.T) {
	for _, cfg := range []H264Config{
		{},
		{Bitrate: 1_700_000, Width: 1280, Height: 720},
		{Bitrate: 150_000, Width: 320, Height: 180},
		{MaxPayloadSize: 300},
	} {
		s, err := NewH264Stream(cfg)
		if err != nil {
			t.Fatal(err)
		}
		c := s.Config()
		frames, hdrs := collectH264(t, s, 2*c.FPS, map[int]bool{7: true})
		var lastSeq uint16
		first := true
		for i, pkts := range frames {
			for j, p := range pkts {
				if len(p.Payload) > c.MaxPayloadSize {
					t.Fatalf("%+v frame %d packet %d: %d bytes over %d", cfg, i, j, len(p.Payload), c.MaxPayloadSize)
				}
				if !first && p.SequenceNumber != lastSeq+1 {
					t.Fatalf("frame %d packet %d: seq %d after %d", i, j, p.SequenceNumber, lastSeq)
				}
				first, lastSeq = false, p.SequenceNumber
				if p.Marker != (j == len(pkts)-1) || p.Timestamp != pkts[0].Timestamp {
					t.Fatalf("frame %d packet %d: marker %v ts %d", i, j, p.Marker, p.Timestamp)
				}
				info, err := ParseH264Packet(p.Payload)
				if err != nil {
					t.Fatalf("frame %d packet %d: %v", i, j, err)
				}
				if info.AccessUnitStart != (j == 0) {
					t.Fatalf("frame %d packet %d: access unit start %v", i, j, info.AccessUnitStart)
				}
				// A key frame opens with SPS and PPS in a STAP-A, which the SFU's keyframe
				// detection recognises; its IDR slice starts in the next packet.
				if hdrs[i].Keyframe && j == 0 && (info.NALType != h264STAPA || !info.Keyframe) {
					t.Fatalf("key frame %d: first packet %+v", i, info)
				}
				if !hdrs[i].Keyframe && info.Keyframe {
					t.Fatalf("delta frame %d packet %d reads as a key frame", i, j)
				}
				if info.HasHeader && (info.Header.FrameNumber != uint32(i) || info.Header.Keyframe != hdrs[i].Keyframe) {
					t.Fatalf("frame %d: header %+v", i, info.Header)
				}
			}
		}
		if !hdrs[0].Keyframe || !hdrs[7].Keyframe || hdrs[8].Keyframe {
			t.Fatalf("key frames: %v %v %v", hdrs[0].Keyframe, hdrs[7].Keyframe, hdrs[8].Keyframe)
		}
	}
}

func TestH264Assembler(t *testing.T) {
	s, err := NewH264Stream(H264Config{Bitrate: 2_000_000, KeyframeInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	frames, hdrs := collectH264(t, s, 40, nil)
	tests := []struct {
		name                        string
		mutate                      func(f [][]rtp.Packet) []rtp.Packet
		wantFrames, wantCorrupt, in int
	}{
		{"in order", func(f [][]rtp.Packet) []rtp.Packet { return flatten(f) }, 40, 0, 0},
		{"reordered", func(f [][]rtp.Packet) []rtp.Packet {
			out := flatten(f)
			r := rand.New(rand.NewPCG(3, 4))
			for i := 0; i+1 < len(out); i += 3 {
				j := i + r.IntN(2)
				out[i], out[j] = out[j], out[i]
			}
			return out
		}, 40, 0, 0},
		{"duplicated", func(f [][]rtp.Packet) []rtp.Packet {
			var out []rtp.Packet
			for _, p := range flatten(f) {
				out = append(out, p, p)
			}
			return out
		}, 40, 0, 0},
		{"parameter sets lost", func(f [][]rtp.Packet) []rtp.Packet {
			f[30] = f[30][1:] // frame 30 is a key frame: drop its STAP-A
			return flatten(f)
		}, 39, 0, 1},
		{"fragment lost", func(f [][]rtp.Packet) []rtp.Packet {
			f[5] = append(f[5][:1:1], f[5][2:]...)
			return flatten(f)
		}, 39, 0, 1},
		{"payload corrupted", func(f [][]rtp.Packet) []rtp.Packet {
			p := f[9][len(f[9])-1]
			p.Payload[len(p.Payload)-1] ^= 0x10
			return flatten(f)
		}, 40, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var a H264Assembler
			got := 0
			for _, p := range tc.mutate(clonePackets(frames)) {
				f, ok, err := a.Push(&p)
				if !ok {
					if err != nil {
						t.Fatal(err)
					}
					continue
				}
				got++
				if err != nil {
					if !errors.Is(err, ErrCorrupt) {
						t.Fatalf("frame: %v", err)
					}
					continue
				}
				n := f.Header.FrameNumber
				if f.Keyframe != hdrs[n].Keyframe || f.Header.SendTime != hdrs[n].SendTime {
					t.Fatalf("frame %d: %+v, want %+v", n, f.Header, hdrs[n])
				}
			}
			a.Flush()
			st := a.Stats()
			if got != tc.wantFrames || int(st.Corrupt) != tc.wantCorrupt || int(st.Incomplete) != tc.in {
				t.Fatalf("frames %d corrupt %d incomplete %d; want %d %d %d", got, st.Corrupt, st.Incomplete, tc.wantFrames, tc.wantCorrupt, tc.in)
			}
		})
	}
}

func TestH264AssemblerRejectsOtherPayloads(t *testing.T) {
	var a H264Assembler
	for _, payload := range [][]byte{{}, {0x09, 0x10}, {0x66, 0x05}} {
		p := &rtp.Packet{Header: rtp.Header{SequenceNumber: 1, Marker: true}, Payload: payload}
		if _, ok, err := a.Push(p); ok || err == nil {
			t.Errorf("payload % x: ok %v err %v, want an error", payload, ok, err)
		}
	}
}

func TestH264SimulcastSource(t *testing.T) {
	var q, h, f recorder
	s, err := NewH264SimulcastSource(DefaultSimulcastLayers(&q, &h, &f), H264Config{FPS: 60})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	waitFor(t, func() bool { return s.Stats("f").Frames >= 6 })
	s.RequestKeyframe("q")
	before := s.Stats("q").Keyframes
	waitFor(t, func() bool { return s.Stats("q").Keyframes > before })
	// Dynacast: a paused layer sends nothing; resumed, it starts with a key frame.
	s.SetLayerActive("f", false)
	paused := s.Stats("f").Frames
	waitFor(t, func() bool { return s.Stats("q").Frames >= paused+6 })
	if got := s.Stats("f").Frames; got > paused+1 { // one tick may have been under way
		t.Fatalf("f sent %d frames while paused", got-paused)
	}
	keys := s.Stats("f").Keyframes
	s.SetLayerActive("f", true)
	waitFor(t, func() bool { return s.Stats("f").Keyframes > keys })
	s.Stop()
	for i, r := range []*recorder{&q, &h, &f} {
		var asm H264Assembler
		frames := 0
		for _, p := range r.pkts {
			fr, ok, err := asm.Push(&p)
			if !ok {
				continue
			}
			if err != nil {
				t.Fatalf("layer %d: %v", i, err)
			}
			if fr.Header.Layer != uint8(i) {
				t.Fatalf("layer %d: header says %d", i, fr.Header.Layer)
			}
			frames++
		}
		if frames < 6 {
			t.Fatalf("layer %d: %d frames", i, frames)
		}
	}
	if _, err := NewLayeredSource(0, nil); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("fps 0: %v", err)
	}
}

func BenchmarkH264Assembler(b *testing.B) {
	s, _ := NewH264Stream(H264Config{Bitrate: 1_700_000})
	frames, _ := collectH264(b, s, 90, nil)
	pkts := flatten(frames)
	var a H264Assembler
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		// Replaying the same 90 frames needs fresh timestamps for the finished-frame check.
		p := pkts[i%len(pkts)]
		p.Timestamp += uint32(i / len(pkts) * 1_000_000)
		if _, _, err := a.Push(&p); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
