package client

import (
	"fmt"
	"time"

	"github.com/pion/webrtc/v4"

	cascadev1 "github.com/cascade-sfu/cascade/proto/cascade/v1"
)

// DataKind selects the data channel a message travels on.
type DataKind int

// Data kinds (PROTOCOL.md "Data messages").
const (
	Reliable DataKind = iota // "_reliable": ordered, retransmitted
	Lossy                    // "_lossy": unordered, never retransmitted
)

// Data channel labels.
const (
	reliableLabel = "_reliable"
	lossyLabel    = "_lossy"
)

// MaxDataMessageBytes is the largest encoded data message the SFU forwards.
const MaxDataMessageBytes = 64 << 10

func (k DataKind) String() string {
	if k == Lossy {
		return "lossy"
	}
	return "reliable"
}

func (k DataKind) proto() cascadev1.DataKind {
	if k == Lossy {
		return cascadev1.DataKind_DATA_KIND_LOSSY
	}
	return cascadev1.DataKind_DATA_KIND_RELIABLE
}

// DataPacket is a data message as received.
type DataPacket struct {
	Kind                  DataKind
	Payload               []byte
	Topic                 string
	ParticipantSID        string // the sender, stamped by the SFU
	ParticipantIdentity   string
	DestinationIdentities []string // as the sender addressed it (empty: everyone)
	ReceivedAt            time.Time
}

// SendData sends a data message on the publisher connection's channel of that kind, to
// everyone else in the room or only to the named identities. It needs the data channels open
// (WaitReady) and the publish-data grant (the SFU drops messages from participants without it).
func (c *Client) SendData(payload []byte, kind DataKind, topic string, destinationIdentities ...string) error {
	if c.ctx.Err() != nil {
		return ErrClosed
	}
	dc := c.pub.dataChannel(kind)
	if dc == nil || dc.ReadyState() != webrtc.DataChannelStateOpen {
		return fmt.Errorf("%w: %s", ErrNotReady, kind)
	}
	b, err := marshalOpts.Marshal(&cascadev1.DataPacket{
		Kind:                  kind.proto(),
		Payload:               payload,
		Topic:                 topic,
		DestinationIdentities: destinationIdentities,
	})
	if err != nil {
		return fmt.Errorf("client: encode data packet: %w", err)
	}
	if len(b) > MaxDataMessageBytes {
		return fmt.Errorf("%w: %d bytes encoded, limit %d", ErrDataTooLarge, len(b), MaxDataMessageBytes)
	}
	return dc.SendText(string(b))
}

// onDataChannel takes the SFU's data channels on the subscriber connection.
func (s *subscriber) onDataChannel(dc *webrtc.DataChannel) {
	s.mu.Lock()
	s.dcs[dc.Label()] = dc
	s.mu.Unlock()
	dc.OnOpen(s.c.notify)
	s.c.notify()
	kind := Reliable
	if dc.Label() == lossyLabel {
		kind = Lossy
	}
	dc.OnMessage(func(msg webrtc.DataChannelMessage) {
		p, err := parseDataPacket(msg.Data, kind)
		if err != nil {
			s.c.log.Warn("undecodable data message", "channel", dc.Label(), "err", err)
			return
		}
		s.c.emit(func(h *handlerSet) { call1(h.data, p) })
	})
}

func parseDataPacket(b []byte, kind DataKind) (DataPacket, error) {
	var m cascadev1.DataPacket
	if err := unmarshalOpts.Unmarshal(b, &m); err != nil {
		return DataPacket{}, err
	}
	if m.GetKind() == cascadev1.DataKind_DATA_KIND_LOSSY {
		kind = Lossy
	}
	return DataPacket{
		Kind:                  kind,
		Payload:               m.GetPayload(),
		Topic:                 m.GetTopic(),
		ParticipantSID:        m.GetParticipantSid(),
		ParticipantIdentity:   m.GetParticipantIdentity(),
		DestinationIdentities: m.GetDestinationIdentities(),
		ReceivedAt:            time.Now(),
	}, nil
}

// dataReady reports whether the SFU's channels have arrived and are open: the SFU drops
// messages for a participant whose channel is not open yet.
func (s *subscriber) dataReady() bool {
	s.mu.Lock()
	rel, lossy := s.dcs[reliableLabel], s.dcs[lossyLabel]
	s.mu.Unlock()
	return rel != nil && lossy != nil &&
		rel.ReadyState() == webrtc.DataChannelStateOpen && lossy.ReadyState() == webrtc.DataChannelStateOpen
}
