package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"
	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/cascade-sfu/cascade/proto/cascade/v1"
	"github.com/cascade-sfu/cascade/sfu"
)

// session is one client's WebSocket. Its reader goroutine handles requests strictly in
// order; its writer goroutine drains a bounded queue that the SFU fills without blocking.
type session struct {
	srv    *Server
	conn   *websocket.Conn
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc

	mu          sync.Mutex // guards out sends after closing, closeStatus, closing
	out         chan *pb.SignalResponse
	closing     bool
	closeStatus websocket.StatusCode
	closeReason string
	flush       chan struct{} // closed when the writer should flush and close

	idle *time.Timer // fires when the client has been silent too long

	part    *sfu.Participant // set by join; touched only by the reader goroutine
	joined  atomic.Bool      // part is set (read by the idle timer)
	badMsgs int
}

var marshal = protojson.MarshalOptions{}
var unmarshal = protojson.UnmarshalOptions{}

func newSession(srv *Server, conn *websocket.Conn, remote string) *session {
	ctx, cancel := context.WithCancel(context.Background())
	return &session{
		srv: srv, conn: conn, log: srv.log.With("remote", remote), ctx: ctx, cancel: cancel,
		out: make(chan *pb.SignalResponse, srv.cfg.SendQueue), flush: make(chan struct{}),
	}
}

func (s *session) run() {
	// The hard read limit is a backstop; frames over MaxMessageBytes are caught below so
	// the client is told why before the socket closes.
	s.conn.SetReadLimit(int64(s.srv.cfg.MaxMessageBytes) * 4)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.writer()
	}()
	s.idle = time.AfterFunc(s.srv.cfg.JoinTimeout, func() {
		if !s.joined.Load() {
			s.fail(pb.ErrorCode_ERROR_CODE_TIMEOUT, "join", "no join message in time")
		} else {
			s.fail(pb.ErrorCode_ERROR_CODE_TIMEOUT, "", "no message within the ping timeout")
		}
	})
	s.readLoop()
	s.idle.Stop()
	if s.part != nil {
		s.part.Leave(sfu.LeaveSignalClosed)
	}
	s.closeWith(websocket.StatusNormalClosure, "")
	select {
	case <-writerDone:
	case <-time.After(s.srv.cfg.WriteTimeout):
	}
	s.cancel()
	<-writerDone
	_ = s.conn.CloseNow()
}

func (s *session) readLoop() {
	max := s.srv.cfg.MaxMessageBytes
	buf := make([]byte, max+1)
	for {
		typ, rd, err := s.conn.Reader(s.ctx)
		if err != nil {
			return
		}
		n, err := io.ReadFull(rd, buf)
		switch {
		case err == nil: // filled max+1 bytes: too large
			s.fail(pb.ErrorCode_ERROR_CODE_MESSAGE_TOO_LARGE, "", fmt.Sprintf("frame exceeds %d bytes", max))
			return
		case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		default:
			if s.isClosing() {
				return
			}
			var ce websocket.CloseError
			if errors.As(err, &ce) || errors.Is(err, context.Canceled) {
				return
			}
			s.log.Debug("read failed", "err", err)
			return
		}
		if s.isClosing() {
			return
		}
		timeout := s.srv.cfg.PingTimeout
		if s.part == nil {
			timeout = s.srv.cfg.JoinTimeout
		}
		s.idle.Reset(timeout)
		if typ != websocket.MessageText {
			s.badMessage(pb.ErrorCode_ERROR_CODE_BAD_MESSAGE, "", "binary frames are not part of the protocol; send proto3 JSON text")
			continue
		}
		if !s.handle(buf[:n]) {
			return
		}
	}
}

// handle processes one frame; false ends the session.
func (s *session) handle(b []byte) bool {
	if !json.Valid(b) {
		s.badMessage(pb.ErrorCode_ERROR_CODE_BAD_MESSAGE, "", "frame is not valid JSON")
		return true
	}
	var req pb.SignalRequest
	if err := unmarshal.Unmarshal(b, &req); err != nil {
		if strings.Contains(err.Error(), "unknown field") {
			s.badMessage(pb.ErrorCode_ERROR_CODE_UNKNOWN_MESSAGE, "", "unknown message or field: "+err.Error())
		} else {
			s.badMessage(pb.ErrorCode_ERROR_CODE_BAD_MESSAGE, "", "malformed message: "+err.Error())
		}
		return true
	}
	if req.Message == nil {
		s.badMessage(pb.ErrorCode_ERROR_CODE_UNKNOWN_MESSAGE, "", "the frame names no message")
		return true
	}
	if join, ok := req.Message.(*pb.SignalRequest_Join); ok {
		if s.part != nil {
			s.badMessage(pb.ErrorCode_ERROR_CODE_ALREADY_JOINED, "join", "already joined")
			return true
		}
		return s.join(join.Join)
	}
	if s.part == nil {
		s.badMessage(pb.ErrorCode_ERROR_CODE_NOT_JOINED, requestName(&req), "send join first")
		return true
	}
	p := s.part
	switch m := req.Message.(type) {
	case *pb.SignalRequest_Offer:
		sd := webrtc.SessionDescription{Type: webrtc.NewSDPType(m.Offer.GetType()), SDP: m.Offer.GetSdp()}
		s.reply("offer", p.HandleOffer(sd, m.Offer.GetId()))
	case *pb.SignalRequest_Answer:
		sd := webrtc.SessionDescription{Type: webrtc.NewSDPType(m.Answer.GetType()), SDP: m.Answer.GetSdp()}
		s.reply("answer", p.HandleAnswer(sd, m.Answer.GetId()))
	case *pb.SignalRequest_Trickle:
		if m.Trickle.GetCandidate() == nil {
			s.badMessage(pb.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "trickle", "trickle without a candidate")
			return true
		}
		target := sfu.TargetPublisher
		if m.Trickle.GetTarget() == pb.SignalTarget_SIGNAL_TARGET_SUBSCRIBER {
			target = sfu.TargetSubscriber
		}
		s.reply("trickle", p.AddICECandidate(target, candidateFromPB(m.Trickle.GetCandidate())))
	case *pb.SignalRequest_AddTrack:
		s.addTrack(m.AddTrack)
	case *pb.SignalRequest_Mute:
		s.reply("mute", p.SetTrackMuted(m.Mute.GetTrackSid(), m.Mute.GetMuted()))
	case *pb.SignalRequest_Unpublish:
		s.reply("unpublish", p.Unpublish(m.Unpublish.GetTrackSid()))
	case *pb.SignalRequest_Subscription:
		s.subscription(m.Subscription)
	case *pb.SignalRequest_Leave:
		p.Leave(sfu.LeaveClientRequest)
		return false
	case *pb.SignalRequest_TrackSettings:
		ts := m.TrackSettings
		s.reply("track_settings", p.UpdateTrackSettings(ts.GetTrackSids(), sfu.TrackSettings{Disabled: ts.GetDisabled(),
			Width: ts.GetWidth(), Height: ts.GetHeight(), MaxRID: ts.GetMaxRid(), Priority: ts.GetPriority()}))
	case *pb.SignalRequest_Ping:
		s.send(&pb.SignalResponse{Message: &pb.SignalResponse_Pong{Pong: &pb.Pong{
			TimestampMs: m.Ping.GetTimestampMs(), ServerTimeMs: time.Now().UnixMilli()}}})
	default:
		s.badMessage(pb.ErrorCode_ERROR_CODE_UNKNOWN_MESSAGE, "", "unsupported message")
	}
	return true
}

func requestName(req *pb.SignalRequest) string {
	if f := req.ProtoReflect().WhichOneof(req.ProtoReflect().Descriptor().Oneofs().ByName("message")); f != nil {
		return string(f.Name())
	}
	return ""
}

func (s *session) join(j *pb.JoinRequest) bool {
	claims, err := s.srv.verifier.Verify(j.GetToken())
	if err != nil {
		s.fail(codeFor(err), "join", err.Error())
		return false
	}
	g := claims.Video
	if g == nil || !g.RoomJoin || g.Room == "" {
		s.fail(pb.ErrorCode_ERROR_CODE_ROOM_NOT_ALLOWED, "join", "the token grants no room to join")
		return false
	}
	if claims.Identity() == "" {
		s.fail(pb.ErrorCode_ERROR_CODE_TOKEN_INVALID, "join", "the token has no identity")
		return false
	}
	perm := sfu.Permission{CanSubscribe: g.Subscribe(), CanPublish: g.Publish(), CanPublishData: g.PublishData(), Hidden: g.Hidden}
	for _, src := range g.CanPublishSources {
		for _, ts := range []sfu.TrackSource{sfu.SourceCamera, sfu.SourceMicrophone, sfu.SourceScreenShare, sfu.SourceScreenShareAudio} {
			if ts.GrantName() == src {
				perm.Sources = append(perm.Sources, ts)
			}
		}
	}
	if len(g.CanPublishSources) > 0 && len(perm.Sources) == 0 {
		perm.CanPublish = false // only unknown sources named: nothing may be published
	}
	p, err := s.srv.sfu.Join(sfu.JoinParams{Room: g.Room, Identity: claims.Identity(), Name: claims.Name,
		Metadata: claims.Metadata, Permission: perm, AutoSubscribe: !j.GetNoAutoSubscribe()}, s)
	if err != nil {
		s.fail(codeFor(err), "join", err.Error())
		return false
	}
	s.part = p
	s.joined.Store(true)
	s.idle.Reset(s.srv.cfg.PingTimeout)
	return true
}

func (s *session) addTrack(a *pb.AddTrackRequest) {
	params := sfu.AddTrackParams{CID: a.GetCid(), Name: a.GetName(), Kind: kindFromPB(a.GetKind()),
		Source: SourceFromPB(a.GetSource()), Width: a.GetWidth(), Height: a.GetHeight(), Muted: a.GetMuted()}
	for _, l := range a.GetLayers() {
		params.Layers = append(params.Layers, sfu.VideoLayer{RID: l.GetRid(), Width: l.GetWidth(), Height: l.GetHeight(), Bitrate: l.GetBitrate()})
	}
	info, err := s.part.AddTrack(params)
	if err != nil {
		s.reply("add_track", err)
		return
	}
	s.send(&pb.SignalResponse{Message: &pb.SignalResponse_TrackPublished{TrackPublished: &pb.TrackPublishedResponse{
		Cid: a.GetCid(), Track: TrackToPB(info)}}})
}

func (s *session) subscription(u *pb.UpdateSubscription) {
	res, err := s.part.UpdateSubscription(u.GetTrackSids(), u.GetSubscribe())
	if err != nil {
		s.reply("subscription", err)
		return
	}
	for _, r := range res {
		sr := &pb.SubscriptionResponse{TrackSid: r.TrackSID, Subscribed: r.Subscribed}
		if r.Err != nil {
			sr.Error = &pb.SignalError{Code: codeFor(r.Err), Message: r.Err.Error(), Request: "subscription"}
		}
		s.send(&pb.SignalResponse{Message: &pb.SignalResponse_Subscription{Subscription: sr}})
	}
}

// reply sends an error for a failed request; success needs no reply.
func (s *session) reply(request string, err error) {
	if err == nil {
		return
	}
	if errors.Is(err, sfu.ErrParticipantClosed) {
		return
	}
	code := codeFor(err)
	s.log.Info("request failed", "request", request, "code", code.String(), "err", err)
	s.send(errorResponse(code, request, err.Error()))
}

// badMessage reports a protocol error; the session goes on. Logged for the first few.
func (s *session) badMessage(code pb.ErrorCode, request, msg string) {
	s.badMsgs++
	if s.badMsgs <= 3 {
		s.log.Info("bad message from client", "code", code.String(), "msg", msg)
	}
	s.send(errorResponse(code, request, msg))
}

// fail sends an error and ends the session.
func (s *session) fail(code pb.ErrorCode, request, msg string) {
	s.log.Info("closing session", "code", code.String(), "msg", msg)
	s.send(errorResponse(code, request, msg))
	status := websocket.StatusPolicyViolation
	if code == pb.ErrorCode_ERROR_CODE_MESSAGE_TOO_LARGE {
		status = websocket.StatusMessageTooBig
	}
	s.closeWith(status, code.String())
}

// send queues a message without blocking. A client too slow to drain its queue loses its
// session rather than slowing the SFU.
func (s *session) send(m *pb.SignalResponse) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return
	}
	select {
	case s.out <- m:
	default:
		s.log.Warn("client not reading; closing session", "queued", len(s.out))
		s.closeLocked(websocket.StatusPolicyViolation, "send queue overflow")
	}
}

func (s *session) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *session) closeWith(status websocket.StatusCode, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeLocked(status, reason)
}

func (s *session) closeLocked(status websocket.StatusCode, reason string) {
	if s.closing {
		return
	}
	s.closing = true
	s.closeStatus = status
	s.closeReason = reason
	close(s.flush)
}

// writer sends queued messages; once flush is closed it sends what is queued, closes the
// socket with the recorded status, and returns.
func (s *session) writer() {
	for {
		select {
		case m := <-s.out:
			if !s.write(m) {
				_ = s.conn.CloseNow()
				return
			}
		case <-s.flush:
			for {
				select {
				case m := <-s.out:
					if !s.write(m) {
						_ = s.conn.CloseNow()
						return
					}
				default:
					s.mu.Lock()
					status, reason := s.closeStatus, s.closeReason
					s.mu.Unlock()
					ctx, cancel := context.WithTimeout(s.ctx, time.Second)
					defer cancel()
					closed := make(chan struct{})
					go func() {
						defer close(closed)
						_ = s.conn.Close(status, reason)
					}()
					select {
					case <-closed:
					case <-ctx.Done():
						_ = s.conn.CloseNow()
						<-closed
					}
					return
				}
			}
		case <-s.ctx.Done():
			return
		}
	}
}

func (s *session) write(m *pb.SignalResponse) bool {
	b, err := marshal.Marshal(m)
	if err != nil {
		s.log.Error("marshal failed", "err", err)
		return true
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.srv.cfg.WriteTimeout)
	defer cancel()
	if err := s.conn.Write(ctx, websocket.MessageText, b); err != nil {
		s.log.Debug("write failed", "err", err)
		return false
	}
	return true
}

// The session is the participant's sfu.Sink.

func (s *session) SendJoin(res *sfu.JoinResult) {
	jr := &pb.JoinResponse{Room: RoomToPB(res.Room), Participant: ParticipantToPB(res.Participant),
		IceServers: iceServersToPB(res.ICEServers), ServerVersion: s.srv.cfg.ServerVersion,
		PingIntervalMs: uint32(s.srv.cfg.PingInterval / time.Millisecond), PingTimeoutMs: uint32(s.srv.cfg.PingTimeout / time.Millisecond),
		MaxMessageBytes: uint32(s.srv.cfg.MaxMessageBytes)}
	for _, o := range res.Others {
		jr.Others = append(jr.Others, ParticipantToPB(o))
	}
	s.send(&pb.SignalResponse{Message: &pb.SignalResponse_Join{Join: jr}})
}

func (s *session) SendOffer(sd webrtc.SessionDescription, id uint32) {
	s.send(&pb.SignalResponse{Message: &pb.SignalResponse_Offer{Offer: sdpToPB(sd, id)}})
}

func (s *session) SendAnswer(sd webrtc.SessionDescription, id uint32) {
	s.send(&pb.SignalResponse{Message: &pb.SignalResponse_Answer{Answer: sdpToPB(sd, id)}})
}

func (s *session) SendCandidate(target sfu.Target, c webrtc.ICECandidateInit) {
	t := pb.SignalTarget_SIGNAL_TARGET_PUBLISHER
	if target == sfu.TargetSubscriber {
		t = pb.SignalTarget_SIGNAL_TARGET_SUBSCRIBER
	}
	s.send(&pb.SignalResponse{Message: &pb.SignalResponse_Trickle{Trickle: &pb.TrickleRequest{Target: t, Candidate: candidateToPB(c)}}})
}

func (s *session) SendEvent(e sfu.Event) {
	if m := EventToPB(e); m != nil {
		s.send(m)
	}
}

func (s *session) Close(reason sfu.LeaveReason, message string) {
	if reason != sfu.LeaveClientRequest && reason != sfu.LeaveSignalClosed {
		if message == "" {
			message = reason.String()
		}
		s.send(&pb.SignalResponse{Message: &pb.SignalResponse_Leave{Leave: &pb.LeaveResponse{Reason: LeaveReasonToPB(reason), Message: message}}})
	}
	s.closeWith(websocket.StatusNormalClosure, reason.String())
}

// SendStreamState implements sfu.QualitySink.
func (s *session) SendStreamState(u sfu.StreamStateUpdate) {
	s.send(&pb.SignalResponse{Message: &pb.SignalResponse_StreamState{StreamState: StreamStateToPB(u)}})
}

// SendSubscribedLayers implements sfu.QualitySink.
func (s *session) SendSubscribedLayers(trackSID string, layers []sfu.SubscribedLayer) {
	u := &pb.SubscribedLayersUpdate{TrackSid: trackSID}
	for _, l := range layers {
		u.Layers = append(u.Layers, &pb.SubscribedLayer{Rid: l.RID, Active: l.Active})
	}
	s.send(&pb.SignalResponse{Message: &pb.SignalResponse_SubscribedLayers{SubscribedLayers: u}})
}
