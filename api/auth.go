package api

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/cascade-sfu/cascade/auth"
)

// Every RoomService call carries an access token as `authorization: Bearer <jwt>`. A
// missing or bad token is UNAUTHENTICATED; a good token whose grant does not cover the
// call is PERMISSION_DENIED. Health and reflection need no token.

const mintHint = "mint an admin token with `sfu token --admin [--room R]`"

type claimsKey struct{}

// authenticate verifies the bearer token of an incoming call.
func (s *Server) authenticate(ctx context.Context) (*auth.Claims, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get("authorization")
	switch len(vals) {
	case 0:
		return nil, status.Error(codes.Unauthenticated, "no authorization metadata: send `authorization: Bearer <token>`; "+mintHint)
	case 1:
	default:
		return nil, status.Error(codes.Unauthenticated, "more than one authorization value; send exactly one `authorization: Bearer <token>`")
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(vals[0]), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, status.Error(codes.Unauthenticated, "authorization must be `Bearer <token>`")
	}
	claims, err := s.verifier.Verify(strings.TrimSpace(token))
	switch {
	case errors.Is(err, auth.ErrTokenExpired):
		return nil, status.Error(codes.Unauthenticated, "the access token has expired; "+mintHint)
	case errors.Is(err, auth.ErrUnknownKey):
		return nil, status.Error(codes.Unauthenticated, "the access token is signed with an API key this node does not know")
	case err != nil:
		return nil, status.Errorf(codes.Unauthenticated, "the access token is not valid (%v)", err)
	}
	if g := claims.Video; g == nil || !(g.RoomAdmin || g.RoomCreate || g.RoomList) {
		return nil, status.Error(codes.PermissionDenied, "the token grants no control-plane rights (roomAdmin, roomCreate or roomList): a participant's token cannot call RoomService; "+mintHint)
	}
	return claims, nil
}

func (s *Server) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if !isRoomService(info.FullMethod) {
		return handler(ctx, req)
	}
	claims, err := s.authenticate(ctx)
	if err != nil {
		s.logFailure(info.FullMethod, err)
		return nil, err
	}
	resp, err := handler(context.WithValue(ctx, claimsKey{}, claims), req)
	if err != nil {
		s.logFailure(info.FullMethod, err)
	}
	return resp, err
}

func (s *Server) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if !isRoomService(info.FullMethod) {
		return handler(srv, ss)
	}
	claims, err := s.authenticate(ss.Context())
	if err != nil {
		s.logFailure(info.FullMethod, err)
		return err
	}
	err = handler(srv, &authedStream{ServerStream: ss, ctx: context.WithValue(ss.Context(), claimsKey{}, claims)})
	if err != nil {
		s.logFailure(info.FullMethod, err)
	}
	return err
}

func isRoomService(method string) bool { return strings.HasPrefix(method, "/"+serviceName+"/") }

// authedStream carries the verified claims in its context.
type authedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (a *authedStream) Context() context.Context { return a.ctx }

// logFailure logs a failed call once: client mistakes at info, server faults as errors.
func (s *Server) logFailure(method string, err error) {
	st := status.Convert(err)
	switch st.Code() {
	case codes.Canceled:
		return
	case codes.Internal, codes.Unknown:
		s.log.Error("call failed", "method", method, "code", st.Code().String(), "msg", st.Message())
	default:
		s.log.Info("call refused", "method", method, "code", st.Code().String(), "msg", st.Message())
	}
}

// right is a control-plane capability a call needs.
type right uint8

const (
	rightCreate right = iota // roomCreate
	rightList                // roomList or roomAdmin
	rightAdmin               // roomAdmin
	rightDelete              // roomCreate or roomAdmin
)

func (r right) String() string {
	return [...]string{"roomCreate", "roomList or roomAdmin", "roomAdmin", "roomCreate or roomAdmin"}[r]
}

// allow checks that the call's token grants r over room ("" means every room).
func allow(ctx context.Context, r right, room string) error {
	claims, _ := ctx.Value(claimsKey{}).(*auth.Claims)
	if claims == nil || claims.Video == nil {
		return status.Error(codes.Unauthenticated, "the call carries no verified token")
	}
	g := claims.Video
	var has bool
	switch r {
	case rightCreate:
		has = g.RoomCreate
	case rightList:
		has = g.RoomList || g.RoomAdmin
	case rightAdmin:
		has = g.RoomAdmin
	case rightDelete:
		has = g.RoomCreate || g.RoomAdmin
	}
	if !has {
		return status.Errorf(codes.PermissionDenied, "the token's grant lacks %s; %s", r, mintHint)
	}
	if g.Room == "" || g.Room == room {
		return nil
	}
	if room == "" {
		return status.Errorf(codes.PermissionDenied, "the token is scoped to room %q; name that room, or use a token for every room (no room in the grant)", g.Room)
	}
	return status.Errorf(codes.PermissionDenied, "the token is scoped to room %q and does not cover room %q", g.Room, room)
}

// scope is the one room the call's token is limited to, or "" for every room.
func scope(ctx context.Context) string {
	if claims, _ := ctx.Value(claimsKey{}).(*auth.Claims); claims != nil && claims.Video != nil {
		return claims.Video.Room
	}
	return ""
}

// invalid is an INVALID_ARGUMENT status.
func invalid(format string, args ...any) error {
	return status.Error(codes.InvalidArgument, fmt.Sprintf(format, args...))
}
