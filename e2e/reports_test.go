package e2e

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/cascade-sfu/cascade/node"
)

// aliceToBob starts a node where alice publishes audio and video to bob in room, and
// returns once bob has received frames video frames and as many audio packets.
func aliceToBob(t *testing.T, room string, frames int) *node.Node {
	t.Helper()
	noLeaks(t)
	n := startE2ENode(t, nil)
	alice := joinPeer(t, n, room, "alice")
	bob := joinPeer(t, n, room, "bob")
	alice.publishAV(30)
	eventually(t, "bob receiving alice", 15*time.Second, func() bool { return bob.receiving(frames, frames, "alice") }, bob.describe)
	return n
}

// TestSenderReportsGiveRoundTripTime: the SFU's sender reports to a subscriber come from
// the down tracks (no per-packet interceptor makes them). The subscriber's receiver reports
// echo them (LSR/DLSR, RFC 3550 section 6.4.1), which is how the SFU measures the round
// trip to it: a measured round trip on every subscription proves the reports went out,
// decrypted and parsed, for audio and video.
func TestSenderReportsGiveRoundTripTime(t *testing.T) {
	n := aliceToBob(t, "reports", 10)
	room := n.SFU().Room("reports")
	if room == nil {
		t.Fatal("no room")
	}
	var rtts string
	eventually(t, "a round trip measured for both of bob's subscriptions", 15*time.Second, func() bool {
		for _, p := range room.Participants() {
			if p.Identity() != "bob" {
				continue
			}
			st := p.DownTrackStats()
			rtts = fmt.Sprint(st)
			if len(st) != 2 {
				return false
			}
			for _, s := range st {
				if s.RTTMillis <= 0 || s.RTTMillis > 1000 {
					return false
				}
			}
			return true
		}
		return false
	}, func() string { return rtts })
}

// TestForwardingLatencyOnMetrics: the node's /metrics counts every forwarded packet's time
// inside the router in cascade_forwarding_latency_seconds.
func TestForwardingLatencyOnMetrics(t *testing.T) {
	n := aliceToBob(t, "latency", 30)
	value := scrapeMetrics(t, n.HTTPAddr())
	count, fwd := value("cascade_forwarding_latency_seconds_count"), value("cascade_forwarded_packets_total")
	// Every forwarded packet is counted once (retransmissions are not forwarding);
	// packets forwarded between the two reads of one scrape may differ a little.
	if count < 60 || count < 0.9*fwd || count > 1.1*fwd+10 {
		t.Fatalf("latency histogram counted %v packets, forwarded %v", count, fwd)
	}
	if sum := value("cascade_forwarding_latency_seconds_sum"); sum <= 0 || sum/count > 0.1 {
		t.Fatalf("latency sum %v over %v packets", sum, count)
	}
}

// TestDirectSendPathOnMetrics: a Go client's subscriber connection (the SFU is its DTLS
// server) gets its media through the direct send path, and its RTCP is read off the socket.
func TestDirectSendPathOnMetrics(t *testing.T) {
	n := aliceToBob(t, "direct", 30)
	value := scrapeMetrics(t, n.HTTPAddr())
	direct, fwd := value("cascade_direct_sent_packets_total"), value("cascade_forwarded_packets_total")
	// Probe padding and retransmissions take the direct path too, and are not forwarding.
	if fwd < 60 || direct < 0.9*fwd {
		t.Fatalf("%v packets sent directly, %v forwarded", direct, fwd)
	}
	if v := value("cascade_subscriber_rtcp_packets_total"); v < 1 {
		t.Fatalf("no subscriber RTCP read off the socket (%v)", v)
	}
	if v := value("cascade_pion_path_connections_total"); v != 0 {
		t.Fatalf("%v subscriber connections on pion's path", v)
	}
}

// scrapeMetrics reads the node's /metrics once and returns a lookup of unlabelled samples.
func scrapeMetrics(t *testing.T, addr string) func(name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return func(name string) float64 {
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(body)
		if m == nil {
			t.Fatalf("%s not on /metrics:\n%s", name, body)
		}
		v, err := strconv.ParseFloat(string(m[1]), 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
