package api_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	"github.com/cascade-sfu/cascade/auth"
	"github.com/cascade-sfu/cascade/internal/testnode"
	pb "github.com/cascade-sfu/cascade/proto/cascade/v1"
)

// rawConn is a connection with no credentials attached.
func rawConn(t *testing.T, h *harness) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(h.n.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func withAuth(c context.Context, value string) context.Context {
	return metadata.AppendToOutgoingContext(c, "authorization", value)
}

func TestAuthentication(t *testing.T) {
	h := start(t, nil)
	if _, err := h.api.CreateRoom(ctx(t), &pb.CreateRoomRequest{Name: "r"}); err != nil {
		t.Fatal(err)
	}
	raw := pb.NewRoomServiceClient(rawConn(t, h))
	admin := testnode.Mint(t, auth.TokenParams{Grant: auth.VideoGrant{RoomAdmin: true, RoomList: true}})
	expired, err := auth.MintAt(testnode.Key, testnode.Secret, auth.TokenParams{TTL: time.Minute,
		Grant: auth.VideoGrant{RoomAdmin: true}}, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := auth.Mint("SOMEONEELSE", testnode.Secret, auth.TokenParams{Grant: auth.VideoGrant{RoomAdmin: true}})
	if err != nil {
		t.Fatal(err)
	}
	wrongSecret, err := auth.Mint(testnode.Key, "another-secret-0123456789abcdef01234", auth.TokenParams{Grant: auth.VideoGrant{RoomAdmin: true}})
	if err != nil {
		t.Fatal(err)
	}
	participant := testnode.Mint(t, auth.TokenParams{Identity: "alice", Grant: auth.VideoGrant{Room: "r", RoomJoin: true}})

	tests := []struct {
		name  string
		ctx   context.Context
		code  codes.Code
		words []string
	}{
		{"no metadata", ctx(t), codes.Unauthenticated, []string{"Bearer", "sfu token --admin"}},
		{"not bearer", withAuth(ctx(t), "Basic abc"), codes.Unauthenticated, []string{"Bearer"}},
		{"bearer without token", withAuth(ctx(t), "Bearer"), codes.Unauthenticated, nil},
		{"garbage", withAuth(ctx(t), "Bearer not.a.jwt"), codes.Unauthenticated, []string{"not valid"}},
		{"expired", withAuth(ctx(t), "Bearer "+expired), codes.Unauthenticated, []string{"expired"}},
		{"unknown key", withAuth(ctx(t), "Bearer "+otherKey), codes.Unauthenticated, []string{"API key"}},
		{"wrong secret", withAuth(ctx(t), "Bearer "+wrongSecret), codes.Unauthenticated, nil},
		{"two tokens", withAuth(withAuth(ctx(t), "Bearer "+admin), "Bearer "+admin), codes.Unauthenticated, []string{"more than one"}},
		{"participant token", withAuth(ctx(t), "Bearer "+participant), codes.PermissionDenied, []string{"participant"}},
		{"lower-case scheme works", withAuth(ctx(t), "bearer "+admin), codes.OK, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := raw.GetRoom(tc.ctx, &pb.GetRoomRequest{Room: "r"})
			if tc.code == codes.OK {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCode(t, err, tc.code, tc.words...)
			// The stream is guarded the same way.
			s, err := raw.WatchEvents(tc.ctx, &pb.WatchEventsRequest{Room: "r"})
			if err == nil {
				_, err = s.Recv()
			}
			wantCode(t, err, tc.code)
		})
	}
}

func TestGrantsAndScopes(t *testing.T) {
	h := start(t, nil)
	for _, name := range []string{"mine", "theirs"} {
		if _, err := h.api.CreateRoom(ctx(t), &pb.CreateRoomRequest{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	scoped := h.dialAs(testnode.Mint(t, auth.TokenParams{Grant: auth.VideoGrant{Room: "mine", RoomAdmin: true, RoomList: true, RoomCreate: true}}))
	listOnly := h.dialAs(testnode.Mint(t, auth.TokenParams{Grant: auth.VideoGrant{RoomList: true}}))
	createOnly := h.dialAs(testnode.Mint(t, auth.TokenParams{Grant: auth.VideoGrant{RoomCreate: true}}))

	// A token for one room acts on that room only.
	if _, err := scoped.GetRoom(ctx(t), &pb.GetRoomRequest{Room: "mine"}); err != nil {
		t.Fatal(err)
	}
	if _, err := scoped.UpdateRoomMetadata(ctx(t), &pb.UpdateRoomMetadataRequest{Room: "mine", Metadata: "x"}); err != nil {
		t.Fatal(err)
	}
	_, err := scoped.GetRoom(ctx(t), &pb.GetRoomRequest{Room: "theirs"})
	wantCode(t, err, codes.PermissionDenied, `"mine"`, `"theirs"`)
	// Without revealing whether a room exists.
	_, err = scoped.GetRoom(ctx(t), &pb.GetRoomRequest{Room: "nowhere"})
	wantCode(t, err, codes.PermissionDenied)
	_, err = scoped.DeleteRoom(ctx(t), &pb.DeleteRoomRequest{Room: "theirs"})
	wantCode(t, err, codes.PermissionDenied)
	_, err = scoped.CreateRoom(ctx(t), &pb.CreateRoomRequest{Name: "another"})
	wantCode(t, err, codes.PermissionDenied)
	list, err := scoped.ListRooms(ctx(t), &pb.ListRoomsRequest{})
	if err != nil || len(list.GetRooms()) != 1 || list.GetRooms()[0].GetName() != "mine" {
		t.Fatalf("scoped ListRooms = %v, %v", list, err)
	}
	_, err = scoped.ListRooms(ctx(t), &pb.ListRoomsRequest{Names: []string{"theirs"}})
	wantCode(t, err, codes.PermissionDenied)
	s, err := scoped.WatchEvents(ctx(t), &pb.WatchEventsRequest{})
	if err == nil {
		_, err = s.Recv()
	}
	wantCode(t, err, codes.PermissionDenied, "scoped")

	// roomList lists and reads but does not administer.
	if list, err := listOnly.ListRooms(ctx(t), &pb.ListRoomsRequest{}); err != nil || len(list.GetRooms()) != 2 {
		t.Fatalf("list-only ListRooms = %v, %v", list, err)
	}
	_, err = listOnly.ListParticipants(ctx(t), &pb.ListParticipantsRequest{Room: "mine"})
	wantCode(t, err, codes.PermissionDenied, "roomAdmin")
	_, err = listOnly.CreateRoom(ctx(t), &pb.CreateRoomRequest{Name: "x"})
	wantCode(t, err, codes.PermissionDenied, "roomCreate")

	// roomCreate creates and deletes.
	if _, err := createOnly.CreateRoom(ctx(t), &pb.CreateRoomRequest{Name: "made"}); err != nil {
		t.Fatal(err)
	}
	if _, err := createOnly.DeleteRoom(ctx(t), &pb.DeleteRoomRequest{Room: "made"}); err != nil {
		t.Fatal(err)
	}
	_, err = createOnly.RemoveParticipant(ctx(t), &pb.RemoveParticipantRequest{Room: "mine", Identity: "a"})
	wantCode(t, err, codes.PermissionDenied)

	// Bad input is reported as such whatever the token.
	_, err = scoped.GetRoom(ctx(t), &pb.GetRoomRequest{})
	wantCode(t, err, codes.InvalidArgument)
}

func TestHealthAndReflectionNeedNoToken(t *testing.T) {
	h := start(t, nil)
	conn := rawConn(t, h)
	for _, svc := range []string{"", "cascade.v1.RoomService"} {
		res, err := healthpb.NewHealthClient(conn).Check(ctx(t), &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health %q = %v, %v", svc, res, err)
		}
	}
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	res, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, s := range res.GetListServicesResponse().GetService() {
		found[s.GetName()] = true
	}
	for _, want := range []string{"cascade.v1.RoomService", "grpc.health.v1.Health"} {
		if !found[want] {
			t.Errorf("reflection does not list %s: %v", want, found)
		}
	}
	_ = stream.CloseSend()
}
