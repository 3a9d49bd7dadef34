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

// maxPendingData bounds the messages held for a subscriber data channel that is still
// opening.
const maxPendingData = 256

// sendData delivers an encoded data message on the subscriber connection's channel. Until
// the channel opens, messages wait (bounded) and go out in order when it does.
func (p *Participant) sendData(b []byte, reliable bool) {
	i := 1
	if reliable {
		i = 0
	}
	dc := p.subDC[i]
	if p.closed.Load() {
		return
	}
	p.dataMu.Lock()
	if !p.dataOpen[i] {
		if len(p.dataPending[i]) < maxPendingData {
			p.dataPending[i] = append(p.dataPending[i], b)
		} else {
			p.dataDrops.Add(1)
		}
		p.dataMu.Unlock()
		return
	}
	p.dataMu.Unlock()
	p.writeData(dc, b)
}

func (p *Participant) writeData(dc *webrtc.DataChannel, b []byte) {
	if dc.BufferedAmount() > p.sfu.cfg.MaxDataBufferedBytes {
		p.dataDrops.Add(1)
		return
	}
	if err := dc.SendText(string(b)); err != nil {
		p.log.Debug("data send failed", "err", err)
	}
}

// watchDataChannel flushes what waited for subscriber data channel i once it opens.
func (p *Participant) watchDataChannel(i int) {
	dc := p.subDC[i]
	dc.OnOpen(func() {
		for {
			p.dataMu.Lock()
			pending := p.dataPending[i]
			p.dataPending[i] = nil
			if len(pending) == 0 {
				p.dataOpen[i] = true
				p.dataMu.Unlock()
				return
			}
			p.dataMu.Unlock()
			for _, b := range pending {
				p.writeData(dc, b)
			}
		}
	})
}
