package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/cascade-sfu/cascade/api/apiclient"
	cascadev1 "github.com/cascade-sfu/cascade/proto/cascade/v1"
)

func init() {
	register(&command{
		name:    "rooms",
		args:    "list|create|delete|participants|remove|watch [flags]",
		summary: "inspect and manage a node's rooms over its gRPC API",
		run:     runRooms,
	})
}

// roomsAction is one `sfu rooms` action.
type roomsAction struct {
	name, args, summary string
	flags               func(fs *flag.FlagSet, a *roomsArgs)
	run                 func(ctx context.Context, e *env, c *apiclient.Client, a *roomsArgs) error
}

// roomsArgs are the flags of every action; each action registers the ones it takes.
type roomsArgs struct {
	room, identity, metadata, roomSID string
	maxParticipants                   int
	emptyTimeout                      time.Duration
	afterSeq                          uint64
	json                              bool
}

var roomsActions = []*roomsAction{
	{name: "list", summary: "list the open rooms", flags: jsonFlag, run: roomsList},
	{name: "create", args: "--room R [--max-participants N] [--empty-timeout D] [--metadata M]", summary: "create a room",
		flags: func(fs *flag.FlagSet, a *roomsArgs) {
			roomFlag(fs, a)
			fs.IntVar(&a.maxParticipants, "max-participants", 0, "participant `limit`, 0 for the node's default")
			fs.DurationVar(&a.emptyTimeout, "empty-timeout", 0, "how long the room stays open with nobody in it, 0 for the node's default (5m)")
			fs.StringVar(&a.metadata, "metadata", "", "application `metadata`, opaque to the SFU")
			jsonFlag(fs, a)
		}, run: roomsCreate},
	{name: "delete", args: "--room R", summary: "disconnect everyone in a room and close it",
		flags: func(fs *flag.FlagSet, a *roomsArgs) { roomFlag(fs, a); jsonFlag(fs, a) }, run: roomsDelete},
	{name: "participants", args: "--room R", summary: "list a room's participants",
		flags: func(fs *flag.FlagSet, a *roomsArgs) { roomFlag(fs, a); jsonFlag(fs, a) }, run: roomsParticipants},
	{name: "remove", args: "--room R --identity I", summary: "disconnect one participant",
		flags: func(fs *flag.FlagSet, a *roomsArgs) {
			roomFlag(fs, a)
			fs.StringVar(&a.identity, "identity", "", "participant `identity` (required)")
			jsonFlag(fs, a)
		}, run: roomsRemove},
	{name: "watch", args: "[--room R [--after-seq N [--room-sid S]]]", summary: "print room events as JSON lines until interrupted",
		flags: func(fs *flag.FlagSet, a *roomsArgs) {
			fs.StringVar(&a.room, "room", "", "`room` to watch; empty watches every room")
			fs.Uint64Var(&a.afterSeq, "after-seq", 0, "resume after this event `seq` of --room")
			fs.StringVar(&a.roomSID, "room-sid", "", "with --after-seq: the room `sid` of that event")
		}, run: roomsWatch},
}

func roomFlag(fs *flag.FlagSet, a *roomsArgs) {
	fs.StringVar(&a.room, "room", "", "`room` name (required)")
}

func jsonFlag(fs *flag.FlagSet, a *roomsArgs) {
	fs.BoolVar(&a.json, "json", false, "print proto3 JSON instead of text")
}

func printRoomsUsage(e *env, w io.Writer) {
	fmt.Fprintf(w, "Usage: %s rooms ACTION [flags]\n\nInspect and manage a node's rooms over its gRPC API (cascade.v1.RoomService).\n\nActions:\n", e.progName)
	for _, a := range roomsActions {
		fmt.Fprintf(w, "  %-13s %s\n", a.name, a.summary)
	}
	fmt.Fprintf(w, "\n%s rooms ACTION -h shows an action's flags. Every action takes --addr, --token or\nthe API key flags, and --tls / --tls-ca.\n", e.progName)
}

func runRooms(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		w := e.stderr
		if len(args) > 0 {
			w = e.stdout
		}
		printRoomsUsage(e, w)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	var act *roomsAction
	for _, a := range roomsActions {
		if a.name == args[0] {
			act = a
		}
	}
	if act == nil {
		fmt.Fprintf(e.stderr, "sfu rooms: unknown action %q\n\n", args[0])
		printRoomsUsage(e, e.stderr)
		return 2
	}
	cmd := "rooms " + act.name
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s rooms %s %s\n\n%s.\n\nFlags:\n", e.progName, act.name, act.args, upperFirst(act.summary))
		fs.PrintDefaults()
	}
	cf := addConfigFlags(fs, false)
	addr := fs.String("addr", "", "gRPC `address` of the node (default localhost and the configured grpc_port, 7701)")
	token := fs.String("token", "", "admin access `token` to send; default: mint one with the API key")
	useTLS := fs.Bool("tls", false, "connect with TLS (the system's roots, or --tls-ca)")
	caFile := fs.String("tls-ca", "", "PEM `file` of the CA that signed the node's certificate (implies --tls)")
	timeout := fs.Duration("timeout", 10*time.Second, "deadline of each call (not of watch)")
	var a roomsArgs
	act.flags(fs, &a)
	if code, done := parseFlags(fs, args[1:]); done {
		return code
	}
	s, err := cf.load(e.getenv)
	if err != nil {
		return exitCode(e, cmd, err)
	}
	target := *addr
	if target == "" {
		target = net.JoinHostPort("localhost", strconv.Itoa(s.GRPCPort))
	}
	opts := []apiclient.Option{}
	if *token != "" {
		opts = append(opts, apiclient.WithToken(*token))
	} else {
		key, secret, err := s.signingKey()
		if err != nil {
			return exitCode(e, cmd, err)
		}
		opts = append(opts, apiclient.WithAPIKey(key, secret))
	}
	if *useTLS || *caFile != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if *caFile != "" {
			pem, err := os.ReadFile(*caFile)
			if err != nil {
				return exitCode(e, cmd, usageErrorf("--tls-ca: %v", err))
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return exitCode(e, cmd, usageErrorf("--tls-ca: no PEM certificate in %s", *caFile))
			}
		}
		opts = append(opts, apiclient.WithTLS(cfg))
	}
	c, err := apiclient.Dial(target, opts...)
	if err != nil {
		return exitCode(e, cmd, err)
	}
	defer c.Close()
	if act.name != "watch" {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	if err := act.run(ctx, e, c, &a); err != nil {
		if st, ok := status.FromError(err); ok && !isUsage(err) {
			err = fmt.Errorf("%s: %s (%s)", st.Code(), st.Message(), target)
		}
		return exitCode(e, cmd, err)
	}
	return 0
}

func needRoom(a *roomsArgs) error {
	if a.room == "" {
		return usageErrorf("--room is required")
	}
	return nil
}

var jsonOut = protojson.MarshalOptions{EmitUnpopulated: false}

func printJSON(e *env, m proto.Message) error {
	b, err := jsonOut.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(e.stdout, string(b))
	return err
}

func roomsList(ctx context.Context, e *env, c *apiclient.Client, a *roomsArgs) error {
	res, err := c.ListRooms(ctx, &cascadev1.ListRoomsRequest{})
	if err != nil {
		return err
	}
	if a.json {
		return printJSON(e, res)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROOM\tSID\tPARTICIPANTS\tMAX\tCREATED")
	for _, r := range res.GetRooms() {
		max := "-"
		if r.GetMaxParticipants() > 0 {
			max = strconv.Itoa(int(r.GetMaxParticipants()))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", r.GetName(), r.GetSid(), r.GetNumParticipants(), max,
			time.UnixMilli(r.GetCreatedAtMs()).Format(time.RFC3339))
	}
	return tw.Flush()
}

func roomsCreate(ctx context.Context, e *env, c *apiclient.Client, a *roomsArgs) error {
	if err := needRoom(a); err != nil {
		return err
	}
	if a.emptyTimeout%time.Second != 0 {
		return usageErrorf("--empty-timeout must be whole seconds, got %v", a.emptyTimeout)
	}
	r, err := c.CreateRoom(ctx, &cascadev1.CreateRoomRequest{Name: a.room, MaxParticipants: int32(a.maxParticipants),
		EmptyTimeoutSeconds: int32(a.emptyTimeout / time.Second), Metadata: a.metadata})
	if err != nil {
		return err
	}
	if a.json {
		return printJSON(e, r)
	}
	fmt.Fprintf(e.stdout, "created room %s (%s)\n", r.GetName(), r.GetSid())
	return nil
}

func roomsDelete(ctx context.Context, e *env, c *apiclient.Client, a *roomsArgs) error {
	if err := needRoom(a); err != nil {
		return err
	}
	r, err := c.DeleteRoom(ctx, &cascadev1.DeleteRoomRequest{Room: a.room})
	if err != nil {
		return err
	}
	if a.json {
		return printJSON(e, r)
	}
	fmt.Fprintf(e.stdout, "deleted room %s (%s); %d participants disconnected\n", r.GetName(), r.GetSid(), r.GetNumParticipants())
	return nil
}

func roomsParticipants(ctx context.Context, e *env, c *apiclient.Client, a *roomsArgs) error {
	if err := needRoom(a); err != nil {
		return err
	}
	res, err := c.ListParticipants(ctx, &cascadev1.ListParticipantsRequest{Room: a.room})
	if err != nil {
		return err
	}
	if a.json {
		return printJSON(e, res)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "IDENTITY\tSID\tNAME\tTRACKS\tMAY\tJOINED")
	for _, p := range res.GetParticipants() {
		var may []string
		perm := p.GetPermission()
		for _, x := range []struct {
			ok   bool
			what string
		}{{perm.GetCanPublish(), "publish"}, {perm.GetCanSubscribe(), "subscribe"}, {perm.GetCanPublishData(), "data"}, {perm.GetHidden(), "hidden"}} {
			if x.ok {
				may = append(may, x.what)
			}
		}
		var tracks []string
		for _, t := range p.GetTracks() {
			tracks = append(tracks, strings.ToLower(strings.TrimPrefix(t.GetKind().String(), "TRACK_KIND_"))+":"+t.GetSid())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.GetIdentity(), p.GetSid(), dash(p.GetName()), dash(strings.Join(tracks, ",")),
			dash(strings.Join(may, ",")), time.UnixMilli(p.GetJoinedAtMs()).Format(time.RFC3339))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func roomsRemove(ctx context.Context, e *env, c *apiclient.Client, a *roomsArgs) error {
	if err := needRoom(a); err != nil {
		return err
	}
	if a.identity == "" {
		return usageErrorf("--identity is required")
	}
	p, err := c.RemoveParticipant(ctx, &cascadev1.RemoveParticipantRequest{Room: a.room, Identity: a.identity})
	if err != nil {
		return err
	}
	if a.json {
		return printJSON(e, p)
	}
	fmt.Fprintf(e.stdout, "removed %s (%s) from room %s\n", p.GetIdentity(), p.GetSid(), a.room)
	return nil
}

// roomsWatch prints events until the context ends (Ctrl-C), which is a normal exit.
func roomsWatch(ctx context.Context, e *env, c *apiclient.Client, a *roomsArgs) error {
	if a.room == "" && (a.afterSeq != 0 || a.roomSID != "") {
		return usageErrorf("--after-seq and --room-sid need --room")
	}
	stream, err := c.WatchEvents(ctx, &cascadev1.WatchEventsRequest{Room: a.room, AfterSeq: a.afterSeq, RoomSid: a.roomSID})
	if err != nil {
		return err
	}
	for {
		ev, err := stream.Recv()
		switch {
		case err == nil:
			if err := printJSON(e, ev); err != nil {
				return err
			}
		case errors.Is(err, io.EOF):
			return nil
		case ctx.Err() != nil && status.Code(err) == codes.Canceled:
			return nil
		default:
			return err
		}
	}
}
