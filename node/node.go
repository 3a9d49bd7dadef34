package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cascade-sfu/cascade/auth"
	"github.com/cascade-sfu/cascade/metrics"
	"github.com/cascade-sfu/cascade/sfu"
	"github.com/cascade-sfu/cascade/signaling"
	"github.com/cascade-sfu/cascade/transport"
	"github.com/cascade-sfu/cascade/web"
)

// Version is the server version reported to clients.
var Version = "0.1.0-dev"

// Node is one running Cascade node.
type Node struct {
	cfg      Config
	log      *slog.Logger
	tr       *transport.Transport
	sfu      *sfu.SFU
	sig      *signaling.Server
	verifier *auth.Verifier
	http     *http.Server
	ln       net.Listener
	grpc     *grpcEdge            // the control plane for app servers
	metrics  *prometheus.Registry // served on /metrics

	mu      sync.Mutex // guards started, closed
	started bool
	closed  bool
	served  chan struct{}
}

// New builds a node: it opens the RTC port at once, the HTTP port on Start.
func New(cfg Config, log *slog.Logger) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	v, err := auth.NewVerifier(cfg.Keys)
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: log, verifier: v, served: make(chan struct{})}
	rtcBind := cfg.Bind
	if cfg.RTCBind != "" {
		rtcBind = cfg.RTCBind
	}
	trCfg := transport.Config{Bind: rtcBind, Port: cfg.RTCPort, NodeIP: cfg.NodeIP, IncludeLoopback: cfg.IncludeLoopback, Net: cfg.Net}
	if n.tr, err = transport.New(trCfg, log.With("component", "transport")); err != nil {
		return nil, err
	}
	if n.sfu, err = sfu.New(cfg.SFU, n.tr, signaling.DataCodec{}, log.With("component", "sfu")); err != nil {
		_ = n.tr.Close()
		return nil, err
	}
	n.metrics = cfg.Registry
	if n.metrics == nil {
		n.metrics = prometheus.NewRegistry()
	}
	if err := metrics.Register(n.metrics, metricsSource{sfu: n.sfu, tr: n.tr}); err != nil {
		_ = n.tr.Close()
		return nil, fmt.Errorf("node: metrics: %w", err)
	}
	sigCfg := cfg.Signaling
	sigCfg.ServerVersion = Version
	if cfg.MaxMessageBytes > 0 {
		sigCfg.MaxMessageBytes = cfg.MaxMessageBytes
	}
	if n.sig, err = signaling.NewServer(sigCfg, n.sfu, v, log.With("component", "signaling")); err != nil {
		_ = n.tr.Close()
		return nil, err
	}
	if n.grpc, err = newGRPCEdge(cfg, n.sfu, v, log.With("component", "api")); err != nil {
		_ = n.tr.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/signal", n.sig)
	mux.Handle("/metrics", metrics.Handler(n.metrics))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", n.ready)
	if cfg.Dev {
		mux.HandleFunc("/v1/dev/token", n.devToken)
	}
	mux.Handle("/", web.Handler())
	n.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return n, nil
}

// Start binds the HTTP port and serves in the background.
func (n *Node) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.started || n.closed {
		return errors.New("node: already started or closed")
	}
	addr := net.JoinHostPort(n.cfg.Bind, strconv.Itoa(n.cfg.HTTPPort))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("node: listen %s: %w", addr, err)
	}
	if err := n.grpc.start(n.cfg.Bind, n.cfg.GRPCPort); err != nil {
		_ = ln.Close()
		return err
	}
	n.ln = ln
	n.started = true
	go func() {
		defer close(n.served)
		if err := n.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("http server stopped", "err", err)
		}
	}()
	n.log.Info("node started", "http", ln.Addr().String(), "grpc", n.grpc.addr(), "rtc", n.tr.LocalAddr().String())
	return nil
}

// HTTPAddr is the bound HTTP address (after Start).
func (n *Node) HTTPAddr() string {
	if n.ln == nil {
		return ""
	}
	return n.ln.Addr().String()
}

// RTCAddr is the bound ICE UDP mux address.
func (n *Node) RTCAddr() string { return n.tr.LocalAddr().String() }

// SFU is the node's SFU, for in-process inspection.
func (n *Node) SFU() *sfu.SFU { return n.sfu }

// Signaling is the node's signaling server.
func (n *Node) Signaling() *signaling.Server { return n.sig }

// Close stops serving, disconnects every participant and waits for every goroutine.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	started := n.started
	n.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Stop taking connections, end sessions, then the rooms.
	var errs []error
	if started {
		go func() { _ = n.http.Shutdown(ctx) }()
	}
	n.grpc.stop()
	n.sig.Close()
	n.sfu.Close()
	if started {
		if err := n.http.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
		<-n.served
	}
	errs = append(errs, n.tr.Close())
	return errors.Join(errs...)
}

func (n *Node) ready(w http.ResponseWriter, _ *http.Request) {
	n.mu.Lock()
	closed := n.closed
	n.mu.Unlock()
	if closed {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("ready\n"))
}

// devToken mints a token for the demo page (development mode only).
func (n *Node) devToken(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	room, identity := q.Get("room"), q.Get("identity")
	if room == "" || identity == "" || len(room) > 128 || len(identity) > 128 || len(q.Get("name")) > 128 {
		http.Error(w, "room and identity are required (at most 128 bytes each)", http.StatusBadRequest)
		return
	}
	var key, secret string
	for k, s := range n.cfg.Keys {
		key, secret = k, s
		break
	}
	tok, err := auth.Mint(key, secret, auth.TokenParams{Identity: identity, Name: q.Get("name"), TTL: 6 * time.Hour,
		Grant: auth.VideoGrant{Room: room, RoomJoin: true}})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	scheme := "ws"
	if r.TLS != nil {
		scheme = "wss"
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]string{"token": tok, "url": scheme + "://" + r.Host + "/v1/signal"})
}
