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
		args:    "--room R --identity I [flags]",
		summary: "print an access token for joining a room",
		run:     runToken,
	})
}

func runToken(_ context.Context, e *env, args []string) int {
	fs := newFlagSet(e, commands["token"])
	cf := addConfigFlags(fs, false)
	room := fs.String("room", "", "`room` to join (required)")
	identity := fs.String("identity", "", "participant `identity`, unique in the room (required)")
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
