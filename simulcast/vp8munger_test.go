package simulcast

import (
	"errors"
	"testing"
)

// vp8Desc builds a VP8 payload with a picture id (15 or 7 bits), TL0PICIDX, TID and, when
// key >= 0, KEYIDX, followed by two payload bytes.
func vp8Desc(pic uint16, long bool, tl0, tid uint8, key int) []byte {
	x := byte(0xe0)
	if key >= 0 {
		x |= 0x10
	}
	b := []byte{0x90, x}
	if long {
		b = append(b, 0x80|byte(pic>>8), byte(pic))
	} else {
		b = append(b, byte(pic)&0x7f)
	}
	tk := tid << 6
	if key >= 0 {
		tk |= byte(key) & 0x1f
	}
	return append(b, tl0, tk, 0x01, 0xee)
}

func TestVP8MungerRewrite(t *testing.T) {
	const L, S = true, false // 15-bit and 7-bit picture ids
	sw := FrameContext{Switched: true}
	drop := FrameContext{Dropped: true}
	late := FrameContext{Late: true}
	lateDrop := FrameContext{Late: true, Dropped: true}
	type step struct {
		name     string
		pic      uint16
		long     bool
		tl0, tid uint8
		key      int
		ctx      FrameContext
		sent     bool
		err      error
		wantPic  uint16
		wantTL0  uint8
		wantKey  uint8
	}
	steps := []step{
		{"first frame takes the seeds", 32766, L, 7, 0, 5, sw, true, nil, 100, 50, 3},
		{"its second packet", 32766, L, 7, 0, 5, FrameContext{}, true, nil, 100, 50, 3},
		{"next frame", 32767, L, 7, 2, 5, FrameContext{}, true, nil, 101, 50, 3},
		{"a dropped frame", 0, L, 7, 1, 5, drop, false, nil, 0, 0, 0},
		{"15-bit wrap, after the drop", 1, L, 7, 2, 5, FrameContext{}, true, nil, 102, 50, 3},
		{"late packet of a sent frame", 32767, L, 7, 2, 5, late, true, nil, 101, 50, 3},
		{"late packet of a dropped frame", 0, L, 7, 1, 5, late, false, nil, 0, 0, 0},
		{"a frame skipped (lost so far)", 3, L, 8, 0, 5, FrameContext{}, true, nil, 104, 51, 3},
		{"the skipped frame arrives", 2, L, 7, 2, 5, late, true, nil, 103, 50, 3},
		{"another skipped", 5, L, 8, 2, 5, FrameContext{}, true, nil, 106, 51, 3},
		{"the skipped one arrives to be dropped", 4, L, 8, 1, 5, lateDrop, false, nil, 0, 0, 0},
		{"base frame", 6, L, 9, 0, 5, FrameContext{}, true, nil, 107, 52, 3},
		{"far too late", 32674, L, 8, 0, 5, late, false, ErrVP8Stale, 0, 0, 0},
		{"publisher jumped back: re-based", 32000, L, 10, 0, 5, FrameContext{}, true, nil, 108, 53, 3},
		{"after the jump", 32001, L, 10, 2, 5, FrameContext{}, true, nil, 109, 53, 3},
		{"switch to a 7-bit layer", 126, S, 200, 0, 20, sw, true, nil, 110 & 0x7f, 54, 4},
		{"7-bit", 127, S, 200, 2, 20, FrameContext{}, true, nil, 111 & 0x7f, 54, 4},
		{"7-bit wrap", 0, S, 200, 1, 20, FrameContext{}, true, nil, 112 & 0x7f, 54, 4},
		{"7-bit dropped", 1, S, 200, 2, 20, drop, false, nil, 0, 0, 0},
		{"key frame inside the layer", 2, S, 201, 0, 21, FrameContext{}, true, nil, 113 & 0x7f, 55, 5},
		{"switch to a 15-bit layer without KEYIDX", 5000, L, 0, 0, -1, sw, true, nil, 114, 56, 0},
		{"and on", 5001, L, 0, 2, -1, FrameContext{}, true, nil, 115, 56, 0},
		{"upper-layer frame starting a layer names the last base frame", 77, L, 90, 1, 9, sw, true, nil, 116, 56, 6},
		{"the next base frame", 78, L, 91, 0, 9, FrameContext{}, true, nil, 117, 57, 6},
	}
	m := NewVP8Munger(100, 50, 3)
	out := make([]byte, 16)
	for i, st := range steps {
		in := vp8Desc(st.pic, st.long, st.tl0, st.tid, st.key)
		n, err := m.Rewrite(in, out, st.ctx)
		if !errors.Is(err, st.err) {
			t.Fatalf("step %d (%s): err %v, want %v", i, st.name, err, st.err)
		}
		if (n > 0) != st.sent {
			t.Fatalf("step %d (%s): wrote %d bytes, want sent=%v", i, st.name, n, st.sent)
		}
		if !st.sent {
			continue
		}
		var d VP8Descriptor
		if err := d.Unmarshal(out[:n]); err != nil || n != len(in) || d.M != st.long {
			t.Fatalf("step %d (%s): rewritten % x: %v", i, st.name, out[:n], err)
		}
		if d.PictureID != st.wantPic || d.TL0PICIDX != st.wantTL0 || d.K && d.KEYIDX != st.wantKey {
			t.Fatalf("step %d (%s): pic %d tl0 %d key %d, want %d %d %d", i, st.name,
				d.PictureID, d.TL0PICIDX, d.KEYIDX, st.wantPic, st.wantTL0, st.wantKey)
		}
		if d.TID != st.tid || out[n-2] != 0x01 || out[n-1] != 0xee {
			t.Fatalf("step %d (%s): more than the numbering changed: % x", i, st.name, out[:n])
		}
	}

	// Errors leave the state alone.
	if _, err := m.Rewrite([]byte{0x90, 0x80}, out, FrameContext{}); !errors.Is(err, ErrVP8Truncated) {
		t.Fatalf("truncated: %v", err)
	}
	if _, err := m.Rewrite(vp8Desc(79, L, 91, 2, 9), out[:3], FrameContext{}); !errors.Is(err, ErrShortBuffer) {
		t.Fatalf("short buffer: %v", err)
	}
	n, err := m.Rewrite(vp8Desc(79, L, 91, 2, 9), out, FrameContext{})
	var d VP8Descriptor
	if err != nil || d.Unmarshal(out[:n]) != nil || d.PictureID != 118 {
		t.Fatalf("after errors: pic %d, %v", d.PictureID, err)
	}

	// A descriptor without a picture id: nothing to renumber, dropped frames just go.
	var r VP8Rewrite
	var ok bool
	plain := VP8Descriptor{Len: 1, S: true}
	if r, ok = m.Munge(&plain, FrameContext{}); !ok || r.Active() {
		t.Fatalf("plain descriptor: %+v %v", r, ok)
	}
	if _, ok = m.Munge(&plain, drop); ok {
		t.Fatal("plain descriptor dropped but sent")
	}
}

// TestVP8MungerOutputWrap starts the output at the top of every field's range.
func TestVP8MungerOutputWrap(t *testing.T) {
	for _, long := range []bool{true, false} {
		m := NewVP8Munger(0x7ffe, 254, 30)
		out := make([]byte, 16)
		wantPic := []uint16{0x7ffe, 0x7fff, 0, 1}
		if !long {
			wantPic = []uint16{0x7e, 0x7f, 0, 1}
		}
		for i := 0; i < 4; i++ {
			ctx := FrameContext{Switched: i == 0}
			key := 4
			if i == 3 {
				key = 5
			}
			n, err := m.Rewrite(vp8Desc(uint16(1000+i), long, uint8(60+i), 0, key), out, ctx)
			var d VP8Descriptor
			if err != nil || d.Unmarshal(out[:n]) != nil {
				t.Fatal(err)
			}
			wantKey := uint8(30)
			if i == 3 {
				wantKey = 31
			}
			if d.PictureID != wantPic[i] || d.TL0PICIDX != uint8(254+i) || d.KEYIDX != wantKey {
				t.Fatalf("long=%v frame %d: pic %d tl0 %d key %d", long, i, d.PictureID, d.TL0PICIDX, d.KEYIDX)
			}
		}
	}
}

func BenchmarkVP8MungerRewrite(b *testing.B) {
	m := NewVP8Munger(0, 0, 0)
	in := append(vp8Desc(0, true, 0, 0, 0), make([]byte, 1100)...)
	out := make([]byte, 1500)
	pic := uint16(0)
	ctx := FrameContext{Switched: true}
	b.ReportAllocs()
	for b.Loop() {
		in[2], in[3] = 0x80|byte(pic>>8), byte(pic)
		if _, err := m.Rewrite(in, out, ctx); err != nil {
			b.Fatal(err)
		}
		ctx.Switched = false
		pic = (pic + 1) & 0x7fff
	}
}
