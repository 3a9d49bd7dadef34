package bwe

import "time"

// PacketResult is what feedback says about one packet sent to the subscriber.
type PacketResult struct {
	SendTime time.Time // when the SFU sent it
	Size     int       // bytes on the wire (RTP header and payload)
	Received bool
	Arrival  time.Time // the receiver's clock; only differences between arrivals are used
	Probe    bool      // sent as a bandwidth probe
}
