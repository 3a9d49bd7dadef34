package router

import (
	"testing"

	"github.com/pion/rtp"
)

func TestParseHeader(t *testing.T) {
	withLevel := func(profileTwoByte bool) []byte {
		h := rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: 7, Timestamp: 960, SSRC: 42, Marker: true}
		if profileTwoByte {
			h.Extension = true
			h.ExtensionProfile = 0x1000
		}
		if err := h.SetExtension(3, []byte{0x80 | 33}); err != nil {
			t.Fatal(err)
		}
		b, err := (&rtp.Packet{Header: h, Payload: []byte{1, 2, 3}}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	padded, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, Padding: true, PaddingSize: 4, SequenceNumber: 1},
		Payload: []byte{9, 9}, PaddingSize: 4}).Marshal()
	csrc, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, CSRC: []uint32{1, 2}}, Payload: []byte{5}}).Marshal()
	tests := []struct {
		name      string
		pkt       []byte
		wantErr   bool
		payload   int
		level     int8
		voice     bool
		marker    bool
		headerLen int
	}{
		{name: "one-byte audio level", pkt: withLevel(false), payload: 3, level: 33, voice: true, marker: true, headerLen: 20},
		{name: "two-byte audio level", pkt: withLevel(true), payload: 3, level: 33, voice: true, marker: true, headerLen: 20},
		{name: "padding excluded", pkt: padded, payload: 2, level: -1, headerLen: 12},
		{name: "csrc skipped", pkt: csrc, payload: 1, level: -1, headerLen: 20},
		{name: "short", pkt: []byte{0x80, 0, 0}, wantErr: true},
		{name: "version 1", pkt: append([]byte{0x40}, make([]byte, 11)...), wantErr: true},
		{name: "csrc past end", pkt: append([]byte{0x8f}, make([]byte, 11)...), wantErr: true},
		{name: "extension past end", pkt: append([]byte{0x90}, make([]byte, 13)...), wantErr: true},
		{name: "padding longer than payload", pkt: append([]byte{0xa0}, append(make([]byte, 11), 0, 50)...), wantErr: true},
		{name: "zero padding length", pkt: append([]byte{0xa0}, append(make([]byte, 11), 0, 0)...), wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h Header
			err := ParseHeader(tc.pkt, 3, &h)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if h.PayloadLen != tc.payload || h.AudioLevel != tc.level || h.Voice != tc.voice || h.Marker != tc.marker || h.HeaderLen != tc.headerLen {
				t.Fatalf("got payload=%d level=%d voice=%v marker=%v hlen=%d", h.PayloadLen, h.AudioLevel, h.Voice, h.Marker, h.HeaderLen)
			}
		})
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add([]byte{0x90, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xbe, 0xde, 0, 1, 0x30, 0x85, 0, 0})
	f.Add([]byte{0xa0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 2, 3, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Header
		if err := ParseHeader(b, 1, &h); err == nil {
			if h.HeaderLen+h.PayloadLen+int(h.PaddingLen) != len(b) {
				t.Fatalf("lengths do not add up: %+v len=%d", h, len(b))
			}
		}
	})
}

func TestSeqUnwrapper(t *testing.T) {
	var u seqUnwrapper
	seqs := []uint16{65534, 65535, 0, 65533, 1, 2}
	var got []uint64
	for _, s := range seqs {
		got = append(got, u.unwrap(s))
	}
	base := got[0]
	want := []uint64{base, base + 1, base + 2, base - 1, base + 3, base + 4}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("unwrap %v = %v, want %v", seqs, got, want)
		}
	}
}

func TestRing(t *testing.T) {
	r := newRing(4)
	for i := uint64(10); i < 16; i++ {
		idx, buf := r.begin()
		buf[0] = byte(i)
		r.commit(idx, 1, i)
	}
	dst := make([]byte, MaxPacketSize)
	for i := uint64(10); i < 16; i++ {
		n := r.get(i, dst)
		if i < 12 && n != 0 {
			t.Fatalf("packet %d should have been overwritten", i)
		}
		if i >= 12 && (n != 1 || dst[0] != byte(i)) {
			t.Fatalf("packet %d: n=%d b=%d", i, n, dst[0])
		}
	}
	// A slot being written is invisible to readers.
	idx, _ := r.begin()
	if n := r.get(12, dst); n != 0 {
		t.Fatalf("slot under write still readable")
	}
	r.commit(idx, 1, 16)
}
