package synth

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestVP8DescriptorRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		d    VP8Descriptor
		wire []byte
	}{
		{"minimal", VP8Descriptor{Start: true}, []byte{0x10}},
		{"non-reference continuation", VP8Descriptor{NonReference: true, PartitionID: 1}, []byte{0x21}},
		{"7-bit picture id", VP8Descriptor{Start: true, HasPictureID: true, PictureID: 0x55}, []byte{0x90, 0x80, 0x55}},
		{
			"15-bit picture id, tl0picidx, tid",
			VP8Descriptor{
				Start: true, HasPictureID: true, LongPicID: true, PictureID: 0x1234,
				HasTL0PICIDX: true, TL0PICIDX: 0xab, HasTID: true, TID: 2, LayerSync: true,
			},
			[]byte{0x90, 0xe0, 0x92, 0x34, 0xab, 0xa0},
		},
		{
			"keyidx only",
			VP8Descriptor{HasKeyIdx: true, KeyIdx: 17},
			[]byte{0x80, 0x10, 0x11},
		},
		{
			"max picture id",
			VP8Descriptor{HasPictureID: true, LongPicID: true, PictureID: 0x7fff},
			[]byte{0x80, 0x80, 0xff, 0xff},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.d.Size(); got != len(tc.wire) {
				t.Fatalf("Size() = %d, want %d", got, len(tc.wire))
			}
			buf := make([]byte, tc.d.Size())
			if n := tc.d.MarshalTo(buf); n != len(tc.wire) || !bytes.Equal(buf, tc.wire) {
				t.Fatalf("MarshalTo = % x (%d), want % x", buf, n, tc.wire)
			}
			got, n, err := ParseVP8Descriptor(append(tc.wire, 0xee))
			if err != nil {
				t.Fatal(err)
			}
			if n != len(tc.wire) || got != tc.d {
				t.Fatalf("Parse = %+v (%d), want %+v (%d)", got, n, tc.d, len(tc.wire))
			}
		})
	}
}

func TestVP8DescriptorTruncated(t *testing.T) {
	for _, wire := range [][]byte{{}, {0x80}, {0x80, 0x80}, {0x80, 0x80, 0x80}, {0x80, 0x40}, {0x80, 0x20}} {
		if _, _, err := ParseVP8Descriptor(wire); !errors.Is(err, ErrShortPacket) {
			t.Errorf("Parse(% x) error = %v, want ErrShortPacket", wire, err)
		}
	}
}

func TestVP8FrameHeader(t *testing.T) {
	tests := []struct {
		name          string
		key           bool
		firstPart     int
		width, height int
		size          int
	}{
		{"key 1280x720", true, 4000, 1280, 720, 10},
		{"key 320x180", true, 100, 320, 180, 10},
		{"delta", false, 1234, 0, 0, 3},
		{"delta huge first partition", false, 1 << 20, 0, 0, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := make([]byte, 16)
			n := putVP8FrameHeader(b, tc.key, tc.firstPart, tc.width, tc.height)
			if n != tc.size {
				t.Fatalf("size %d, want %d", n, tc.size)
			}
			// P is bit 0 of the first byte: 0 on key frames (RFC 7741 section 4.3).
			if gotP := b[0]&1 == 1; gotP == tc.key {
				t.Fatalf("P bit %v on key=%v", gotP, tc.key)
			}
			fi, err := ParseVP8FrameHeader(b[:n])
			if err != nil {
				t.Fatal(err)
			}
			wantPart := min(tc.firstPart, vp8MaxFirstPartSz)
			if fi.Keyframe != tc.key || !fi.Show || fi.FirstPartSize != wantPart || fi.HeaderSize != n ||
				fi.Width != tc.width || fi.Height != tc.height {
				t.Fatalf("parsed %+v", fi)
			}
		})
	}
}

func TestFrameIntegrity(t *testing.T) {
	mk := func(n uint32, size int) []byte {
		b := make([]byte, size)
		writeFrame(b, FrameHeader{Kind: KindVideo, Layer: 2, FrameNumber: n, SendTime: 1234567890123, Length: uint32(size)})
		return b
	}
	good := mk(42, 1000)
	tests := []struct {
		name    string
		frame   func() []byte
		wantErr error
	}{
		{"intact", func() []byte { return good }, nil},
		{"intact odd size", func() []byte { return mk(7, HeaderSize+13) }, nil},
		{"header only", func() []byte { return mk(7, HeaderSize) }, nil},
		{"flipped body byte", func() []byte { b := bytes.Clone(good); b[500] ^= 0x01; return b }, ErrCorrupt},
		{"flipped last byte", func() []byte { b := bytes.Clone(good); b[len(b)-1] ^= 0x80; return b }, ErrCorrupt},
		{"flipped header byte", func() []byte { b := bytes.Clone(good); b[10] ^= 0x01; return b }, ErrHeaderChecksum},
		{"truncated", func() []byte { return good[:len(good)-1] }, ErrLength},
		{"extended", func() []byte { return append(bytes.Clone(good), 0) }, ErrLength},
		{"other frame's body", func() []byte {
			b := bytes.Clone(good)
			copy(b[HeaderSize:], mk(43, 1000)[HeaderSize:])
			return b
		}, ErrCorrupt},
		{"not synthetic", func() []byte { return make([]byte, 100) }, ErrNotSynthetic},
		{"short", func() []byte { return good[:HeaderSize-1] }, ErrShortPacket},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := VerifyFrame(tc.frame())
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil && (h.Layer != 2 || h.Kind != KindVideo || h.SendTime != 1234567890123) {
				t.Fatalf("header %+v", h)
			}
		})
	}
}

func TestPatternDiffersByFrame(t *testing.T) {
	a, b := make([]byte, 64), make([]byte, 64)
	fillPattern(a, patternSeed(KindVideo, 0, 1))
	fillPattern(b, patternSeed(KindVideo, 0, 2))
	if bytes.Equal(a, b) {
		t.Fatal("frames 1 and 2 have the same pattern")
	}
	fillPattern(b, patternSeed(KindVideo, 1, 1))
	if bytes.Equal(a, b) {
		t.Fatal("layers 0 and 1 have the same pattern")
	}
}

// collect runs a stream for n frames, 1/fps apart, and returns copies of every packet.
func collect(t *testing.T, s *VP8Stream, n int, keyAt map[int]bool) ([][]rtp.Packet, []FrameHeader) {
	t.Helper()
	return collectStream(t, s, s.cfg.FPS, n, keyAt)
}

// collectStream runs s for n frames, 1/fps apart, asking for key frames at the indexes in
// keyAt, and returns copies of every packet by frame.
func collectStream(t testing.TB, s FrameStream, fps, n int, keyAt map[int]bool) ([][]rtp.Packet, []FrameHeader) {
	t.Helper()
	start := time.Unix(1700000000, 0)
	var frames [][]rtp.Packet
	var hdrs []FrameHeader
	for i := 0; i < n; i++ {
		now := start.Add(time.Duration(i) * time.Second / time.Duration(fps))
		pkts, h := s.NextFrame(now, now, keyAt[i])
		cp := make([]rtp.Packet, len(pkts))
		for j, p := range pkts {
			cp[j] = rtp.Packet{Header: p.Header, Payload: bytes.Clone(p.Payload)}
		}
		frames = append(frames, cp)
		hdrs = append(hdrs, h)
	}
	return frames, hdrs
}

func TestVP8StreamPackets(t *testing.T) {
	tests := []struct {
		name string
		cfg  VP8Config
	}{
		{"defaults", VP8Config{}},
		{"high bitrate", VP8Config{Bitrate: 1_700_000, Width: 1280, Height: 720}},
		{"low bitrate", VP8Config{Bitrate: 150_000, Width: 320, Height: 180}},
		{"small mtu", VP8Config{MaxPayloadSize: 500}},
		{"three temporal layers", VP8Config{TemporalLayers: 3}},
		{"two temporal layers", VP8Config{TemporalLayers: 2, FPS: 15}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewVP8Stream(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			cfg := s.Config()
			frames, hdrs := collect(t, s, 2*cfg.FPS, map[int]bool{10: true})
			var lastSeq uint16
			var lastTS uint32
			var lastPic, lastTL0 uint16
			first := true
			for i, pkts := range frames {
				for j, p := range pkts {
					if len(p.Payload) > cfg.MaxPayloadSize {
						t.Fatalf("frame %d packet %d: %d byte payload over %d", i, j, len(p.Payload), cfg.MaxPayloadSize)
					}
					if !first && p.SequenceNumber != lastSeq+1 {
						t.Fatalf("frame %d packet %d: seq %d after %d", i, j, p.SequenceNumber, lastSeq)
					}
					lastSeq = p.SequenceNumber
					if p.Marker != (j == len(pkts)-1) {
						t.Fatalf("frame %d packet %d: marker %v", i, j, p.Marker)
					}
					info, err := ParseVP8Packet(p.Payload)
					if err != nil {
						t.Fatalf("frame %d packet %d: %v", i, j, err)
					}
					d := info.Descriptor
					if d.Start != (j == 0) || !d.HasPictureID || !d.LongPicID || !d.HasTL0PICIDX || !d.HasTID {
						t.Fatalf("frame %d packet %d: descriptor %+v", i, j, d)
					}
					if j == 0 {
						if !info.HasHeader || info.Header.FrameNumber != uint32(i) || info.Keyframe != hdrs[i].Keyframe {
							t.Fatalf("frame %d: first packet info %+v", i, info)
						}
						if !first {
							if d.PictureID != (lastPic+1)&0x7fff {
								t.Fatalf("frame %d: picture id %d after %d", i, d.PictureID, lastPic)
							}
							wantTL0 := lastTL0
							if d.TID == 0 {
								wantTL0 = uint16(uint8(lastTL0 + 1))
							}
							if uint16(d.TL0PICIDX) != wantTL0 {
								t.Fatalf("frame %d (tid %d): tl0picidx %d after %d", i, d.TID, d.TL0PICIDX, lastTL0)
							}
							if int32(p.Timestamp-lastTS) <= 0 {
								t.Fatalf("frame %d: timestamp %d after %d", i, p.Timestamp, lastTS)
							}
						}
						lastPic, lastTL0, lastTS = d.PictureID, uint16(d.TL0PICIDX), p.Timestamp
						if hdrs[i].Keyframe && d.TID != 0 {
							t.Fatalf("frame %d: key frame on temporal layer %d", i, d.TID)
						}
						if int(d.TID) >= cfg.TemporalLayers {
							t.Fatalf("frame %d: tid %d with %d layers", i, d.TID, cfg.TemporalLayers)
						}
					} else if p.Timestamp != lastTS {
						t.Fatalf("frame %d packet %d: timestamp changed within frame", i, j)
					}
					first = false
				}
			}
		})
	}
}

func TestVP8StreamKeyframes(t *testing.T) {
	s, err := NewVP8Stream(VP8Config{FPS: 30, Bitrate: 600_000, KeyframeInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	frames, hdrs := collect(t, s, 90, map[int]bool{45: true})
	var keys []int
	var keyBytes, deltaBytes, deltas int
	total := 0
	for i, pkts := range frames {
		size := 0
		for _, p := range pkts {
			size += len(p.Payload)
		}
		total += size
		if hdrs[i].Keyframe {
			keys = append(keys, i)
			keyBytes += size
			if !IsVP8Keyframe(pkts[0].Payload) {
				t.Fatalf("frame %d: key frame without P=0", i)
			}
		} else {
			deltas++
			deltaBytes += size
			if IsVP8Keyframe(pkts[0].Payload) {
				t.Fatalf("frame %d: delta frame with P=0", i)
			}
		}
		for _, p := range pkts[1:] {
			if IsVP8Keyframe(p.Payload) {
				t.Fatalf("frame %d: continuation packet reads as a key frame start", i)
			}
		}
	}
	// Periodic at 0, 30, 60, plus the requested one at 45 (which does not move the schedule
	// less than an interval: the next periodic key frame is one interval after the last key).
	want := []int{0, 30, 45, 75}
	if len(keys) != len(want) {
		t.Fatalf("key frames at %v, want %v", keys, want)
	}
	for i := range want {
		if keys[i] != want[i] {
			t.Fatalf("key frames at %v, want %v", keys, want)
		}
	}
	avgKey := keyBytes / len(keys)
	avgDelta := deltaBytes / deltas
	if avgKey < 3*avgDelta {
		t.Fatalf("key frames average %d bytes, delta frames %d: want several times larger", avgKey, avgDelta)
	}
	// Three seconds at 600 kbit/s is 225 kB; allow the extra requested key frame and wobble.
	if total < 200_000 || total > 280_000 {
		t.Fatalf("%d bytes in 3 s at 600 kbit/s", total)
	}
}

func TestAssembler(t *testing.T) {
	s, err := NewVP8Stream(VP8Config{Bitrate: 2_000_000, KeyframeInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	frames, hdrs := collect(t, s, 40, nil)
	tests := []struct {
		name           string
		mutate         func(frames [][]rtp.Packet) []rtp.Packet
		wantFrames     int
		wantCorrupt    int
		wantIncomplete int
	}{
		{"in order", func(f [][]rtp.Packet) []rtp.Packet { return flatten(f) }, 40, 0, 0},
		{"reordered within frames", func(f [][]rtp.Packet) []rtp.Packet {
			out := flatten(f)
			r := rand.New(rand.NewPCG(1, 2))
			for i := 0; i+1 < len(out); i += 3 {
				j := i + r.IntN(2)
				out[i], out[j] = out[j], out[i]
			}
			return out
		}, 40, 0, 0},
		{"duplicated packets", func(f [][]rtp.Packet) []rtp.Packet {
			var out []rtp.Packet
			for _, p := range flatten(f) {
				out = append(out, p, p)
			}
			return out
		}, 40, 0, 0},
		{"one packet lost", func(f [][]rtp.Packet) []rtp.Packet {
			f[5] = f[5][1:]
			return flatten(f)
		}, 39, 0, 1},
		{"one payload corrupted", func(f [][]rtp.Packet) []rtp.Packet {
			p := f[7][len(f[7])-1]
			p.Payload[len(p.Payload)-1] ^= 0xff
			return flatten(f)
		}, 40, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var a Assembler
			got := 0
			for _, p := range tc.mutate(clonePackets(frames)) {
				f, ok, err := a.Push(&p)
				if !ok {
					continue
				}
				got++
				if err == nil && hdrs[f.Header.FrameNumber].SendTime != f.Header.SendTime {
					t.Fatalf("frame %d: wrong send time", f.Header.FrameNumber)
				}
			}
			a.Flush()
			st := a.Stats()
			if got != tc.wantFrames || int(st.Corrupt) != tc.wantCorrupt || int(st.Incomplete) != tc.wantIncomplete {
				t.Fatalf("frames %d corrupt %d incomplete %d; want %d %d %d (stats %+v)",
					got, st.Corrupt, st.Incomplete, tc.wantFrames, tc.wantCorrupt, tc.wantIncomplete, st)
			}
		})
	}
}

func flatten(frames [][]rtp.Packet) []rtp.Packet {
	var out []rtp.Packet
	for _, f := range frames {
		out = append(out, f...)
	}
	return out
}

func clonePackets(frames [][]rtp.Packet) [][]rtp.Packet {
	out := make([][]rtp.Packet, len(frames))
	for i, f := range frames {
		for _, p := range f {
			out[i] = append(out[i], rtp.Packet{Header: p.Header, Payload: bytes.Clone(p.Payload)})
		}
	}
	return out
}

func TestOpusStream(t *testing.T) {
	tests := []struct {
		name    string
		extID   uint8
		dBov    int
		voice   bool
		wantExt bool
	}{
		{"no extension", 0, 30, true, false},
		{"loud voice", 3, 10, true, true},
		{"silence", 5, 127, false, true},
		{"clamped", 14, 200, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewOpusStream(OpusConfig{})
			if err != nil {
				t.Fatal(err)
			}
			var lastTS uint32
			for i := 0; i < 5; i++ {
				p := s.NextPacket(time.Unix(0, int64(i)), tc.extID, EncodeAudioLevel(tc.dBov, tc.voice))
				raw, err := p.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				var q rtp.Packet
				if err := q.Unmarshal(raw); err != nil {
					t.Fatal(err)
				}
				if i > 0 && q.Timestamp-lastTS != 960 {
					t.Fatalf("timestamp step %d, want 960 (20 ms at 48 kHz)", q.Timestamp-lastTS)
				}
				lastTS = q.Timestamp
				if q.Payload[0] != opusTOC {
					t.Fatalf("TOC %#x", q.Payload[0])
				}
				h, err := VerifyOpusPacket(q.Payload)
				if err != nil || h.FrameNumber != uint32(i) || h.Kind != KindAudio || h.SendTime != int64(i) {
					t.Fatalf("verify: %+v %v", h, err)
				}
				ext := q.GetExtension(tc.extID)
				if tc.wantExt != (ext != nil) {
					t.Fatalf("extension present %v, want %v", ext != nil, tc.wantExt)
				}
				if ext != nil {
					dBov, voice := DecodeAudioLevel(ext[0])
					if dBov != min(tc.dBov, 127) || voice != tc.voice {
						t.Fatalf("level %d voice %v", dBov, voice)
					}
				}
			}
		})
	}
}

// recorder is an RTPWriter that keeps copies.
type recorder struct {
	mu   sync.Mutex
	pkts []rtp.Packet
}

func (r *recorder) WriteRTP(p *rtp.Packet) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pkts = append(r.pkts, rtp.Packet{Header: p.Header.Clone(), Payload: bytes.Clone(p.Payload)})
	return nil
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSourcesStartStop(t *testing.T) {
	var v, a recorder
	vs, err := NewVP8Source(&v, VP8Config{FPS: 60})
	if err != nil {
		t.Fatal(err)
	}
	as, err := NewOpusSource(&a, OpusConfig{})
	if err != nil {
		t.Fatal(err)
	}
	as.SetAudioLevelExtensionID(1)
	as.SetLevel(20, true)
	vs.Start()
	vs.Start() // idempotent
	as.Start()
	vs.RequestKeyframe()
	waitFor(t, func() bool { return vs.Stats().Frames >= 5 && as.Stats().Packets >= 5 })
	vs.Stop()
	vs.Stop() // idempotent
	as.Stop()
	if st := vs.Stats(); st.Keyframes < 1 || st.WriteErrors != 0 {
		t.Fatalf("video stats %+v", st)
	}
	var asm Assembler
	for _, p := range v.pkts {
		if _, ok, err := asm.Push(&p); ok && err != nil {
			t.Fatal(err)
		}
	}
	if asm.Stats().Frames < 5 {
		t.Fatalf("assembled %+v", asm.Stats())
	}
	for _, p := range a.pkts {
		if _, err := VerifyOpusPacket(p.Payload); err != nil {
			t.Fatal(err)
		}
		if ext := p.GetExtension(1); len(ext) != 1 || ext[0] != EncodeAudioLevel(20, true) {
			t.Fatalf("audio level extension %v", ext)
		}
	}
	// Stop before Start must not block.
	idle, _ := NewVP8Source(&v, VP8Config{})
	idle.Stop()
	idle.Start() // after Stop: stays stopped
}

func TestSimulcastSource(t *testing.T) {
	var q, h, f recorder
	s, err := NewSimulcastSource(DefaultSimulcastLayers(&q, &h, &f), VP8Config{FPS: 60})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	waitFor(t, func() bool { return s.Stats("f").Frames >= 6 })
	s.SetLayerActive("f", false)
	before := s.Stats("f").Frames
	waitFor(t, func() bool { return s.Stats("q").Frames >= before+6 })
	s.RequestKeyframe("h")
	s.SetLayerActive("f", true)
	waitFor(t, func() bool { return s.Stats("f").Frames >= before+3 })
	s.Stop()
	// Layers share frame numbers and capture times; f stopped for a while, then restarted
	// with a key frame.
	for name, r := range map[string]*recorder{"q": &q, "h": &h, "f": &f} {
		var asm Assembler
		var prev uint32
		var sawGap bool
		for i, p := range r.pkts {
			fr, ok, err := asm.Push(&p)
			if !ok {
				continue
			}
			if err != nil {
				t.Fatalf("layer %s packet %d: %v", name, i, err)
			}
			if fr.Header.FrameNumber != 0 && fr.Header.FrameNumber != prev+1 {
				sawGap = true
				if !fr.Header.Keyframe {
					t.Fatalf("layer %s resumed at frame %d without a key frame", name, fr.Header.FrameNumber)
				}
			}
			prev = fr.Header.FrameNumber
			wantLayer := map[string]uint8{"q": 0, "h": 1, "f": 2}[name]
			if fr.Header.Layer != wantLayer {
				t.Fatalf("layer %s: header layer %d", name, fr.Header.Layer)
			}
		}
		if name == "f" && !sawGap {
			t.Fatal("layer f never paused")
		}
	}
	if s.Stats("h").Keyframes < 2 {
		t.Fatalf("requested key frame on h missing: %+v", s.Stats("h"))
	}
	// Average bitrate ordering follows the layers.
	if !(s.Stats("q").Bytes*2 < s.Stats("h").Bytes) {
		t.Fatalf("q %d bytes, h %d bytes", s.Stats("q").Bytes, s.Stats("h").Bytes)
	}
}

func TestConfigValidation(t *testing.T) {
	bad := []VP8Config{
		{FPS: -1}, {FPS: 1000}, {Bitrate: 10}, {TemporalLayers: 4}, {MaxPayloadSize: 50},
		{Width: 20000}, {Layer: 16}, {KeyframeFactor: -1},
	}
	for _, c := range bad {
		if _, err := NewVP8Stream(c); !errors.Is(err, ErrBadConfig) {
			t.Errorf("NewVP8Stream(%+v) = %v, want ErrBadConfig", c, err)
		}
	}
	if _, err := NewOpusStream(OpusConfig{Bitrate: 1}); !errors.Is(err, ErrBadConfig) {
		t.Errorf("opus bitrate 1: %v", err)
	}
	if _, err := NewSimulcastSource(nil, VP8Config{}); !errors.Is(err, ErrBadConfig) {
		t.Errorf("no layers: %v", err)
	}
}

func BenchmarkVP8NextFrame(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  VP8Config
	}{
		{"150k", VP8Config{Bitrate: 150_000}},
		{"1700k", VP8Config{Bitrate: 1_700_000}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := NewVP8Stream(bc.cfg)
			if err != nil {
				b.Fatal(err)
			}
			now := time.Now()
			b.ReportAllocs()
			bytes := 0
			for i := 0; b.Loop(); i++ {
				now = now.Add(33 * time.Millisecond)
				pkts, _ := s.NextFrame(now, now, false)
				for _, p := range pkts {
					bytes += len(p.Payload)
				}
			}
			b.SetBytes(int64(bytes / max(b.N, 1)))
		})
	}
}

func BenchmarkOpusNextPacket(b *testing.B) {
	s, err := NewOpusStream(OpusConfig{})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		s.NextPacket(now, 1, 0x85)
	}
}

func BenchmarkVerifyFrame(b *testing.B) {
	frame := make([]byte, 8000)
	writeFrame(frame, FrameHeader{Kind: KindVideo, FrameNumber: 9, Length: 8000})
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := VerifyFrame(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseVP8Packet(b *testing.B) {
	s, _ := NewVP8Stream(VP8Config{})
	pkts, _ := s.NextFrame(time.Now(), time.Now(), true)
	payload := pkts[0].Payload
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseVP8Packet(payload); err != nil {
			b.Fatal(err)
		}
	}
}
