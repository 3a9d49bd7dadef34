package simulcast

import (
	"bytes"
	"errors"
	"testing"
)

func TestParseVP8Descriptor(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want VP8Descriptor
		err  error
	}{
		{"minimal", []byte{0x10, 0xaa}, VP8Descriptor{Len: 1, S: true}, nil},
		{"minimal partition 3, non-reference", []byte{0x23, 0xaa}, VP8Descriptor{Len: 1, N: true, PID: 3}, nil},
		{"descriptor only", []byte{0x10}, VP8Descriptor{Len: 1, S: true}, nil},
		{"X without fields", []byte{0x90, 0x00, 0xaa}, VP8Descriptor{Len: 2, X: true, S: true}, nil},
		{"7-bit picture id", []byte{0x90, 0x80, 0x7f, 0xaa},
			VP8Descriptor{Len: 3, X: true, S: true, I: true, PictureID: 127}, nil},
		{"15-bit picture id", []byte{0x90, 0x80, 0xff, 0xfe, 0xaa},
			VP8Descriptor{Len: 4, X: true, S: true, I: true, M: true, PictureID: 0x7ffe}, nil},
		{"everything, 15-bit", []byte{0x90, 0xf0, 0x81, 0x23, 0x45, 0xb3, 0xaa},
			VP8Descriptor{Len: 6, X: true, S: true, I: true, L: true, T: true, K: true, M: true,
				PictureID: 0x0123, TL0PICIDX: 0x45, TID: 2, Y: true, KEYIDX: 0x13}, nil},
		{"everything, 7-bit", []byte{0x80, 0xf0, 0x12, 0xff, 0x5f, 0xaa},
			VP8Descriptor{Len: 5, X: true, I: true, L: true, T: true, K: true,
				PictureID: 0x12, TL0PICIDX: 0xff, TID: 1, KEYIDX: 0x1f}, nil},
		{"T without K ignores KEYIDX bits", []byte{0x90, 0x20, 0xff, 0xaa},
			VP8Descriptor{Len: 3, X: true, S: true, T: true, TID: 3, Y: true}, nil},
		{"K without T ignores TID and Y", []byte{0x90, 0x10, 0xff, 0xaa},
			VP8Descriptor{Len: 3, X: true, S: true, K: true, KEYIDX: 0x1f}, nil},
		{"L only", []byte{0x90, 0x40, 0x07, 0xaa},
			VP8Descriptor{Len: 3, X: true, S: true, L: true, TL0PICIDX: 7}, nil},
		{"empty", nil, VP8Descriptor{}, ErrVP8Truncated},
		{"X byte missing", []byte{0x80}, VP8Descriptor{}, ErrVP8Truncated},
		{"picture id missing", []byte{0x80, 0x80}, VP8Descriptor{}, ErrVP8Truncated},
		{"15-bit picture id cut", []byte{0x80, 0x80, 0x80}, VP8Descriptor{}, ErrVP8Truncated},
		{"TL0PICIDX missing", []byte{0x80, 0xc0, 0x01}, VP8Descriptor{}, ErrVP8Truncated},
		{"T/K octet missing", []byte{0x80, 0xe0, 0x01, 0x02}, VP8Descriptor{}, ErrVP8Truncated},
		{"K octet missing", []byte{0x80, 0x10}, VP8Descriptor{}, ErrVP8Truncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := VP8Descriptor{Len: 9, PictureID: 99} // stale content must not survive
			err := d.Unmarshal(tc.in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if d != tc.want {
				t.Fatalf("got %+v\nwant %+v", d, tc.want)
			}
			if got := VP8TemporalID(tc.in); got != tc.want.TID {
				t.Fatalf("VP8TemporalID = %d, want %d", got, tc.want.TID)
			}
		})
	}
}

func TestVP8RewriteApply(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		rw      VP8Rewrite // values; layout comes from the input
		want    []byte
		wantErr error
		outLen  int // 0: len(in)
	}{
		{"15-bit, keeps M, N, S, TID, Y", []byte{0xb0, 0xf0, 0x81, 0x23, 0x45, 0xb3, 0x01, 0x02},
			VP8Rewrite{PictureID: 0x7abc, TL0PICIDX: 0x99, KEYIDX: 0x04},
			[]byte{0xb0, 0xf0, 0xfa, 0xbc, 0x99, 0xa4, 0x01, 0x02}, nil, 0},
		{"7-bit stays 7-bit", []byte{0x90, 0xc0, 0x12, 0x34, 0x00},
			VP8Rewrite{PictureID: 0x7fff, TL0PICIDX: 0x01},
			[]byte{0x90, 0xc0, 0x7f, 0x01, 0x00}, nil, 0},
		{"T without K leaves the octet", []byte{0x90, 0x20, 0x40, 0x00},
			VP8Rewrite{KEYIDX: 0x1f}, []byte{0x90, 0x20, 0x40, 0x00}, nil, 0},
		{"no extension: unchanged", []byte{0x10, 0x00, 0x01}, VP8Rewrite{PictureID: 5},
			[]byte{0x10, 0x00, 0x01}, nil, 0},
		{"out too short", []byte{0x90, 0x80, 0x01, 0x00}, VP8Rewrite{}, nil, ErrShortBuffer, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d VP8Descriptor
			if err := d.Unmarshal(tc.in); err != nil {
				t.Fatal(err)
			}
			r := tc.rw
			r.layout(&d)
			n := tc.outLen
			if n == 0 {
				n = len(tc.in)
			}
			out := make([]byte, n)
			got, err := r.Apply(tc.in, out)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if got != len(tc.in) || !bytes.Equal(out[:got], tc.want) {
				t.Fatalf("got % x (%d), want % x", out[:got], got, tc.want)
			}
			// In place gives the same bytes.
			inPlace := append([]byte(nil), tc.in...)
			if _, err := r.Apply(inPlace, inPlace); err != nil || !bytes.Equal(inPlace, tc.want) {
				t.Fatalf("in place: % x, %v", inPlace, err)
			}
		})
	}
	var zero VP8Rewrite
	if zero.Active() {
		t.Fatal("zero rewrite active")
	}
	if _, err := (&VP8Rewrite{size: 6, pic: 2, long: true}).Apply([]byte{0x90, 0x80}, make([]byte, 8)); !errors.Is(err, ErrVP8Truncated) {
		t.Fatalf("payload shorter than its layout: %v", err)
	}
}

func TestPacketParsePayload(t *testing.T) {
	tests := []struct {
		name    string
		codec   Codec
		payload []byte
		key     bool
		tid     uint8
		sync    bool
		padding bool
		vp8Len  int
	}{
		{"vp8 key tl0", CodecVP8, []byte{0x90, 0xe0, 0x81, 0x00, 0x05, 0x00, 0x00}, true, 0, false, false, 6},
		{"vp8 tl2 sync", CodecVP8, []byte{0x90, 0xe0, 0x81, 0x01, 0x05, 0xa0, 0x01}, false, 2, true, false, 6},
		{"vp8 tl1 middle packet", CodecVP8, []byte{0x80, 0xe0, 0x81, 0x01, 0x05, 0x40, 0x55}, false, 1, false, false, 6},
		{"vp8 K only: no temporal layer", CodecVP8, []byte{0x90, 0x10, 0xe5, 0x00}, true, 0, false, false, 3},
		{"vp8 malformed", CodecVP8, []byte{0x90, 0xe0, 0x81}, false, 0, false, false, 0},
		{"vp8 padding", CodecVP8, nil, false, 0, false, true, 0},
		{"h264 idr", CodecH264, []byte{0x65, 0x00}, true, 0, false, false, 0},
		{"vp9 key", CodecVP9, []byte{0x88, 0x00, 0x01}, true, 0, false, false, 0},
		{"opus", CodecOpus, []byte{0x78}, false, 0, false, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := Packet{Keyframe: true, TemporalID: 3, LayerSync: true, Padding: true, VP8: VP8Descriptor{Len: 4}}
			p.ParsePayload(tc.codec, tc.payload)
			if p.Keyframe != tc.key || p.TemporalID != tc.tid || p.LayerSync != tc.sync || p.Padding != tc.padding || p.VP8.Len != tc.vp8Len {
				t.Fatalf("got key=%v tid=%d sync=%v padding=%v vp8len=%d", p.Keyframe, p.TemporalID, p.LayerSync, p.Padding, p.VP8.Len)
			}
		})
	}
}

// FuzzVP8Descriptor feeds hostile payloads to everything that reads VP8 descriptors: none
// may panic, a parsed length stays within the payload, and a rewrite keeps every byte but
// the fields it owns.
func FuzzVP8Descriptor(f *testing.F) {
	for _, s := range [][]byte{
		nil, {0x10}, {0x80}, {0x90, 0x80}, {0x90, 0x80, 0x81}, {0x90, 0xf0, 0x81, 0x23, 0x45, 0xb3, 0x00},
		{0x90, 0xe0, 0x12, 0x05, 0x40, 0x00}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, {0x80, 0x10},
	} {
		f.Add(s, uint16(0x1234), uint8(7), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, pic uint16, tl0, key uint8) {
		var d VP8Descriptor
		err := d.Unmarshal(in)
		_ = vp8Keyframe(in)
		_ = VP8TemporalID(in)
		_ = vp9Keyframe(in)
		_ = av1Keyframe(in)
		_ = h264Keyframe(in)
		var p Packet
		p.ParsePayload(CodecVP8, in)
		if err != nil {
			if d != (VP8Descriptor{}) || p.VP8.Len != 0 {
				t.Fatalf("error %v left %+v", err, d)
			}
			return
		}
		if d.Len < 1 || d.Len > 6 || d.Len > len(in) {
			t.Fatalf("Len %d for %d bytes", d.Len, len(in))
		}
		// Rewrite with arbitrary values: same length, same layout, only owned bits change.
		r := VP8Rewrite{PictureID: pic & 0x7fff, TL0PICIDX: tl0, KEYIDX: key & 0x1f}
		if !d.M {
			r.PictureID &= 0x7f
		}
		r.layout(&d)
		out := make([]byte, len(in))
		n, err := r.Apply(in, out)
		if err != nil || n != len(in) {
			t.Fatalf("Apply: %d, %v", n, err)
		}
		var e VP8Descriptor
		if err := e.Unmarshal(out); err != nil {
			t.Fatalf("rewritten descriptor does not parse: %v", err)
		}
		want := d
		if d.I {
			want.PictureID = r.PictureID
		}
		if d.L {
			want.TL0PICIDX = tl0
		}
		if d.K {
			want.KEYIDX = r.KEYIDX
		}
		if e != want {
			t.Fatalf("rewritten %+v, want %+v", e, want)
		}
		if !bytes.Equal(out[d.Len:], in[d.Len:]) {
			t.Fatal("payload after the descriptor changed")
		}
		// The standalone rewriter must not panic either, whatever the context.
		m := NewVP8Munger(pic, tl0, key)
		for _, ctx := range []FrameContext{{Switched: true}, {Dropped: true}, {Late: true}, {}} {
			_, _ = m.Rewrite(in, out, ctx)
		}
	})
}

func BenchmarkParseVP8Descriptor(b *testing.B) {
	in := []byte{0x90, 0xf0, 0x81, 0x23, 0x45, 0xb3, 0x00, 0x01, 0x02}
	var d VP8Descriptor
	b.ReportAllocs()
	for b.Loop() {
		if d.Unmarshal(in) != nil {
			b.Fatal("parse")
		}
	}
}

func BenchmarkParsePayloadVP8(b *testing.B) {
	in := append([]byte{0x90, 0xe0, 0x81, 0x23, 0x45, 0x40}, make([]byte, 1100)...)
	var p Packet
	b.ReportAllocs()
	for b.Loop() {
		p.ParsePayload(CodecVP8, in)
	}
}

func BenchmarkVP8RewriteApply(b *testing.B) {
	in := append([]byte{0x90, 0xe0, 0x81, 0x23, 0x45, 0x40}, make([]byte, 1100)...)
	out := make([]byte, 1500)
	var d VP8Descriptor
	_ = d.Unmarshal(in)
	r := VP8Rewrite{PictureID: 77, TL0PICIDX: 3}
	r.layout(&d)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := r.Apply(in, out); err != nil {
			b.Fatal(err)
		}
	}
}
