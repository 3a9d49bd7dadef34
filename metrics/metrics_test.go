package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// fakeSource serves whatever snapshot the test sets.
type fakeSource struct {
	mu   sync.Mutex
	snap Snapshot
}

func (f *fakeSource) set(s Snapshot) {
	f.mu.Lock()
	f.snap = s
	f.mu.Unlock()
}

func (f *fakeSource) Snapshot(s *Snapshot) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s.Rooms, s.Participants, s.PublishedTracks, s.DownTracks = f.snap.Rooms, f.snap.Participants, f.snap.PublishedTracks, f.snap.DownTracks
	s.Received = append(s.Received, f.snap.Received...)
	s.Forwarded = append(s.Forwarded, f.snap.Forwarded...)
	s.ForwardingLatency = f.snap.ForwardingLatency
}

func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			out[mf.GetName()] = value(mf.GetType(), m)
		}
	}
	return out
}

func value(t dto.MetricType, m *dto.Metric) float64 {
	switch t {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	}
	return -1
}

func TestForwardingTotalsOnlyGrow(t *testing.T) {
	src := &fakeSource{}
	reg := prometheus.NewRegistry()
	if err := Register(reg, src); err != nil {
		t.Fatal(err)
	}
	a, b := new(int), new(int) // two down tracks, identified by pointer
	steps := []struct {
		name    string
		snap    Snapshot
		wantFwd float64
		wantDT  float64
	}{
		{"two streams", Snapshot{DownTracks: 2, Forwarded: []StreamCounters{{Key: a, Packets: 10, Bytes: 1000}, {Key: b, Packets: 5, Bytes: 500}}}, 15, 2},
		{"both grow", Snapshot{DownTracks: 2, Forwarded: []StreamCounters{{Key: a, Packets: 20, Bytes: 2000}, {Key: b, Packets: 6, Bytes: 600}}}, 26, 2},
		// b ended: its packets stay counted.
		{"one ends", Snapshot{DownTracks: 1, Forwarded: []StreamCounters{{Key: a, Packets: 25, Bytes: 2500}}}, 31, 1},
		// A new stream (even reusing nothing of b) starts from zero.
		{"a new one", Snapshot{DownTracks: 2, Forwarded: []StreamCounters{{Key: a, Packets: 25, Bytes: 2500}, {Key: new(int), Packets: 4, Bytes: 400, Retransmits: 1, NACKs: 1, PLIs: 2}}}, 35, 2},
	}
	for _, s := range steps {
		src.set(s.snap)
		got := gather(t, reg)
		if got["cascade_forwarded_packets_total"] != s.wantFwd || got["cascade_down_tracks"] != s.wantDT {
			t.Fatalf("%s: forwarded %v down tracks %v, want %v %v", s.name, got["cascade_forwarded_packets_total"], got["cascade_down_tracks"], s.wantFwd, s.wantDT)
		}
		if got["cascade_forwarded_bytes_total"] != 100*s.wantFwd {
			t.Fatalf("%s: bytes %v", s.name, got["cascade_forwarded_bytes_total"])
		}
	}
	got := gather(t, reg)
	if got["cascade_keyframe_requests_received_total"] != 2 || got["cascade_retransmitted_packets_total"] != 1 || got["cascade_nacks_received_total"] != 1 {
		t.Fatalf("feedback counters: %v", got)
	}
	// The process collector gives what the load tester reads.
	for _, name := range []string{"process_cpu_seconds_total", "process_resident_memory_bytes", "go_goroutines"} {
		if _, ok := got[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}
}

func TestHandlerServesText(t *testing.T) {
	reg := prometheus.NewRegistry()
	if err := Register(reg, &fakeSource{}); err != nil {
		t.Fatal(err)
	}
	if err := Register(reg, &fakeSource{}); err == nil {
		t.Fatal("registering twice on one registry succeeded")
	}
	srv := httptest.NewServer(Handler(reg))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{"cascade_forwarded_packets_total 0", "# TYPE process_cpu_seconds_total counter"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("%q missing from:\n%s", want, body)
		}
	}
}

// TestForwardingLatencyHistogram: per-bucket counts become Prometheus's cumulative
// buckets, with the slowest bucket only in the count.
func TestForwardingLatencyHistogram(t *testing.T) {
	src := &fakeSource{}
	reg := prometheus.NewRegistry()
	if err := Register(reg, src); err != nil {
		t.Fatal(err)
	}
	src.set(Snapshot{ForwardingLatency: &Histogram{Bounds: []float64{0.001, 0.002}, Counts: []uint64{5, 3, 2}, Sum: 0.05}})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "cascade_forwarding_latency_seconds" {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		if h.GetSampleCount() != 10 || h.GetSampleSum() != 0.05 {
			t.Fatalf("count %d sum %v, want 10 and 0.05", h.GetSampleCount(), h.GetSampleSum())
		}
		b := h.GetBucket()
		if len(b) != 2 || b[0].GetUpperBound() != 0.001 || b[0].GetCumulativeCount() != 5 || b[1].GetCumulativeCount() != 8 {
			t.Fatalf("buckets %v, want le=0.001:5 le=0.002:8", b)
		}
		return
	}
	t.Fatal("no cascade_forwarding_latency_seconds")
}
