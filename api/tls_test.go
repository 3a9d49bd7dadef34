package api_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/cascade-sfu/cascade/api/apiclient"
	"github.com/cascade-sfu/cascade/auth"
	"github.com/cascade-sfu/cascade/internal/testnode"
	"github.com/cascade-sfu/cascade/node"
	pb "github.com/cascade-sfu/cascade/proto/cascade/v1"
)

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns their paths and a
// pool that trusts the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cascade test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return certFile, keyFile, pool
}

func TestTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	h := start(t, func(c *node.Config) { c.GRPCTLSCert, c.GRPCTLSKey = certFile, keyFile })
	c, err := apiclient.Dial(h.n.GRPCAddr(), apiclient.WithAPIKey(testnode.Key, testnode.Secret),
		apiclient.WithTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.CreateRoom(ctx(t), &pb.CreateRoomRequest{Name: "secure"}); err != nil {
		t.Fatal(err)
	}
	// A plaintext client cannot talk to a TLS port.
	if _, err := h.api.ListRooms(ctx(t), &pb.ListRoomsRequest{}); err == nil {
		t.Fatal("a plaintext call to the TLS port succeeded")
	} else {
		wantCode(t, err, codes.Unavailable)
	}
}

func TestTLSConfigErrors(t *testing.T) {
	certFile, _, _ := selfSigned(t)
	for _, tc := range []struct {
		name       string
		cert, key  string
		wantInText string
	}{
		{"cert without key", certFile, "", "both"},
		{"missing files", "/nonexistent/cert.pem", "/nonexistent/key.pem", "certificate"},
		{"key is not a key", certFile, certFile, "certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := node.New(node.Config{Bind: "127.0.0.1", Keys: auth.Keys{testnode.Key: testnode.Secret},
				GRPCTLSCert: tc.cert, GRPCTLSKey: tc.key}, nil)
			if err == nil {
				_ = n.Close()
				t.Fatal("node.New accepted the TLS settings")
			}
			if !strings.Contains(err.Error(), tc.wantInText) {
				t.Fatalf("error %q does not mention %q", err, tc.wantInText)
			}
		})
	}
}

func TestAPIClientOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []apiclient.Option
		want string
	}{
		{"no credentials", nil, "no credentials"},
		{"both", []apiclient.Option{apiclient.WithToken("t"), apiclient.WithAPIKey(testnode.Key, testnode.Secret)}, "not both"},
		{"short secret", []apiclient.Option{apiclient.WithAPIKey(testnode.Key, "short")}, "secret"},
		{"ttl too short", []apiclient.Option{apiclient.WithAPIKey(testnode.Key, testnode.Secret), apiclient.WithTokenTTL(time.Minute)}, "TTL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := apiclient.Dial("127.0.0.1:1", tc.opts...)
			if err == nil {
				_ = c.Close()
				t.Fatal("Dial accepted the options")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
	// A room-scoped client acts on its room only.
	h := start(t, nil)
	c, err := apiclient.Dial(h.n.GRPCAddr(), apiclient.WithAPIKey(testnode.Key, testnode.Secret), apiclient.WithRoom("mine"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.CreateRoom(ctx(t), &pb.CreateRoomRequest{Name: "mine"}); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateRoom(ctx(t), &pb.CreateRoomRequest{Name: "yours"})
	wantCode(t, err, codes.PermissionDenied)
}
