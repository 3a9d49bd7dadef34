package signaling_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/cascade-sfu/cascade/auth"
	"github.com/cascade-sfu/cascade/internal/testnode"
	"github.com/cascade-sfu/cascade/node"
	pb "github.com/cascade-sfu/cascade/proto/cascade/v1"
	"github.com/cascade-sfu/cascade/sfu"
	"github.com/cascade-sfu/cascade/signaling"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func startNode(t *testing.T, tweak func(*node.Config)) *node.Node {
	t.Helper()
	return testnode.Start(t, nil, func(c *node.Config) {
		c.MaxMessageBytes = 8 << 10
		if tweak != nil {
			tweak(c)
		}
	})
}

func token(t *testing.T, room, identity string, grant func(*auth.VideoGrant), ttl time.Duration) string {
	t.Helper()
	return testnode.Mint(t, auth.TokenParams{Identity: identity, TTL: ttl, Grant: testnode.JoinGrant(room, grant)})
}

type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
}

func dial(t *testing.T, n *node.Node) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+n.HTTPAddr()+"/v1/signal", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = c.CloseNow() })
	return &wsClient{t: t, conn: c}
}

func (c *wsClient) sendRaw(s string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

func (c *wsClient) send(m *pb.SignalRequest) {
	c.t.Helper()
	b, err := protojson.Marshal(m)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(string(b))
}

// next returns the next message, or nil once the socket is closed.
func (c *wsClient) next() *pb.SignalResponse {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, b, err := c.conn.Read(ctx)
	if err != nil {
		return nil
	}
	var m pb.SignalResponse
	if err := protojson.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("server sent unparsable %q: %v", b, err)
	}
	return &m
}

// waitFor skips messages until match returns true; it fails if the socket closes first.
func (c *wsClient) waitFor(what string, match func(*pb.SignalResponse) bool) *pb.SignalResponse {
	c.t.Helper()
	for {
		m := c.next()
		if m == nil {
			c.t.Fatalf("socket closed while waiting for %s", what)
		}
		if match(m) {
			return m
		}
	}
}

func (c *wsClient) expectError(code pb.ErrorCode) {
	c.t.Helper()
	m := c.waitFor("error "+code.String(), func(m *pb.SignalResponse) bool { return m.GetError() != nil })
	if m.GetError().GetCode() != code {
		c.t.Fatalf("error %v (%s), want %v", m.GetError().GetCode(), m.GetError().GetMessage(), code)
	}
}

func (c *wsClient) expectClosed() {
	c.t.Helper()
	for {
		if m := c.next(); m == nil {
			return
		} else if m.GetError() != nil || m.GetLeave() != nil {
			continue
		} else {
			c.t.Fatalf("expected the session to close, got %v", m)
		}
	}
}

func (c *wsClient) join(tok string) *pb.JoinResponse {
	c.t.Helper()
	c.send(&pb.SignalRequest{Message: &pb.SignalRequest_Join{Join: &pb.JoinRequest{Token: tok}}})
	m := c.waitFor("join", func(m *pb.SignalResponse) bool { return m.GetJoin() != nil || m.GetError() != nil })
	if m.GetError() != nil {
		c.t.Fatalf("join failed: %v", m.GetError())
	}
	return m.GetJoin()
}

func TestJoinRejections(t *testing.T) {
	n := startNode(t, nil)
	wrongSecret, _ := auth.Mint(testnode.Key, "another-secret-that-is-long-enough-xx", auth.TokenParams{Identity: "a", Grant: auth.VideoGrant{Room: "r", RoomJoin: true}})
	unknownKey, _ := auth.Mint("NOPE", testnode.Secret, auth.TokenParams{Identity: "a", Grant: auth.VideoGrant{Room: "r", RoomJoin: true}})
	tests := []struct {
		name  string
		token string
		code  pb.ErrorCode
	}{
		{"missing", "", pb.ErrorCode_ERROR_CODE_TOKEN_MISSING},
		{"garbage", "not.a.jwt", pb.ErrorCode_ERROR_CODE_TOKEN_INVALID},
		{"wrong secret", wrongSecret, pb.ErrorCode_ERROR_CODE_TOKEN_INVALID},
		{"unknown key", unknownKey, pb.ErrorCode_ERROR_CODE_TOKEN_INVALID},
		{"expired", expiredToken(t), pb.ErrorCode_ERROR_CODE_TOKEN_EXPIRED},
		{"no room", token(t, "", "a", nil, 0), pb.ErrorCode_ERROR_CODE_ROOM_NOT_ALLOWED},
		{"no join grant", token(t, "r", "a", func(g *auth.VideoGrant) { g.RoomJoin = false }, 0), pb.ErrorCode_ERROR_CODE_ROOM_NOT_ALLOWED},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, n)
			c.send(&pb.SignalRequest{Message: &pb.SignalRequest_Join{Join: &pb.JoinRequest{Token: tc.token}}})
			c.expectError(tc.code)
			c.expectClosed()
		})
	}
	if rooms := n.SFU().Rooms(); len(rooms) != 0 {
		t.Fatalf("rejected joins left %d rooms", len(rooms))
	}
}

func expiredToken(t *testing.T) string {
	t.Helper()
	// Minted an hour ago with a minute to live: well past the verifier's clock-skew leeway.
	tok, err := auth.MintAt(testnode.Key, testnode.Secret, auth.TokenParams{Identity: "a", TTL: time.Minute, Grant: auth.VideoGrant{Room: "r", RoomJoin: true}},
		time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
func TestBadMessagesAffectOnlyTheSender(t *testing.T) {
	n := startNode(t, nil)
	good := dial(t, n)
	good.join(token(t, "room", "good", nil, 0))
	good.waitFor("subscriber offer", func(m *pb.SignalResponse) bool { return m.GetOffer() != nil })

	bad := dial(t, n)
	bad.sendRaw(`{"ping":{}}`)
	bad.expectError(pb.ErrorCode_ERROR_CODE_NOT_JOINED)
	bad.join(token(t, "room", "bad", nil, 0))
	cases := []struct {
		frame string
		code  pb.ErrorCode
	}{
		{`{not json`, pb.ErrorCode_ERROR_CODE_BAD_MESSAGE},
		{`{"teleport":{}}`, pb.ErrorCode_ERROR_CODE_UNKNOWN_MESSAGE},
		{`{}`, pb.ErrorCode_ERROR_CODE_UNKNOWN_MESSAGE},
		{`{"mute":{"trackSid":5}}`, pb.ErrorCode_ERROR_CODE_BAD_MESSAGE},
		{`{"join":{"token":"x"}}`, pb.ErrorCode_ERROR_CODE_ALREADY_JOINED},
		{`{"offer":{"type":"offer","sdp":"garbage","id":1}}`, pb.ErrorCode_ERROR_CODE_BAD_SDP},
		{`{"offer":{"type":"offer","sdp":` + jsonString(noCodecOffer) + `,"id":2}}`, pb.ErrorCode_ERROR_CODE_NO_SUPPORTED_CODEC},
		{`{"answer":{"type":"answer","sdp":"v=0","id":99}}`, pb.ErrorCode_ERROR_CODE_BAD_SDP},
		{`{"mute":{"trackSid":"TR_nope","muted":true}}`, pb.ErrorCode_ERROR_CODE_TRACK_NOT_FOUND},
		{`{"unpublish":{"trackSid":"TR_nope"}}`, pb.ErrorCode_ERROR_CODE_TRACK_NOT_FOUND},
		{`{"addTrack":{"cid":"c","kind":"TRACK_KIND_DATA"}}`, pb.ErrorCode_ERROR_CODE_INVALID_ARGUMENT},
		{`{"addTrack":{"cid":"c","kind":"TRACK_KIND_VIDEO","layers":[{"rid":"z"}]}}`, pb.ErrorCode_ERROR_CODE_INVALID_ARGUMENT},
		{`{"trickle":{"target":"SIGNAL_TARGET_PUBLISHER"}}`, pb.ErrorCode_ERROR_CODE_INVALID_ARGUMENT},
	}
	for _, tc := range cases {
		bad.sendRaw(tc.frame)
		bad.expectError(tc.code)
	}
	// Still alive: ping answers.
	bad.sendRaw(`{"ping":{"timestampMs":"42"}}`)
	pong := bad.waitFor("pong", func(m *pb.SignalResponse) bool { return m.GetPong() != nil })
	if pong.GetPong().GetTimestampMs() != 42 {
		t.Fatalf("pong echoes %d", pong.GetPong().GetTimestampMs())
	}
	// An oversize frame ends only this session.
	bad.sendRaw(`{"ping":{},"x":"` + strings.Repeat("a", 9<<10) + `"}`)
	bad.expectError(pb.ErrorCode_ERROR_CODE_MESSAGE_TOO_LARGE)
	bad.expectClosed()
	// The good participant hears that bad left, and is otherwise untouched.
	good.waitFor("bad left", func(m *pb.SignalResponse) bool { return m.GetParticipantLeft().GetIdentity() == "bad" })
	good.sendRaw(`{"ping":{"timestampMs":"7"}}`)
	good.waitFor("pong", func(m *pb.SignalResponse) bool { return m.GetPong() != nil })
	if room := n.SFU().Room("room"); room == nil || len(room.Participants()) != 1 {
		t.Fatal("room should hold just the good participant")
	}
}

func jsonString(s string) string {
	b, _ := protojson.Marshal(&pb.SessionDescription{Sdp: s})
	// {"sdp":"..."} -> "..."
	return strings.TrimSuffix(strings.TrimPrefix(string(b), `{"sdp":`), "}")
}

const noCodecOffer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 100\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\na=ice-ufrag:abcd\r\n" +
	"a=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n" +
	"a=setup:actpass\r\na=rtcp-mux\r\na=rtpmap:100 MPEG4/90000\r\n"

func TestPublishWithoutGrant(t *testing.T) {
	n := startNode(t, nil)
	c := dial(t, n)
	c.join(token(t, "room", "viewer", func(g *auth.VideoGrant) { g.CanPublish = auth.Bool(false) }, 0))
	c.sendRaw(`{"addTrack":{"cid":"cam","kind":"TRACK_KIND_VIDEO","source":"TRACK_SOURCE_CAMERA"}}`)
	c.expectError(pb.ErrorCode_ERROR_CODE_PERMISSION_DENIED)
	// An offer that sends media is refused too.
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	tr, _ := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "cam", "s")
	if _, err := pc.AddTrack(tr); err != nil {
		t.Fatal(err)
	}
	offer, _ := pc.CreateOffer(nil)
	c.send(&pb.SignalRequest{Message: &pb.SignalRequest_Offer{Offer: &pb.SessionDescription{Type: "offer", Sdp: offer.SDP, Id: 1}}})
	c.expectError(pb.ErrorCode_ERROR_CODE_PERMISSION_DENIED)
	// A source the grant does not list.
	c2 := dial(t, n)
	c2.join(token(t, "room", "camonly", func(g *auth.VideoGrant) { g.CanPublishSources = []string{"camera"} }, 0))
	c2.sendRaw(`{"addTrack":{"cid":"scr","kind":"TRACK_KIND_VIDEO","source":"TRACK_SOURCE_SCREEN_SHARE"}}`)
	c2.expectError(pb.ErrorCode_ERROR_CODE_PERMISSION_DENIED)
	c2.sendRaw(`{"addTrack":{"cid":"cam","kind":"TRACK_KIND_VIDEO","source":"TRACK_SOURCE_CAMERA"}}`)
	c2.waitFor("trackPublished", func(m *pb.SignalResponse) bool { return m.GetTrackPublished().GetCid() == "cam" })
	// Subscribing without the grant.
	c3 := dial(t, n)
	c3.join(token(t, "room", "blind", func(g *auth.VideoGrant) { g.CanSubscribe = auth.Bool(false) }, 0))
	c3.sendRaw(`{"subscription":{"trackSids":["TR_x"],"subscribe":true}}`)
	c3.expectError(pb.ErrorCode_ERROR_CODE_PERMISSION_DENIED)
}

func TestJoinTimeoutAndNegotiationTimeout(t *testing.T) {
	n := startNode(t, func(c *node.Config) {
		c.Signaling = signaling.Config{JoinTimeout: 200 * time.Millisecond}
		c.SFU = sfu.Config{NegotiationTimeout: 300 * time.Millisecond}
	})
	idle := dial(t, n)
	idle.expectError(pb.ErrorCode_ERROR_CODE_TIMEOUT)
	idle.expectClosed()

	watcher := dial(t, n)
	watcher.join(token(t, "room", "watcher", nil, 0))
	// watcher answers nothing either, so it will time out too; ghost joins after it.
	ghost := dial(t, n)
	ghost.join(token(t, "room", "ghost", nil, 0))
	// ghost never answers its subscriber offer: it is removed and the others are told.
	ghost.waitFor("leave", func(m *pb.SignalResponse) bool {
		return m.GetLeave().GetReason() == pb.LeaveReason_LEAVE_REASON_TIMEOUT
	})
	ghost.expectClosed()
}

func TestDuplicateIdentityReplacesTheOldSession(t *testing.T) {
	n := startNode(t, nil)
	a := dial(t, n)
	a.join(token(t, "room", "same", nil, 0))
	b := dial(t, n)
	b.join(token(t, "room", "same", nil, 0))
	a.waitFor("leave", func(m *pb.SignalResponse) bool {
		return m.GetLeave().GetReason() == pb.LeaveReason_LEAVE_REASON_DUPLICATE_IDENTITY
	})
	a.expectClosed()
	if room := n.SFU().Room("room"); room == nil || len(room.Participants()) != 1 {
		t.Fatal("room should hold one participant")
	}
}

func TestRoomFull(t *testing.T) {
	n := startNode(t, func(c *node.Config) { c.SFU = sfu.Config{MaxParticipants: 1} })
	a := dial(t, n)
	a.join(token(t, "room", "a", nil, 0))
	b := dial(t, n)
	b.send(&pb.SignalRequest{Message: &pb.SignalRequest_Join{Join: &pb.JoinRequest{Token: token(t, "room", "b", nil, 0)}}})
	b.expectError(pb.ErrorCode_ERROR_CODE_ROOM_FULL)
	b.expectClosed()
}

// A client whose socket dies without a leave is removed, and the others are told.
func TestVanishedClientIsRemoved(t *testing.T) {
	n := startNode(t, nil)
	stay := dial(t, n)
	stay.join(token(t, "room", "stay", nil, 0))
	gone := dial(t, n)
	gone.join(token(t, "room", "gone", nil, 0))
	stay.waitFor("gone joined", func(m *pb.SignalResponse) bool {
		return m.GetParticipantJoined().GetParticipant().GetIdentity() == "gone"
	})
	_ = gone.conn.CloseNow()
	m := stay.waitFor("gone left", func(m *pb.SignalResponse) bool { return m.GetParticipantLeft() != nil })
	if m.GetParticipantLeft().GetIdentity() != "gone" {
		t.Fatalf("left: %v", m.GetParticipantLeft())
	}
}

// A client that stops sending anything (no pings) is closed after the ping timeout.
func TestSilentClientTimesOut(t *testing.T) {
	n := startNode(t, func(c *node.Config) {
		c.Signaling = signaling.Config{PingInterval: 100 * time.Millisecond, PingTimeout: 300 * time.Millisecond}
	})
	stay := dial(t, n)
	stay.join(token(t, "room", "stay", nil, 0))
	silent := dial(t, n)
	silent.join(token(t, "room", "silent", nil, 0))
	// stay keeps pinging; silent does not.
	done := make(chan struct{})
	defer close(done)
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				_ = stay.conn.Write(ctx, websocket.MessageText, []byte(`{"ping":{}}`))
				cancel()
			}
		}
	}()
	silent.expectError(pb.ErrorCode_ERROR_CODE_TIMEOUT)
	silent.expectClosed()
	stay.waitFor("silent left", func(m *pb.SignalResponse) bool {
		return m.GetParticipantLeft().GetIdentity() == "silent"
	})
}
