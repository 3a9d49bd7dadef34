package node

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/cascade-sfu/cascade/api"
	"github.com/cascade-sfu/cascade/auth"
	"github.com/cascade-sfu/cascade/sfu"
)

// grpcStopGrace is how long calls in flight may take to finish when the node stops.
const grpcStopGrace = 2 * time.Second

// grpcEdge is the node's gRPC listener: the control plane for app servers.
type grpcEdge struct {
	srv    *api.Server
	log    *slog.Logger
	ln     net.Listener  // set by start
	served chan struct{} // closed when Serve has returned
}

func newGRPCEdge(cfg Config, s *sfu.SFU, v *auth.Verifier, log *slog.Logger) (*grpcEdge, error) {
	srv, err := api.NewServer(api.Config{TLSCertFile: cfg.GRPCTLSCert, TLSKeyFile: cfg.GRPCTLSKey}, s, v, log)
	if err != nil {
		return nil, fmt.Errorf("node: gRPC: %w", err)
	}
	return &grpcEdge{srv: srv, log: log, served: make(chan struct{})}, nil
}

// start binds the gRPC port and serves in the background.
func (g *grpcEdge) start(bind string, port int) error {
	addr := net.JoinHostPort(bind, strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("node: listen gRPC %s: %w", addr, err)
	}
	g.ln = ln
	go func() {
		defer close(g.served)
		if err := g.srv.Serve(ln); err != nil && !errors.Is(err, net.ErrClosed) {
			g.log.Error("gRPC server stopped", "err", err)
		}
	}()
	return nil
}

// stop ends watch streams, lets other calls finish briefly, and closes every connection.
func (g *grpcEdge) stop() {
	g.srv.Stop(grpcStopGrace)
	if g.ln != nil {
		<-g.served
	}
}

func (g *grpcEdge) addr() string {
	if g.ln == nil {
		return ""
	}
	return g.ln.Addr().String()
}

// GRPCAddr is the bound gRPC address (after Start).
func (n *Node) GRPCAddr() string { return n.grpc.addr() }
