package e2e

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/cascade-sfu/cascade/client"
	cascadev1 "github.com/cascade-sfu/cascade/proto/cascade/v1"
	"github.com/cascade-sfu/cascade/sfu"
)

// TestCodecsForwarded publishes H.264, VP9 and AV1 as single-layer video and checks that a
// subscriber gets every payload unchanged and in order, starting at a keyframe.
func TestCodecsForwarded(t *testing.T) {
	noLeaks(t)
	n := startE2ENode(t, nil)
	cases := []struct {
		name string
		cap  webrtc.RTPCodecCapability
		// payload for packet i, with i in bytes 2 and 3.
		payload func(i int) []byte
	}{
		{"h264", webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"},
			func(i int) []byte {
				if i%30 == 0 {
					return append([]byte{0x65, 0x88, byte(i >> 8), byte(i)}, bytes.Repeat([]byte{byte(i)}, 200)...) // IDR slice
				}
				return append([]byte{0x41, 0x9a, byte(i >> 8), byte(i)}, bytes.Repeat([]byte{byte(i)}, 100)...) // non-IDR slice
			}},
		{"vp9", webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP9, ClockRate: 90000, SDPFmtpLine: "profile-id=0"},
			func(i int) []byte {
				return append([]byte{0x8c, 0, byte(i >> 8), byte(i)}, bytes.Repeat([]byte{byte(i)}, 150)...)
			}},
		{"av1", webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeAV1, ClockRate: 90000},
			func(i int) []byte {
				// The aggregation header's N bit starts a coded video sequence: a keyframe.
				head := byte(0x10)
				if i%30 == 0 {
					head |= 0x08
				}
				return append([]byte{head, 0, byte(i >> 8), byte(i)}, bytes.Repeat([]byte{byte(i)}, 150)...)
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			room := "codec-" + tc.name
			pub := joinPeer(t, n, room, "pub")
			subC := joinPeer(t, n, room, "sub")
			var mu sync.Mutex
			var got []*rtp.Packet
			var mime string
			subC.c.OnTrack(func(rt *client.RemoteTrack) {
				mu.Lock()
				mime = rt.Track.Codec().MimeType
				mu.Unlock()
				for {
					p, err := rt.ReadRTP()
					if err != nil {
						return
					}
					mu.Lock()
					got = append(got, p)
					mu.Unlock()
				}
			})
			track, err := webrtc.NewTrackLocalStaticRTP(tc.cap, "v-"+tc.name, "s-"+tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := pub.c.PublishTrack(track, client.TrackOptions{Name: tc.name, Source: cascadev1.TrackSource_TRACK_SOURCE_CAMERA}); err != nil {
				t.Fatal(err)
			}
			// Send until the subscriber has 60 packets after its first, then check the run.
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				tick := time.NewTicker(10 * time.Millisecond)
				defer tick.Stop()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					_ = track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, SequenceNumber: uint16(i),
						Timestamp: uint32(i * 3000)}, Payload: tc.payload(i)})
				}
			}()
			stopped := false
			stopSending := func() {
				if !stopped {
					stopped = true
					close(stop)
					<-done
				}
			}
			defer stopSending()
			eventually(t, tc.name+" packets at the subscriber", 15*time.Second, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(got) >= 60
			}, func() string {
				mu.Lock()
				defer mu.Unlock()
				out := fmt.Sprintf("got %d packets;", len(got))
				for _, p := range n.SFU().Room(room).Participants() {
					out += fmt.Sprintf(" %s: %+v", p.Identity(), p.DownTrackStats())
				}
				return out
			})
			stopSending()
			mu.Lock()
			defer mu.Unlock()
			if want := tc.cap.MimeType; mime != want {
				t.Fatalf("subscriber negotiated %s, want %s", mime, want)
			}
			// Bytes 2 and 3 of every payload carry the packet's index.
			first := int(got[0].Payload[2])<<8 | int(got[0].Payload[3])
			if tc.name != "vp9" && first%30 != 0 {
				t.Fatalf("forwarding began at packet %d, not at a keyframe", first)
			}
			for k, p := range got {
				i := first + k
				if want := tc.payload(i); !bytes.Equal(p.Payload, want) {
					t.Fatalf("packet %d (source %d): payload differs", k, i)
				}
				if k > 0 && p.SequenceNumber != got[k-1].SequenceNumber+1 {
					t.Fatalf("packet %d: seq %d after %d", k, p.SequenceNumber, got[k-1].SequenceNumber)
				}
				if k > 0 && p.Timestamp-got[k-1].Timestamp != 3000 {
					t.Fatalf("packet %d: timestamp step %d", k, p.Timestamp-got[k-1].Timestamp)
				}
			}
		})
	}
}

// TestMutedTrackIsNotForwarded mutes a publisher's video on the server side while the
// publisher keeps sending: forwarding stops (the subscriber is told why) and resumes at a
// keyframe on unmute.
func TestMutedTrackIsNotForwarded(t *testing.T) {
	noLeaks(t)
	n := startE2ENode(t, nil)
	pub := joinPeer(t, n, "mute", "pub")
	sub := joinPeer(t, n, "mute", "sub")
	src := pub.publishAV(127)
	eventually(t, "sub receiving", 15*time.Second, func() bool { return sub.receiving(10, 10, "pub") }, sub.describe)
	var sp *sfu.Participant
	for _, p := range n.SFU().Room("mute").Participants() {
		if p.Identity() == "pub" {
			sp = p
		}
	}
	if err := sp.SetTrackMuted(src.vt.SID(), true); err != nil {
		t.Fatal(err)
	}
	eventually(t, "stream state muted", 5*time.Second, func() bool {
		st := sub.c.StreamState(src.vt.SID())
		return st != nil && st.GetReason() == "muted"
	})
	frames := func() int {
		for _, s := range sub.byPublisher("pub") {
			if s.kind == webrtc.RTPCodecTypeVideo {
				return s.frames
			}
		}
		return 0
	}
	// Forwarding has stopped once the count holds still across several allocation rounds.
	last, since := frames(), time.Now()
	eventually(t, "video to stop", 10*time.Second, func() bool {
		if f := frames(); f != last {
			last, since = f, time.Now()
		}
		return time.Since(since) > time.Second
	})
	if err := sp.SetTrackMuted(src.vt.SID(), false); err != nil {
		t.Fatal(err)
	}
	eventually(t, "video to resume", 10*time.Second, func() bool { return frames() > last+10 }, sub.describe)
}
