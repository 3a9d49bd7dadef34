package sfu

import (
	"slices"

	"github.com/pion/webrtc/v4"
)

// Data channel labels, on both connections.
const (
	labelReliable = "_reliable"
	labelLossy    = "_lossy"
)

// handleDataChannel accepts the client's data channels on the publisher connection.
func (p *Participant) handleDataChannel(dc *webrtc.DataChannel) {
	var reliable bool
	switch dc.Label() {
	case labelReliable:
		reliable = true
	case labelLossy:
	default:
		p.log.Debug("ignoring data channel", "label", dc.Label())
		return
	}
	dc.OnMessage(func(msg webrtc.DataChannelMessage) { p.handleData(msg.Data, reliable) })
}

// handleData stamps a client's data message with its sender and passes it to the
// recipients. Messages that are too large, malformed or not allowed are dropped and
// counted; the sender's session goes on.
func (p *Participant) handleData(b []byte, reliable bool) {
	if p.closed.Load() {
		return
	}
	drop := func(why string) {
		if n := p.dataDrops.Add(1); n&(n-1) == 0 { // log the 1st, 2nd, 4th, 8th... drop
			p.log.Warn("dropping data message", "why", why, "drops", n)
		}
	}
	if !p.perm().CanPublishData {
		drop("no publish-data grant")
		return
	}
	if len(b) > p.sfu.cfg.MaxDataMessageBytes {
		drop("too large")
		return
	}
	codec := p.sfu.data
	if codec == nil {
		drop("no data codec")
		return
	}
	m, err := codec.DecodeData(b)
	if err != nil {
		drop("malformed: " + err.Error())
		return
	}
	m.Reliable = reliable
	m.SenderSID = p.sid
	m.SenderIdentity = p.identity
	out, err := codec.EncodeData(m)
	if err != nil {
		drop("encode: " + err.Error())
		return
	}
	for _, q := range p.room.snapshot() {
		if q == p || len(m.DestinationIdentities) > 0 && !slices.Contains(m.DestinationIdentities, q.identity) {
			continue
		}
		q.sendData(out, reliable)
	}
}

// sendData delivers an encoded data message on the subscriber connection's channel.
func (p *Participant) sendData(b []byte, reliable bool) {
	dc := p.subDC[1]
	if reliable {
		dc = p.subDC[0]
	}
	if p.closed.Load() || dc.ReadyState() != webrtc.DataChannelStateOpen {
		return
	}
	if dc.BufferedAmount() > p.sfu.cfg.MaxDataBufferedBytes {
		p.dataDrops.Add(1)
		return
	}
	if err := dc.SendText(string(b)); err != nil {
		p.log.Debug("data send failed", "err", err)
	}
}
