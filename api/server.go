// Package api is the gRPC edge for app servers: cascade.v1.RoomService (rooms,
// participants, data, and the room event stream), the standard gRPC health service and
// server reflection. It authenticates each call with an access token sent as
// `authorization: Bearer <jwt>` metadata and turns requests into calls on the sfu
// package's Go API; errors become gRPC status codes here and nowhere else.
package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	"github.com/cascade-sfu/cascade/auth"
	pb "github.com/cascade-sfu/cascade/proto/cascade/v1"
	"github.com/cascade-sfu/cascade/sfu"
)

// Config tunes the gRPC edge. Zero values take the defaults.
type Config struct {
	// TLSCertFile and TLSKeyFile, both set, serve TLS; both empty serve plaintext.
	TLSCertFile string
	TLSKeyFile  string
	// MaxRecvMsgBytes bounds one request (default 1 MiB; data payloads are at most 64 KiB).
	MaxRecvMsgBytes int
}

// Validate checks the config.
func (c *Config) Validate() error {
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return errors.New("api: TLS needs both a certificate file and a key file")
	}
	if c.MaxRecvMsgBytes < 0 {
		return errors.New("api: negative message size limit")
	}
	return nil
}

// serviceName is RoomService's full name, for the health service.
var serviceName = pb.RoomService_ServiceDesc.ServiceName

// Server serves RoomService for one SFU.
type Server struct {
	pb.UnimplementedRoomServiceServer

	sfu      *sfu.SFU
	verifier *auth.Verifier
	log      *slog.Logger
	grpc     *grpc.Server
	health   *health.Server

	stopOnce sync.Once
	stopping chan struct{} // closed when the server starts to stop: watch streams end
}

// NewServer builds the gRPC server: RoomService over s, health and reflection. TLS files
// are read here, so a bad certificate stops the node before it listens.
func NewServer(cfg Config, s *sfu.SFU, v *auth.Verifier, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxRecvMsgBytes == 0 {
		cfg.MaxRecvMsgBytes = 1 << 20
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv := &Server{sfu: s, verifier: v, log: log, health: health.NewServer(), stopping: make(chan struct{})}
	opts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(srv.unaryInterceptor),
		grpc.ChainStreamInterceptor(srv.streamInterceptor),
		grpc.MaxRecvMsgSize(cfg.MaxRecvMsgBytes),
		// Pings find dead app servers (and their watch streams) behind silent networks.
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	}
	if cfg.TLSCertFile != "" {
		creds, err := credentials.NewServerTLSFromFile(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("api: TLS certificate: %w", err)
		}
		opts = append(opts, grpc.Creds(creds))
	}
	srv.grpc = grpc.NewServer(opts...)
	pb.RegisterRoomServiceServer(srv.grpc, srv)
	healthpb.RegisterHealthServer(srv.grpc, srv.health)
	reflection.Register(srv.grpc)
	srv.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	srv.health.SetServingStatus(serviceName, healthpb.HealthCheckResponse_SERVING)
	return srv, nil
}

// Serve accepts connections on ln until Stop.
func (s *Server) Serve(ln net.Listener) error {
	err := s.grpc.Serve(ln)
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// Stop reports NOT_SERVING, ends every watch stream, lets other calls finish for up to
// grace, then closes every connection.
func (s *Server) Stop(grace time.Duration) {
	s.stopOnce.Do(func() {
		s.health.Shutdown()
		close(s.stopping)
		done := make(chan struct{})
		go func() {
			s.grpc.GracefulStop()
			close(done)
		}()
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			s.grpc.Stop()
			<-done
		}
	})
}
