// Package apiclient is a small Go helper for app servers that drive Cascade over gRPC: it
// dials a node, attaches an access token to every call, and can mint (and renew) admin
// tokens from an API key and secret. The generated cascadev1.RoomServiceClient does the
// rest; Client embeds it.
//
//	c, err := apiclient.Dial("localhost:7701", apiclient.WithAPIKey(key, secret))
//	...
//	defer c.Close()
//	room, err := c.CreateRoom(ctx, &cascadev1.CreateRoomRequest{Name: "standup"})
package apiclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cascade-sfu/cascade/auth"
	cascadev1 "github.com/cascade-sfu/cascade/proto/cascade/v1"
)

// Client is a connection to one node's RoomService.
type Client struct {
	cascadev1.RoomServiceClient
	conn *grpc.ClientConn
}

// Option configures Dial.
type Option func(*options)

type options struct {
	token      string
	key        string
	secret     string
	room       string
	ttl        time.Duration
	tls        *tls.Config
	dialOpts   []grpc.DialOption
	renewAhead time.Duration
}

// WithToken sends tok (a token with roomAdmin, roomCreate or roomList) on every call.
func WithToken(tok string) Option { return func(o *options) { o.token = tok } }

// WithAPIKey mints an admin token for every room with key and secret, and mints a new one
// before it expires.
func WithAPIKey(key, secret string) Option {
	return func(o *options) { o.key, o.secret = key, secret }
}

// WithRoom limits the tokens WithAPIKey mints to one room.
func WithRoom(room string) Option { return func(o *options) { o.room = room } }

// WithTokenTTL sets the lifetime of minted tokens (default 1 h).
func WithTokenTTL(ttl time.Duration) Option { return func(o *options) { o.ttl = ttl } }

// WithTLS connects over TLS with cfg (nil: the system's roots). Without it the connection
// is plaintext, which suits loopback and private networks only: the token travels in it.
func WithTLS(cfg *tls.Config) Option {
	return func(o *options) {
		if cfg == nil {
			cfg = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		o.tls = cfg
	}
}

// WithDialOptions adds gRPC dial options.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOpts = append(o.dialOpts, opts...) }
}

// Dial prepares a client for the node at target ("host:port"). Like grpc.NewClient it
// does not connect until the first call.
func Dial(target string, opts ...Option) (*Client, error) {
	o := options{ttl: time.Hour, renewAhead: 5 * time.Minute}
	for _, opt := range opts {
		opt(&o)
	}
	var src tokenSource
	switch {
	case o.token != "" && o.key != "":
		return nil, errors.New("apiclient: give a token or an API key, not both")
	case o.token != "":
		src = staticToken(o.token)
	case o.key != "":
		if o.ttl <= o.renewAhead {
			return nil, fmt.Errorf("apiclient: token TTL %v must exceed %v", o.ttl, o.renewAhead)
		}
		m := &minter{key: o.key, secret: o.secret, room: o.room, ttl: o.ttl, ahead: o.renewAhead}
		if _, err := m.token(); err != nil { // a bad key or secret fails here, not on the first call
			return nil, err
		}
		src = m
	default:
		return nil, errors.New("apiclient: no credentials: use WithToken or WithAPIKey")
	}
	transport := insecure.NewCredentials()
	if o.tls != nil {
		transport = credentials.NewTLS(o.tls)
	}
	dialOpts := append([]grpc.DialOption{
		grpc.WithTransportCredentials(transport),
		grpc.WithPerRPCCredentials(bearer{src: src, secure: o.tls != nil}),
	}, o.dialOpts...)
	conn, err := grpc.NewClient(target, dialOpts...)
	if err != nil {
		return nil, fmt.Errorf("apiclient: %w", err)
	}
	return &Client{RoomServiceClient: cascadev1.NewRoomServiceClient(conn), conn: conn}, nil
}

// Conn is the underlying connection (for the health service, for example).
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// MintAdminToken mints a token that may create, list and administer room, or every room
// when room is empty.
func MintAdminToken(key, secret, room string, ttl time.Duration) (string, error) {
	return auth.Mint(key, secret, auth.TokenParams{TTL: ttl,
		Grant: auth.VideoGrant{Room: room, RoomAdmin: true, RoomCreate: true, RoomList: true}})
}

type tokenSource interface{ token() (string, error) }

type staticToken string

func (t staticToken) token() (string, error) { return string(t), nil }

// minter mints admin tokens and renews them before they expire.
type minter struct {
	key, secret, room string
	ttl, ahead        time.Duration

	mu      sync.Mutex // guards current and expires
	current string
	expires time.Time
}

func (m *minter) token() (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.current != "" && time.Until(m.expires) > m.ahead {
		return m.current, nil
	}
	tok, err := MintAdminToken(m.key, m.secret, m.room, m.ttl)
	if err != nil {
		return "", fmt.Errorf("apiclient: minting a token: %w", err)
	}
	m.current, m.expires = tok, time.Now().Add(m.ttl)
	return tok, nil
}

// bearer attaches the token to every call.
type bearer struct {
	src    tokenSource
	secure bool
}

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	tok, err := b.src.token()
	if err != nil {
		return nil, err
	}
	return map[string]string{"authorization": "Bearer " + tok}, nil
}

// RequireTransportSecurity lets plaintext connections carry the token only when the
// client was built without TLS on purpose.
func (b bearer) RequireTransportSecurity() bool { return b.secure }
