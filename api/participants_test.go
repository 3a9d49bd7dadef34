package api_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/cascade-sfu/cascade/auth"
	"github.com/cascade-sfu/cascade/client"
	"github.com/cascade-sfu/cascade/client/synth"
	pb "github.com/cascade-sfu/cascade/proto/cascade/v1"
)

func TestListGetAndRemoveParticipants(t *testing.T) {
	h := start(t, nil)
	alice := h.join("room", "alice", nil)
	bob := h.join("room", "bob", nil)
	ghost := h.join("room", "ghost", func(g *auth.VideoGrant) { g.Hidden = true })

	list, err := h.api.ListParticipants(ctx(t), &pb.ListParticipantsRequest{Room: "room"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range list.GetParticipants() {
		ids = append(ids, p.GetIdentity())
	}
	if strings.Join(ids, ",") != "alice,bob,ghost" {
		t.Fatalf("participants %v, want alice,bob,ghost in join order (hidden ones too)", ids)
	}
	p, err := h.api.GetParticipant(ctx(t), &pb.GetParticipantRequest{Room: "room", Identity: "bob"})
	if err != nil || p.GetSid() != bob.c.SID() || !p.GetPermission().GetCanPublish() {
		t.Fatalf("GetParticipant = %v, %v", p, err)
	}

	removed, err := h.api.RemoveParticipant(ctx(t), &pb.RemoveParticipantRequest{Room: "room", Identity: "bob"})
	if err != nil || removed.GetSid() != bob.c.SID() {
		t.Fatalf("RemoveParticipant = %v, %v", removed, err)
	}
	if r := bob.disconnectReason(); r != pb.LeaveReason_LEAVE_REASON_REMOVED {
		t.Fatalf("bob was told %v, want LEAVE_REASON_REMOVED", r)
	}
	eventually(t, "alice seeing bob removed", 10*time.Second, func() bool {
		return alice.got(func() bool { return alice.left["bob"] == pb.LeaveReason_LEAVE_REASON_REMOVED })
	})
	_, err = h.api.GetParticipant(ctx(t), &pb.GetParticipantRequest{Room: "room", Identity: "bob"})
	wantCode(t, err, codes.NotFound, `"bob"`)
	_, err = h.api.RemoveParticipant(ctx(t), &pb.RemoveParticipantRequest{Room: "room", Identity: "bob"})
	wantCode(t, err, codes.NotFound, `"bob"`)
	_ = ghost
}

func TestDeleteRoomDisconnectsEveryone(t *testing.T) {
	h := start(t, nil)
	peers := []*peer{h.join("doomed", "a", nil), h.join("doomed", "b", nil)}
	peers[0].publishAV()
	if _, err := h.api.DeleteRoom(ctx(t), &pb.DeleteRoomRequest{Room: "doomed"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range peers {
		if r := p.disconnectReason(); r != pb.LeaveReason_LEAVE_REASON_ROOM_DELETED {
			t.Fatalf("%s was told %v, want LEAVE_REASON_ROOM_DELETED", p.name, r)
		}
	}
	if h.n.SFU().Room("doomed") != nil {
		t.Fatal("the room is still open")
	}
}

// TestRevokingPublishUnpublishesLive takes publishing away from a participant that is
// sending audio and video: its tracks are unpublished at once, the subscriber's copies end,
// the publisher is told, and it cannot publish again until the grant comes back.
func TestRevokingPublishUnpublishesLive(t *testing.T) {
	h := start(t, nil)
	pub := h.join("perm", "pub", nil)
	sub := h.join("perm", "sub", nil)
	src := pub.publishAV()
	sids := []string{src.vt.SID(), src.at.SID()}
	sub.receiving(20, sids...)

	info, err := h.api.UpdateParticipant(ctx(t), &pb.UpdateParticipantRequest{Room: "perm", Identity: "pub",
		Permission: &pb.ParticipantPermission{CanSubscribe: true, CanPublishData: true}})
	if err != nil {
		t.Fatal(err)
	}
	if info.GetPermission().GetCanPublish() || len(info.GetTracks()) != 0 {
		t.Fatalf("after revoking: %v; want no publish grant and no tracks", info)
	}
	eventually(t, "the subscriber losing both tracks", 10*time.Second, func() bool {
		return sub.got(func() bool {
			return sub.unpublished[sids[0]] && sub.unpublished[sids[1]] && sub.ended[sids[0]] && sub.ended[sids[1]]
		})
	})
	eventually(t, "the publisher told of its new permission and lost tracks", 10*time.Second, func() bool {
		lp := pub.c.LocalParticipant()
		return !lp.GetPermission().GetCanPublish() && len(lp.GetTracks()) == 0 &&
			pub.got(func() bool { return pub.unpublished[sids[0]] && pub.unpublished[sids[1]] })
	})
	// Media still arriving from the publisher goes nowhere.
	if subs := h.n.SFU().Room("perm").Participants(); len(subs) != 2 {
		t.Fatalf("%d participants", len(subs))
	}
	for _, p := range h.n.SFU().Room("perm").Participants() {
		if p.Identity() == "sub" && len(p.Subscriptions()) != 0 {
			t.Fatalf("sub still subscribed to %v", p.Subscriptions())
		}
	}
	// Publishing anew is refused while the grant is gone.
	tr, err := synth.NewOpusTrack("mic2", "again")
	if err != nil {
		t.Fatal(err)
	}
	_, err = pub.c.PublishTrack(tr, client.TrackOptions{Name: "again", Source: pb.TrackSource_TRACK_SOURCE_MICROPHONE})
	if client.ErrorCode(err) != pb.ErrorCode_ERROR_CODE_PERMISSION_DENIED {
		t.Fatalf("publishing without the grant: %v", err)
	}

	// Narrowing to one source removes only what it excludes: grant publishing back, limited
	// to the microphone, and nothing reappears by itself.
	info, err = h.api.UpdateParticipant(ctx(t), &pb.UpdateParticipantRequest{Room: "perm", Identity: "pub",
		Permission: &pb.ParticipantPermission{CanSubscribe: true, CanPublish: true, CanPublishData: true,
			CanPublishSources: []pb.TrackSource{pb.TrackSource_TRACK_SOURCE_MICROPHONE}}})
	if err != nil || !info.GetPermission().GetCanPublish() || len(info.GetPermission().GetCanPublishSources()) != 1 {
		t.Fatalf("re-grant = %v, %v", info, err)
	}
}

// TestRevokingSubscribeStopsForwarding takes subscribing away, then gives it back.
func TestRevokingSubscribeStopsForwarding(t *testing.T) {
	h := start(t, nil)
	pub := h.join("subs", "pub", nil)
	sub := h.join("subs", "sub", nil)
	src := pub.publishAV()
	sids := []string{src.vt.SID(), src.at.SID()}
	sub.receiving(20, sids...)
	subPart := func() []string {
		p, err := h.n.SFU().Room("subs").FindParticipant("sub")
		if err != nil {
			t.Fatal(err)
		}
		return p.Subscriptions()
	}

	if _, err := h.api.UpdateParticipant(ctx(t), &pb.UpdateParticipantRequest{Room: "subs", Identity: "sub",
		Permission: &pb.ParticipantPermission{CanPublish: true, CanPublishData: true}}); err != nil {
		t.Fatal(err)
	}
	if s := subPart(); len(s) != 0 {
		t.Fatalf("still subscribed to %v after the grant was revoked", s)
	}
	eventually(t, "the subscriber's tracks ending", 10*time.Second, func() bool {
		return sub.got(func() bool { return sub.ended[sids[0]] && sub.ended[sids[1]] })
	})
	_, err := h.api.UpdateSubscriptions(ctx(t), &pb.UpdateSubscriptionsRequest{Room: "subs", Identity: "sub", TrackSids: sids, Subscribe: true})
	wantCode(t, err, codes.FailedPrecondition, "can_subscribe")

	// Given back, an auto-subscribing participant receives everything again.
	if _, err := h.api.UpdateParticipant(ctx(t), &pb.UpdateParticipantRequest{Room: "subs", Identity: "sub",
		Permission: &pb.ParticipantPermission{CanSubscribe: true, CanPublish: true, CanPublishData: true}}); err != nil {
		t.Fatal(err)
	}
	if s := subPart(); len(s) != 2 {
		t.Fatalf("subscribed to %v after the grant came back", s)
	}
	eventually(t, "media flowing again", 20*time.Second, func() bool {
		for _, p := range h.n.SFU().Room("subs").Participants() {
			if p.Identity() != "sub" {
				continue
			}
			st := p.DownTrackStats()
			return len(st) == 2 && st[sids[0]].Packets > 10 && st[sids[1]].Packets > 10
		}
		return false
	})
}

func TestUpdateParticipantNameAndMetadata(t *testing.T) {
	h := start(t, nil)
	alice := h.join("meta", "alice", nil)
	bob := h.join("meta", "bob", nil)
	info, err := h.api.UpdateParticipant(ctx(t), &pb.UpdateParticipantRequest{Room: "meta", Identity: "alice",
		Name: proto.String("Alice A."), Metadata: proto.String(`{"role":"host"}`)})
	if err != nil || info.GetName() != "Alice A." || info.GetMetadata() != `{"role":"host"}` || !info.GetPermission().GetCanPublish() {
		t.Fatalf("UpdateParticipant = %v, %v", info, err)
	}
	for _, p := range []*peer{alice, bob} {
		eventually(t, p.name+" hearing the update", 10*time.Second, func() bool {
			return p.got(func() bool {
				return slices.ContainsFunc(p.updates, func(u *pb.ParticipantInfo) bool {
					return u.GetIdentity() == "alice" && u.GetMetadata() == `{"role":"host"}`
				})
			})
		})
	}
	// Only what is set changes.
	info, err = h.api.UpdateParticipant(ctx(t), &pb.UpdateParticipantRequest{Room: "meta", Identity: "alice", Metadata: proto.String("")})
	if err != nil || info.GetName() != "Alice A." || info.GetMetadata() != "" {
		t.Fatalf("second update = %v, %v", info, err)
	}
}

func TestMutePublishedTrack(t *testing.T) {
	h := start(t, nil)
	pub := h.join("mute", "pub", nil)
	sub := h.join("mute", "sub", nil)
	src := pub.publishAV()
	sub.receiving(5, src.at.SID())
	ti, err := h.api.MutePublishedTrack(ctx(t), &pb.MutePublishedTrackRequest{Room: "mute", Identity: "pub", TrackSid: src.at.SID(), Muted: true})
	if err != nil || !ti.GetMuted() || ti.GetSid() != src.at.SID() {
		t.Fatalf("MutePublishedTrack = %v, %v", ti, err)
	}
	for _, p := range []*peer{pub, sub} {
		eventually(t, p.name+" told of the mute", 10*time.Second, func() bool {
			return p.got(func() bool { m, ok := p.muted[src.at.SID()]; return ok && m })
		})
	}
	_, err = h.api.MutePublishedTrack(ctx(t), &pb.MutePublishedTrackRequest{Room: "mute", Identity: "pub", TrackSid: "TR_nope", Muted: true})
	wantCode(t, err, codes.NotFound, "TR_nope")
	_, err = h.api.MutePublishedTrack(ctx(t), &pb.MutePublishedTrackRequest{Room: "mute", Identity: "sub", TrackSid: src.at.SID(), Muted: true})
	wantCode(t, err, codes.NotFound)
}

func TestUpdateSubscriptionsOnBehalf(t *testing.T) {
	h := start(t, nil)
	pub := h.join("pick", "pub", nil)
	sub := h.join("pick", "sub", nil, client.WithAutoSubscribe(false))
	src := pub.publishAV()
	eventually(t, "the tracks published", 10*time.Second, func() bool {
		return len(sub.c.Participant(pub.c.SID()).GetTracks()) == 2
	})
	res, err := h.api.UpdateSubscriptions(ctx(t), &pb.UpdateSubscriptionsRequest{Room: "pick", Identity: "sub",
		TrackSids: []string{src.vt.SID()}, Subscribe: true})
	if err != nil || !slices.Equal(res.GetSubscribedTrackSids(), []string{src.vt.SID()}) {
		t.Fatalf("subscribe = %v, %v", res, err)
	}
	sub.receiving(20, src.vt.SID())

	// An unknown track changes nothing.
	_, err = h.api.UpdateSubscriptions(ctx(t), &pb.UpdateSubscriptionsRequest{Room: "pick", Identity: "sub",
		TrackSids: []string{src.at.SID(), "TR_unknown"}, Subscribe: true})
	wantCode(t, err, codes.NotFound, "TR_unknown")
	_, err = h.api.UpdateSubscriptions(ctx(t), &pb.UpdateSubscriptionsRequest{Room: "pick", Identity: "pub",
		TrackSids: []string{src.vt.SID()}, Subscribe: true})
	wantCode(t, err, codes.InvalidArgument, "itself")
	_, err = h.api.UpdateSubscriptions(ctx(t), &pb.UpdateSubscriptionsRequest{Room: "pick", Identity: "sub", Subscribe: true})
	wantCode(t, err, codes.InvalidArgument, "at least one")

	res, err = h.api.UpdateSubscriptions(ctx(t), &pb.UpdateSubscriptionsRequest{Room: "pick", Identity: "sub",
		TrackSids: []string{src.vt.SID()}, Subscribe: false})
	if err != nil || len(res.GetSubscribedTrackSids()) != 0 {
		t.Fatalf("unsubscribe = %v, %v", res, err)
	}
	eventually(t, "the video ending for sub", 10*time.Second, func() bool {
		return sub.got(func() bool { return sub.ended[src.vt.SID()] })
	})
}

func TestSendData(t *testing.T) {
	h := start(t, nil)
	a := h.join("data", "a", nil)
	b := h.join("data", "b", nil)
	res, err := h.api.SendData(ctx(t), &pb.SendDataRequest{Room: "data", Payload: []byte("to all"), Topic: "news"})
	if err != nil || res.GetRecipients() != 2 {
		t.Fatalf("SendData = %v, %v", res, err)
	}
	res, err = h.api.SendData(ctx(t), &pb.SendDataRequest{Room: "data", Payload: []byte("to b"),
		Kind: pb.DataKind_DATA_KIND_LOSSY, DestinationIdentities: []string{"b"}})
	if err != nil || res.GetRecipients() != 1 {
		t.Fatalf("SendData to b = %v, %v", res, err)
	}
	got := func(p *peer, payload string) bool {
		return p.got(func() bool {
			return slices.ContainsFunc(p.data, func(d client.DataPacket) bool { return string(d.Payload) == payload })
		})
	}
	eventually(t, "everyone getting the broadcast", 10*time.Second, func() bool { return got(a, "to all") && got(b, "to all") })
	eventually(t, "b getting its message", 10*time.Second, func() bool { return got(b, "to b") })
	a.mu.Lock()
	for _, d := range a.data {
		if string(d.Payload) == "to b" {
			t.Error("a got b's message")
		}
		if d.Topic != "news" || d.ParticipantSID != "" {
			t.Errorf("a got %+v; want topic news and no sender", d)
		}
	}
	a.mu.Unlock()

	_, err = h.api.SendData(ctx(t), &pb.SendDataRequest{Room: "data", Payload: make([]byte, 64<<10)})
	wantCode(t, err, codes.InvalidArgument, "limit")
	_, err = h.api.SendData(ctx(t), &pb.SendDataRequest{Room: "data", Payload: []byte("x"), DestinationIdentities: []string{"zed"}})
	wantCode(t, err, codes.NotFound, `"zed"`)
	_, err = h.api.SendData(ctx(t), &pb.SendDataRequest{Room: "data", Payload: []byte("x"), Kind: pb.DataKind(7)})
	wantCode(t, err, codes.InvalidArgument, "kind")
	_, err = h.api.SendData(ctx(t), &pb.SendDataRequest{Room: "nope", Payload: []byte("x")})
	wantCode(t, err, codes.NotFound)
}

func TestParticipantCallsRejectBadInput(t *testing.T) {
	h := start(t, nil)
	h.join("room", "alice", func(g *auth.VideoGrant) { g.Hidden = false })
	c := h.api
	tests := []struct {
		name  string
		call  func() error
		code  codes.Code
		words []string
	}{
		{"list: unknown room", func() error {
			_, err := c.ListParticipants(ctx(t), &pb.ListParticipantsRequest{Room: "nope"})
			return err
		}, codes.NotFound, nil},
		{"get: empty identity", func() error {
			_, err := c.GetParticipant(ctx(t), &pb.GetParticipantRequest{Room: "room"})
			return err
		}, codes.InvalidArgument, []string{"identity is empty"}},
		{"get: long identity", func() error {
			_, err := c.GetParticipant(ctx(t), &pb.GetParticipantRequest{Room: "room", Identity: strings.Repeat("i", 300)})
			return err
		}, codes.InvalidArgument, []string{"300 bytes"}},
		{"update: nothing", func() error {
			_, err := c.UpdateParticipant(ctx(t), &pb.UpdateParticipantRequest{Room: "room", Identity: "alice"})
			return err
		}, codes.InvalidArgument, []string{"nothing to update"}},
		{"update: unknown participant", func() error {
			_, err := c.UpdateParticipant(ctx(t), &pb.UpdateParticipantRequest{Room: "room", Identity: "zed", Name: proto.String("z")})
			return err
		}, codes.NotFound, []string{`"zed"`}},
		{"update: oversize metadata", func() error {
			_, err := c.UpdateParticipant(ctx(t), &pb.UpdateParticipantRequest{Room: "room", Identity: "alice", Metadata: proto.String(strings.Repeat("m", 70000))})
			return err
		}, codes.InvalidArgument, []string{"participant metadata"}},
		{"update: long name", func() error {
			_, err := c.UpdateParticipant(ctx(t), &pb.UpdateParticipantRequest{Room: "room", Identity: "alice", Name: proto.String(strings.Repeat("n", 257))})
			return err
		}, codes.InvalidArgument, []string{"name"}},
		{"update: hidden", func() error {
			_, err := c.UpdateParticipant(ctx(t), &pb.UpdateParticipantRequest{Room: "room", Identity: "alice",
				Permission: &pb.ParticipantPermission{CanSubscribe: true, Hidden: true}})
			return err
		}, codes.InvalidArgument, []string{"hidden"}},
		{"update: unknown source", func() error {
			_, err := c.UpdateParticipant(ctx(t), &pb.UpdateParticipantRequest{Room: "room", Identity: "alice",
				Permission: &pb.ParticipantPermission{CanPublish: true, CanPublishSources: []pb.TrackSource{42}}})
			return err
		}, codes.InvalidArgument, []string{"can_publish_sources"}},
		{"remove: unknown room", func() error {
			_, err := c.RemoveParticipant(ctx(t), &pb.RemoveParticipantRequest{Room: "nope", Identity: "alice"})
			return err
		}, codes.NotFound, nil},
		{"subscriptions: too many", func() error {
			_, err := c.UpdateSubscriptions(ctx(t), &pb.UpdateSubscriptionsRequest{Room: "room", Identity: "alice", TrackSids: make([]string, 300)})
			return err
		}, codes.InvalidArgument, []string{"at most 256"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.call(), tc.code, tc.words...) })
	}
	// Nothing changed.
	p, err := c.GetParticipant(ctx(t), &pb.GetParticipantRequest{Room: "room", Identity: "alice"})
	if err != nil || p.GetName() != "alice" || p.GetMetadata() != "" || !p.GetPermission().GetCanPublish() || !p.GetPermission().GetCanSubscribe() {
		t.Fatalf("alice after bad input: %v, %v", p, err)
	}
}
