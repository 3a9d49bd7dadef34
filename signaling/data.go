package signaling

import (
	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/cascade-sfu/cascade/proto/cascade/v1"
	"github.com/cascade-sfu/cascade/sfu"
)

// DataCodec is the wire form of data-channel messages: DataPacket in proto3 JSON.
type DataCodec struct{}

var dataUnmarshal = protojson.UnmarshalOptions{DiscardUnknown: true}

// DecodeData implements sfu.DataCodec.
func (DataCodec) DecodeData(b []byte) (sfu.DataMessage, error) {
	var p pb.DataPacket
	if err := dataUnmarshal.Unmarshal(b, &p); err != nil {
		return sfu.DataMessage{}, err
	}
	return sfu.DataMessage{Reliable: p.GetKind() == pb.DataKind_DATA_KIND_RELIABLE, Payload: p.GetPayload(),
		Topic: p.GetTopic(), DestinationIdentities: p.GetDestinationIdentities()}, nil
}

// EncodeData implements sfu.DataCodec.
func (DataCodec) EncodeData(m sfu.DataMessage) ([]byte, error) {
	kind := pb.DataKind_DATA_KIND_LOSSY
	if m.Reliable {
		kind = pb.DataKind_DATA_KIND_RELIABLE
	}
	return protojson.Marshal(&pb.DataPacket{Kind: kind, Payload: m.Payload, Topic: m.Topic,
		DestinationIdentities: m.DestinationIdentities, ParticipantSid: m.SenderSID, ParticipantIdentity: m.SenderIdentity})
}
