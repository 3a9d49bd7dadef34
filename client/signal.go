package client

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/protobuf/encoding/protojson"

	cascadev1 "github.com/cascade-sfu/cascade/proto/cascade/v1"
)

// signalPath is where a node serves the signaling WebSocket.
const signalPath = "/v1/signal"

// writeTimeout bounds one signaling write.
const writeTimeout = 10 * time.Second

// maxServerFrame bounds what the client reads in one frame: a join response lists every
// participant and track, and SDP grows with tracks.
const maxServerFrame = 16 << 20

var (
	marshalOpts   = protojson.MarshalOptions{}
	unmarshalOpts = protojson.UnmarshalOptions{DiscardUnknown: true}
)

// signalConn is the WebSocket carrying proto3 JSON text frames.
type signalConn struct {
	ws       *websocket.Conn
	wmu      sync.Mutex   // serializes writes, so frames leave in the order they were sent
	maxBytes atomic.Int64 // the server's max_message_bytes; 0 until known
}

// signalURL accepts ws(s):// or http(s):// URLs; a URL without a path gets /v1/signal.
func signalURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("client: bad URL %q: %w", raw, err)
	}
	switch u.Scheme {
	case "ws", "wss":
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("client: URL %q: scheme must be ws, wss, http or https", raw)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = signalPath
	}
	return u.String(), nil
}

func dialSignal(ctx context.Context, rawURL string, cfg *config) (*signalConn, error) {
	u, err := signalURL(rawURL)
	if err != nil {
		return nil, err
	}
	ws, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: cfg.httpClient, HTTPHeader: cfg.httpHeader})
	if err != nil {
		return nil, fmt.Errorf("client: dial %s: %w", u, err)
	}
	ws.SetReadLimit(maxServerFrame)
	return &signalConn{ws: ws}, nil
}

// send writes one request as a text frame.
func (s *signalConn) send(req *cascadev1.SignalRequest) error {
	b, err := marshalOpts.Marshal(req)
	if err != nil {
		return fmt.Errorf("client: encode request: %w", err)
	}
	if limit := s.maxBytes.Load(); limit > 0 && int64(len(b)) > limit {
		return fmt.Errorf("%w: %d bytes, server allows %d", ErrMessageTooLarge, len(b), limit)
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.ws.Write(ctx, websocket.MessageText, b); err != nil {
		return fmt.Errorf("client: send %s: %w", requestName(req), err)
	}
	return nil
}

// read returns the next message. A canceled ctx closes the connection.
func (s *signalConn) read(ctx context.Context) (*cascadev1.SignalResponse, error) {
	for {
		_, b, err := s.ws.Read(ctx)
		if err != nil {
			return nil, err
		}
		var resp cascadev1.SignalResponse
		if err := unmarshalOpts.Unmarshal(b, &resp); err != nil {
			return nil, fmt.Errorf("%w: undecodable frame: %v", ErrProtocol, err)
		}
		if resp.Message == nil {
			continue // a message kind newer than this client: skip it
		}
		return &resp, nil
	}
}

// close ends the connection with a normal closure (bounded by the library's own timeout).
func (s *signalConn) close() { _ = s.ws.Close(websocket.StatusNormalClosure, "leave") }

// closeNow ends the connection without the closing handshake.
func (s *signalConn) closeNow() { _ = s.ws.CloseNow() }

// requestName names a request's message for errors and logs.
func requestName(req *cascadev1.SignalRequest) string {
	if req.Message == nil {
		return "empty request"
	}
	name := fmt.Sprintf("%T", req.Message) // *cascadev1.SignalRequest_AddTrack
	if i := strings.LastIndexByte(name, '_'); i >= 0 {
		name = name[i+1:]
	}
	return name
}

// normRequest reduces "add_track", "addTrack" and "AddTrack" to "addtrack", so server error
// requests can be matched however the server spells them.
func normRequest(s string) string {
	return strings.ToLower(strings.ReplaceAll(s, "_", ""))
}
