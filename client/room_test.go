package client

import (
	"testing"

	cascadev1 "github.com/cascade-sfu/cascade/proto/cascade/v1"
)

func TestRoomState(t *testing.T) {
	r := newRoomState(&cascadev1.JoinResponse{
		Room:        &cascadev1.Room{Name: "r", NumParticipants: 2},
		Participant: &cascadev1.ParticipantInfo{Sid: "PA_me", Identity: "me"},
		Others: []*cascadev1.ParticipantInfo{{
			Sid: "PA_a", Identity: "a", JoinedAtMs: 1,
			Tracks: []*cascadev1.TrackInfo{{Sid: "TR_a1", Kind: cascadev1.TrackKind_TRACK_KIND_VIDEO}},
		}},
	})
	steps := []struct {
		name  string
		apply func()
		check func(t *testing.T)
	}{
		{"join response", func() {}, func(t *testing.T) {
			if p, tr := r.track("TR_a1"); p.GetIdentity() != "a" || tr.GetSid() != "TR_a1" {
				t.Fatalf("track lookup: %v %v", p, tr)
			}
		}},
		{"participant joined", func() { r.joined(&cascadev1.ParticipantInfo{Sid: "PA_b", Identity: "b", JoinedAtMs: 2}) }, func(t *testing.T) {
			ps := r.participants()
			if len(ps) != 2 || ps[0].GetIdentity() != "a" || ps[1].GetIdentity() != "b" || r.roomInfo().GetNumParticipants() != 3 {
				t.Fatalf("participants %v", ps)
			}
		}},
		{"track published by b", func() {
			r.trackPublished("PA_b", &cascadev1.TrackInfo{Sid: "TR_b1", Kind: cascadev1.TrackKind_TRACK_KIND_AUDIO})
		}, func(t *testing.T) {
			p, tr := r.track("TR_b1")
			if p.GetIdentity() != "b" || tr.GetParticipantSid() != "PA_b" {
				t.Fatalf("%v %v", p, tr)
			}
		}},
		{"republished track replaces", func() {
			r.trackPublished("PA_b", &cascadev1.TrackInfo{Sid: "TR_b1", MimeType: "audio/opus"})
		}, func(t *testing.T) {
			if p := r.byIdentity("b"); len(p.GetTracks()) != 1 || p.GetTracks()[0].GetMimeType() != "audio/opus" {
				t.Fatalf("%v", p)
			}
		}},
		{"muted", func() { r.trackMuted("PA_b", "TR_b1", true) }, func(t *testing.T) {
			if _, tr := r.track("TR_b1"); !tr.GetMuted() {
				t.Fatal("not muted")
			}
		}},
		{"update without tracks keeps tracks", func() {
			r.updated(&cascadev1.ParticipantInfo{Sid: "PA_b", Identity: "b", Metadata: "m"})
		}, func(t *testing.T) {
			if p := r.participant("PA_b"); p.GetMetadata() != "m" || len(p.GetTracks()) != 1 {
				t.Fatalf("%v", p)
			}
		}},
		{"unpublished", func() { r.trackUnpublished("PA_b", "TR_b1") }, func(t *testing.T) {
			if _, tr := r.track("TR_b1"); tr != nil {
				t.Fatal("track still there")
			}
		}},
		{"track from an unknown participant", func() { r.trackPublished("PA_x", &cascadev1.TrackInfo{Sid: "TR_x"}) }, func(t *testing.T) {
			if p, _ := r.track("TR_x"); p.GetSid() != "PA_x" {
				t.Fatalf("%v", p)
			}
		}},
		{"left", func() { r.left("PA_a", "a") }, func(t *testing.T) {
			if r.participant("PA_a") != nil || r.byIdentity("a") != nil {
				t.Fatal("a still there")
			}
		}},
		{"local track", func() { r.trackPublished("PA_me", &cascadev1.TrackInfo{Sid: "TR_me"}) }, func(t *testing.T) {
			if len(r.localInfo().GetTracks()) != 1 || len(r.participants()) != 2 {
				t.Fatalf("local %v others %v", r.localInfo(), r.participants())
			}
		}},
		{"copies are independent", func() {
			p := r.participant("PA_b")
			p.Identity = "changed"
		}, func(t *testing.T) {
			if r.participant("PA_b").GetIdentity() != "b" {
				t.Fatal("state changed through a returned copy")
			}
		}},
	}
	for _, s := range steps {
		s.apply()
		t.Run(s.name, s.check)
	}
}

func TestSignalURL(t *testing.T) {
	tests := map[string]string{
		"ws://127.0.0.1:7700":             "ws://127.0.0.1:7700/v1/signal",
		"http://h:1/":                     "ws://h:1/v1/signal",
		"https://sfu.example.com":         "wss://sfu.example.com/v1/signal",
		"wss://sfu.example.com/custom/ws": "wss://sfu.example.com/custom/ws",
	}
	for in, want := range tests {
		got, err := signalURL(in)
		if err != nil || got != want {
			t.Errorf("signalURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := signalURL("ftp://x"); err == nil {
		t.Error("ftp accepted")
	}
}

func TestParseStreamID(t *testing.T) {
	if p, tr := parseStreamID("PA_1|TR_2", "TR_2"); p != "PA_1" || tr != "TR_2" {
		t.Errorf("got %q %q", p, tr)
	}
	if p, tr := parseStreamID("legacy", "TR_9"); p != "" || tr != "TR_9" {
		t.Errorf("got %q %q", p, tr)
	}
}
