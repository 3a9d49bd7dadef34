// Package signaling is the WebSocket edge: it authenticates a client's join, turns its
// proto3 JSON messages into calls on the SFU, and carries the SFU's offers, candidates and
// room events back. See PROTOCOL.md.
package signaling

import (
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/cascade-sfu/cascade/auth"
	"github.com/cascade-sfu/cascade/sfu"
)

// Config bounds signaling sessions. Zero values take the defaults.
type Config struct {
	// MaxMessageBytes bounds one frame from a client (default 64 KiB).
	MaxMessageBytes int
	// JoinTimeout is how long a new socket may wait before sending join (default 10 s).
	JoinTimeout time.Duration
	// PingInterval is how often clients are asked to ping (default 5 s).
	PingInterval time.Duration
	// PingTimeout closes a session silent this long (default 20 s).
	PingTimeout time.Duration
	// SendQueue is how many messages may wait for a slow client before its session is
	// closed (default 512).
	SendQueue int
	// WriteTimeout bounds one frame write (default 10 s).
	WriteTimeout time.Duration
	// ServerVersion is reported in the join response.
	ServerVersion string
}

func (c *Config) setDefaults() {
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = 64 << 10
	}
	if c.JoinTimeout == 0 {
		c.JoinTimeout = 10 * time.Second
	}
	if c.PingInterval == 0 {
		c.PingInterval = 5 * time.Second
	}
	if c.PingTimeout == 0 {
		c.PingTimeout = 20 * time.Second
	}
	if c.SendQueue == 0 {
		c.SendQueue = 512
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 10 * time.Second
	}
}

// Validate checks the config.
func (c *Config) Validate() error {
	if c.MaxMessageBytes < 0 || c.SendQueue < 0 || c.JoinTimeout < 0 || c.PingInterval < 0 || c.PingTimeout < 0 {
		return errors.New("signaling: negative limit")
	}
	if c.PingTimeout != 0 && c.PingInterval != 0 && c.PingTimeout <= c.PingInterval {
		return errors.New("signaling: ping timeout must exceed the ping interval")
	}
	return nil
}

// Server serves /v1/signal.
type Server struct {
	cfg      Config
	sfu      *sfu.SFU
	verifier *auth.Verifier
	log      *slog.Logger

	mu       sync.Mutex // guards sessions and closed
	sessions map[*session]struct{}
	closed   bool
	wg       sync.WaitGroup
}

// NewServer creates the signaling edge for s.
func NewServer(cfg Config, s *sfu.SFU, v *auth.Verifier, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, sfu: s, verifier: v, log: log, sessions: map[*session]struct{}{}}, nil
}

// ServeHTTP upgrades to a WebSocket and runs a session until it ends.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	// Any origin may connect: the access token, not the page's origin, authorizes a session.
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		s.log.Debug("websocket upgrade failed", "err", err, "remote", r.RemoteAddr)
		return
	}
	sess := newSession(s, conn, r.RemoteAddr)
	s.mu.Lock()
	s.sessions[sess] = struct{}{}
	s.mu.Unlock()
	sess.run()
	s.mu.Lock()
	delete(s.sessions, sess)
	s.mu.Unlock()
}

// Close ends every session and waits for them.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	sessions := make([]*session, 0, len(s.sessions))
	for x := range s.sessions {
		sessions = append(sessions, x)
	}
	s.mu.Unlock()
	for _, x := range sessions {
		x.Close(sfu.LeaveServerShutdown, "server shutting down")
	}
	s.wg.Wait()
}

// Sessions is the number of open sessions.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}
