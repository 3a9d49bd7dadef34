package main

import (
	"context"
	"fmt"
	"time"

	"github.com/cascade-sfu/cascade/auth"
)

func init() {
	register(&command{
		name:    "token",
		args:    "--room R --identity I [flags] | --admin [--room R]",
		summary: "print an access token for joining a room, or an admin token for the gRPC API",
		run:     runToken,
	})
}

func runToken(_ context.Context, e *env, args []string) int {
	fs := newFlagSet(e, commands["token"])
	cf := addConfigFlags(fs, false)
	room := fs.String("room", "", "`room` to join (required), or with --admin the one room to administer")
	identity := fs.String("identity", "", "participant `identity`, unique in the room (required; optional with --admin)")
	admin := fs.Bool("admin", false, "mint an admin token for the gRPC API (roomCreate, roomList, roomAdmin): every room, or only --room")
	name := fs.String("name", "", "display `name`")
	metadata := fs.String("metadata", "", "application `metadata` carried in the token, opaque to the SFU")
	ttl := fs.Duration("ttl", 6*time.Hour, "how long the token stays valid")
	noPublish := fs.Bool("no-publish", false, "forbid publishing media")
	noSubscribe := fs.Bool("no-subscribe", false, "forbid receiving media")
	noData := fs.Bool("no-data", false, "forbid sending data messages")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	switch {
	case *admin && (*noPublish || *noSubscribe || *noData):
		return exitCode(e, "token", usageErrorf("--no-publish, --no-subscribe and --no-data are for participant tokens, not --admin"))
	case *admin && *ttl <= 0:
		return exitCode(e, "token", usageErrorf("--ttl must be positive, got %v", *ttl))
	case *admin:
	case *room == "":
		return exitCode(e, "token", usageErrorf("--room is required"))
	case *identity == "":
		return exitCode(e, "token", usageErrorf("--identity is required"))
	case *ttl <= 0:
		return exitCode(e, "token", usageErrorf("--ttl must be positive, got %v", *ttl))
	}
	s, err := cf.load(e.getenv)
	if err != nil {
		return exitCode(e, "token", err)
	}
	key, secret, err := s.signingKey()
	if err != nil {
		return exitCode(e, "token", err)
	}
	grant := auth.VideoGrant{Room: *room, RoomJoin: true}
	if *admin {
		// No roomJoin: an admin token drives the control plane and joins no room.
		grant = auth.VideoGrant{Room: *room, RoomAdmin: true, RoomCreate: true, RoomList: true}
	}
	// Absent capabilities mean allowed; write an explicit false only for what is forbidden.
	if *noPublish {
		grant.CanPublish = auth.Bool(false)
	}
	if *noSubscribe {
		grant.CanSubscribe = auth.Bool(false)
	}
	if *noData {
		grant.CanPublishData = auth.Bool(false)
	}
	tok, err := auth.Mint(key, secret, auth.TokenParams{
		Identity: *identity,
		Name:     *name,
		Metadata: *metadata,
		TTL:      *ttl,
		Grant:    grant,
	})
	if err != nil {
		return exitCode(e, "token", err)
	}
	fmt.Fprintln(e.stdout, tok)
	return 0
}
