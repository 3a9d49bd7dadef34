package api_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/cascade-sfu/cascade/auth"
	"github.com/cascade-sfu/cascade/client"
	"github.com/cascade-sfu/cascade/internal/testnode"
	"github.com/cascade-sfu/cascade/node"
	pb "github.com/cascade-sfu/cascade/proto/cascade/v1"
)

func TestRoomLifecycle(t *testing.T) {
	h := start(t, nil)
	c := h.api

	r, err := c.CreateRoom(ctx(t), &pb.CreateRoomRequest{Name: "standup", MaxParticipants: 2, Metadata: `{"topic":"daily"}`})
	if err != nil {
		t.Fatal(err)
	}
	if r.GetName() != "standup" || !strings.HasPrefix(r.GetSid(), "RM_") || r.GetMaxParticipants() != 2 ||
		r.GetMetadata() != `{"topic":"daily"}` || r.GetNumParticipants() != 0 || r.GetCreatedAtMs() == 0 {
		t.Fatalf("created %v", r)
	}
	_, err = c.CreateRoom(ctx(t), &pb.CreateRoomRequest{Name: "standup"})
	wantCode(t, err, codes.AlreadyExists, "standup")

	got, err := c.GetRoom(ctx(t), &pb.GetRoomRequest{Room: "standup"})
	if err != nil || got.GetSid() != r.GetSid() {
		t.Fatalf("GetRoom = %v, %v", got, err)
	}
	if _, err := c.CreateRoom(ctx(t), &pb.CreateRoomRequest{Name: "retro"}); err != nil {
		t.Fatal(err)
	}
	list, err := c.ListRooms(ctx(t), &pb.ListRoomsRequest{})
	if err != nil || len(list.GetRooms()) != 2 || list.GetRooms()[0].GetName() != "retro" || list.GetRooms()[1].GetName() != "standup" {
		t.Fatalf("ListRooms = %v, %v", list, err)
	}
	list, err = c.ListRooms(ctx(t), &pb.ListRoomsRequest{Names: []string{"standup", "nope"}})
	if err != nil || len(list.GetRooms()) != 1 || list.GetRooms()[0].GetName() != "standup" {
		t.Fatalf("ListRooms(names) = %v, %v", list, err)
	}

	upd, err := c.UpdateRoomMetadata(ctx(t), &pb.UpdateRoomMetadataRequest{Room: "standup", Metadata: "v2"})
	if err != nil || upd.GetMetadata() != "v2" {
		t.Fatalf("UpdateRoomMetadata = %v, %v", upd, err)
	}

	// The room's participant limit holds for joins.
	h.join("standup", "a", nil)
	h.join("standup", "b", nil)
	if n := len(h.n.SFU().Room("standup").Participants()); n != 2 {
		t.Fatalf("%d participants", n)
	}
	third, err := client.Join(ctx(t), "ws://"+h.n.HTTPAddr(), testnode.Mint(t, auth.TokenParams{Identity: "c",
		Grant: auth.VideoGrant{Room: "standup", RoomJoin: true}}), client.WithIncludeLoopback())
	if err == nil {
		_ = third.Close()
	}
	if client.ErrorCode(err) != pb.ErrorCode_ERROR_CODE_ROOM_FULL {
		t.Fatalf("a third join into a room of 2: %v", err)
	}

	del, err := c.DeleteRoom(ctx(t), &pb.DeleteRoomRequest{Room: "standup"})
	if err != nil || del.GetSid() != r.GetSid() || del.GetNumParticipants() != 2 {
		t.Fatalf("DeleteRoom = %v, %v", del, err)
	}
	_, err = c.GetRoom(ctx(t), &pb.GetRoomRequest{Room: "standup"})
	wantCode(t, err, codes.NotFound, "standup")
	_, err = c.DeleteRoom(ctx(t), &pb.DeleteRoomRequest{Room: "standup"})
	wantCode(t, err, codes.NotFound)
	// The name is free again.
	if _, err := c.CreateRoom(ctx(t), &pb.CreateRoomRequest{Name: "standup"}); err != nil {
		t.Fatal(err)
	}
}

func TestCreatedRoomWaitsItsEmptyTimeout(t *testing.T) {
	h := start(t, nil)
	if _, err := h.api.CreateRoom(ctx(t), &pb.CreateRoomRequest{Name: "short", EmptyTimeoutSeconds: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.api.CreateRoom(ctx(t), &pb.CreateRoomRequest{Name: "long", EmptyTimeoutSeconds: 3600}); err != nil {
		t.Fatal(err)
	}
	// Someone joins and leaves "short": it stays open through its timeout again, then closes.
	p := h.join("short", "visitor", nil)
	// The timeout runs from the visitor's removal, which comes after this: the room may not
	// close sooner than the timeout after it (measuring from when a poll saw the visitor
	// gone would start the clock late by however long the poll took).
	leaving := time.Now()
	if err := p.c.Leave(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the visitor gone", 10*time.Second, func() bool {
		r := h.n.SFU().Room("short")
		return r != nil && len(r.Participants()) == 0
	})
	eventually(t, "the empty room closing", 10*time.Second, func() bool { return h.n.SFU().Room("short") == nil })
	if d := time.Since(leaving); d < time.Second {
		t.Fatalf("the room closed %v after its last participant left; its empty timeout is 1 s", d)
	}
	if h.n.SFU().Room("long") == nil {
		t.Fatal("the room with a long timeout closed")
	}
	// A room made by a join still closes as soon as it is empty.
	q := h.join("adhoc", "x", nil)
	_ = q.c.Leave()
	eventually(t, "the join-made room closing", 10*time.Second, func() bool { return h.n.SFU().Room("adhoc") == nil })
}

func TestRoomCallsRejectBadInput(t *testing.T) {
	h := start(t, func(c *node.Config) { c.SFU.MaxMetadataBytes = 1024 })
	c := h.api
	if _, err := c.CreateRoom(ctx(t), &pb.CreateRoomRequest{Name: "keep", Metadata: "original"}); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("r", 257)
	big := strings.Repeat("m", 1025)
	tests := []struct {
		name  string
		call  func() error
		code  codes.Code
		words []string
	}{
		{"create: empty name", func() error { _, err := c.CreateRoom(ctx(t), &pb.CreateRoomRequest{}); return err }, codes.InvalidArgument, []string{"room name is empty"}},
		{"create: long name", func() error { _, err := c.CreateRoom(ctx(t), &pb.CreateRoomRequest{Name: long}); return err }, codes.InvalidArgument, []string{"257 bytes", "256"}},
		{"create: control character", func() error { _, err := c.CreateRoom(ctx(t), &pb.CreateRoomRequest{Name: "a\nb"}); return err }, codes.InvalidArgument, []string{"control character"}},
		{"create: negative limit", func() error {
			_, err := c.CreateRoom(ctx(t), &pb.CreateRoomRequest{Name: "x", MaxParticipants: -1})
			return err
		}, codes.InvalidArgument, []string{"max participants is -1"}},
		{"create: negative timeout", func() error {
			_, err := c.CreateRoom(ctx(t), &pb.CreateRoomRequest{Name: "x", EmptyTimeoutSeconds: -5})
			return err
		}, codes.InvalidArgument, []string{"empty timeout is negative"}},
		{"create: huge timeout", func() error {
			_, err := c.CreateRoom(ctx(t), &pb.CreateRoomRequest{Name: "x", EmptyTimeoutSeconds: 1 << 30})
			return err
		}, codes.InvalidArgument, []string{"empty_timeout_seconds"}},
		{"create: oversize metadata", func() error {
			_, err := c.CreateRoom(ctx(t), &pb.CreateRoomRequest{Name: "x", Metadata: big})
			return err
		}, codes.InvalidArgument, []string{"1025 bytes", "1024"}},
		{"get: unknown", func() error { _, err := c.GetRoom(ctx(t), &pb.GetRoomRequest{Room: "nope"}); return err }, codes.NotFound, []string{`"nope"`}},
		{"get: empty", func() error { _, err := c.GetRoom(ctx(t), &pb.GetRoomRequest{}); return err }, codes.InvalidArgument, nil},
		{"delete: unknown", func() error { _, err := c.DeleteRoom(ctx(t), &pb.DeleteRoomRequest{Room: "nope"}); return err }, codes.NotFound, nil},
		{"metadata: unknown room", func() error {
			_, err := c.UpdateRoomMetadata(ctx(t), &pb.UpdateRoomMetadataRequest{Room: "nope"})
			return err
		}, codes.NotFound, nil},
		{"metadata: oversize", func() error {
			_, err := c.UpdateRoomMetadata(ctx(t), &pb.UpdateRoomMetadataRequest{Room: "keep", Metadata: big})
			return err
		}, codes.InvalidArgument, []string{"room metadata"}},
		{"list: bad name", func() error { _, err := c.ListRooms(ctx(t), &pb.ListRoomsRequest{Names: []string{""}}); return err }, codes.InvalidArgument, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.call(), tc.code, tc.words...) })
	}
	// None of it touched anything.
	list, err := c.ListRooms(ctx(t), &pb.ListRoomsRequest{})
	if err != nil || len(list.GetRooms()) != 1 || list.GetRooms()[0].GetMetadata() != "original" {
		t.Fatalf("rooms after bad input: %v, %v", list, err)
	}
}
