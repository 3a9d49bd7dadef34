package client

import (
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

func TestStamper(t *testing.T) {
	st := newStamper()
	st.set(1111, "0", "q")
	st.set(2222, "1", "")
	exts := []interceptor.RTPHeaderExtension{{ID: 4, URI: MidURI}, {ID: 10, URI: RIDURI}}
	tests := []struct {
		name    string
		ssrc    uint32
		wantMid string
		wantRid string
	}{
		{"simulcast encoding", 1111, "0", "q"},
		{"single encoding: mid only", 2222, "1", ""},
		{"unknown stream: untouched", 3333, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			icpt, err := st.NewInterceptor("")
			if err != nil {
				t.Fatal(err)
			}
			var got rtp.Header
			capture := true
			w := icpt.BindLocalStream(&interceptor.StreamInfo{SSRC: tc.ssrc, RTPHeaderExtensions: exts},
				interceptor.RTPWriterFunc(func(h *rtp.Header, _ []byte, _ interceptor.Attributes) (int, error) {
					if capture {
						got = h.Clone()
					}
					return 0, nil
				}))
			h := rtp.Header{Version: 2, SSRC: tc.ssrc}
			if err := h.SetExtension(1, []byte{0x85}); err != nil { // an audio level the caller set
				t.Fatal(err)
			}
			callerExts := h.Extensions
			if _, err := w.Write(&h, []byte{1}, nil); err != nil {
				t.Fatal(err)
			}
			if string(got.GetExtension(4)) != tc.wantMid || string(got.GetExtension(10)) != tc.wantRid {
				t.Fatalf("mid %q rid %q, want %q %q", got.GetExtension(4), got.GetExtension(10), tc.wantMid, tc.wantRid)
			}
			if e := got.GetExtension(1); len(e) != 1 || e[0] != 0x85 {
				t.Fatalf("caller's extension lost: %v", e)
			}
			if len(h.Extensions) != 1 || &h.Extensions[0] != &callerExts[0] {
				t.Fatal("caller's extension list was not restored")
			}
			capture = false
			payload := []byte{1}
			if allocs := testing.AllocsPerRun(100, func() { _, _ = w.Write(&h, payload, nil) }); allocs != 0 {
				t.Fatalf("%v allocations per stamped packet", allocs)
			}
		})
	}
}

func TestStamperNoExtensionsNegotiated(t *testing.T) {
	st := newStamper()
	st.set(1, "0", "q")
	icpt, _ := st.NewInterceptor("")
	called := false
	inner := interceptor.RTPWriterFunc(func(h *rtp.Header, _ []byte, _ interceptor.Attributes) (int, error) {
		called = true
		if h.Extension {
			t.Fatal("stamped without negotiated extensions")
		}
		return 0, nil
	})
	w := icpt.BindLocalStream(&interceptor.StreamInfo{SSRC: 1}, inner)
	if _, err := w.Write(&rtp.Header{SSRC: 1}, nil, nil); err != nil || !called {
		t.Fatal(err, called)
	}
}
