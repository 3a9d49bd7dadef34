package transport

import (
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/cascade-sfu/cascade/bwe"
)

type captureFeedback struct {
	mu      sync.Mutex
	results [][]bwe.PacketResult
	remb    int
}

func (c *captureFeedback) OnTransportFeedback(r []bwe.PacketResult) {
	c.mu.Lock()
	c.results = append(c.results, r)
	c.mu.Unlock()
}
func (c *captureFeedback) OnREMB(bps int) { c.remb = bps }

func TestCongestionInterceptorStampsAndMatchesFeedback(t *testing.T) {
	fb := &captureFeedback{}
	ci := &congestionInterceptor{listener: fb}
	var stamped []uint16
	w := ci.BindLocalStream(&interceptor.StreamInfo{RTPHeaderExtensions: []interceptor.RTPHeaderExtension{{URI: ExtTWCC, ID: 5}}},
		interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, _ interceptor.Attributes) (int, error) {
			b := h.GetExtension(5)
			stamped = append(stamped, uint16(b[0])<<8|uint16(b[1]))
			return len(payload), nil
		}))
	var h rtp.Header
	for i := 0; i < 10; i++ {
		h.Extensions = h.Extensions[:0]
		h.Extension = false
		if i == 9 {
			(&SendPath{ci: ci}).SetProbing(true)
		}
		if _, err := w.Write(&h, make([]byte, 100), nil); err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range stamped {
		if int(s) != i {
			t.Fatalf("packet %d stamped %d", i, s)
		}
	}
	allocs := testing.AllocsPerRun(100, func() {
		h.Extensions = h.Extensions[:0]
		_, _ = w.Write(&h, nil, nil)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per stamped packet", allocs)
	}

	// Feedback for 0..9 with packet 3 lost, 10 ms between arrivals.
	symbols := []uint16{1, 1, 1, 0, 1, 1, 1}
	var deltas []*rtcp.RecvDelta
	for i := 0; i < 9; i++ {
		deltas = append(deltas, &rtcp.RecvDelta{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 10000})
	}
	pkt := &rtcp.TransportLayerCC{
		SenderSSRC: 1, MediaSSRC: 2, BaseSequenceNumber: 0, PacketStatusCount: 10, ReferenceTime: 100, FbPktCount: 1,
		PacketChunks: []rtcp.PacketStatusChunk{
			&rtcp.StatusVectorChunk{SymbolSize: rtcp.TypeTCCSymbolSizeTwoBit, SymbolList: symbols},
			&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedSmallDelta, RunLength: 3},
		},
		RecvDeltas: deltas,
	}
	pkt.Header = rtcp.Header{Count: rtcp.FormatTCC, Type: rtcp.TypeTransportSpecificFeedback}
	pkt.Header.Length = uint16(pkt.Len()/4 - 1)
	raw, err := pkt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	remb, _ := (&rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: 512000, SSRCs: []uint32{2}}).Marshal()
	r := ci.BindRTCPReader(interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		return copy(b, append(raw, remb...)), a, nil
	}))
	if _, _, err := r.Read(make([]byte, 1500), nil); err != nil {
		t.Fatal(err)
	}
	// The same compound packet through a second sender's reader: taken once.
	if _, _, err := r.Read(make([]byte, 1500), nil); err != nil {
		t.Fatal(err)
	}
	if len(fb.results) != 1 || len(fb.results[0]) != 10 {
		t.Fatalf("results %v", fb.results)
	}
	res := fb.results[0]
	for i, p := range res {
		if p.Received != (i != 3) {
			t.Fatalf("packet %d received=%v", i, p.Received)
		}
		if p.Size != 12+8+100 { // header, one-byte extension block (4+4 bytes), payload
			t.Fatalf("packet %d size %d", i, p.Size)
		}
		if p.Probe != (i == 9) {
			t.Fatalf("packet %d probe=%v", i, p.Probe)
		}
	}
	if d := res[2].Arrival.Sub(res[1].Arrival); d != 10*time.Millisecond {
		t.Fatalf("arrival gap %v", d)
	}
	if d := res[4].Arrival.Sub(res[2].Arrival); d != 10*time.Millisecond {
		t.Fatalf("arrival gap across a loss %v", d)
	}
	if fb.remb != 512000 {
		t.Fatalf("REMB %d", fb.remb)
	}
}
