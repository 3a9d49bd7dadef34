//go:build !linux

package transport

import (
	"net"
	"net/netip"
)

// rawReader is Linux only; elsewhere the tap reads through the net package.
type rawReader struct{}

func newRawReader(*net.UDPConn) *rawReader { return nil }

func (*rawReader) read([]byte) (int, netip.AddrPort, error) {
	return 0, netip.AddrPort{}, net.ErrClosed
}
