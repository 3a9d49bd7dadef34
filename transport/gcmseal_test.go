package transport

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// The connection's AES-GCM sealer gives the bytes pion's SRTP context gives, over a
// sequence-number wrap, a retransmission from before the wrap, several streams, header
// extensions and padding, for both AES-GCM profiles.
func TestGCMSealerMatchesPion(t *testing.T) {
	for _, c := range []struct {
		profile srtp.ProtectionProfile
		keyLen  int
	}{{srtp.ProtectionProfileAeadAes128Gcm, 16}, {srtp.ProtectionProfileAeadAes256Gcm, 32}} {
		t.Run(fmt.Sprint(c.profile), func(t *testing.T) {
			key, salt := make([]byte, c.keyLen), make([]byte, 12)
			_, _ = rand.Read(key)
			_, _ = rand.Read(salt)
			sealer, err := newGCMSealer(c.profile, key, salt)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := srtp.CreateContext(key, salt, c.profile)
			if err != nil {
				t.Fatal(err)
			}
			streams := map[uint32]*gcmStream{1111: {}, 2222: {}}
			seqs := []uint16{65530, 65531, 65532, 65533, 65534, 65535, 0, 1, 65533, 2, 3, 65535, 4}
			for i, seq := range seqs {
				for ssrc, st := range streams {
					h := rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: uint32(i) * 3000, SSRC: ssrc,
						Marker: i%3 == 0}
					if i%2 == 0 {
						if err := h.SetExtension(3, []byte{byte(i), byte(seq)}); err != nil {
							t.Fatal(err)
						}
					}
					payload := bytes.Repeat([]byte{byte(i)}, 100+i)
					if i%5 == 4 {
						h.Padding, h.PaddingSize = true, 7
					}
					buf := make([]byte, 1600)
					n, err := rtp.MarshalPacketTo(buf, &h, payload)
					if err != nil {
						t.Fatal(err)
					}
					want, err := ref.EncryptRTP(nil, append([]byte(nil), buf[:n]...), nil)
					if err != nil {
						t.Fatal(err)
					}
					got, err := sealer.seal(buf, n, h.MarshalSize(), ssrc, seq, st)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, want) {
						t.Fatalf("packet %d (seq %d, ssrc %d) differs from pion's:\n% x\n% x", i, seq, ssrc, got, want)
					}
				}
			}
		})
	}
}

func TestGCMSealerRefusesOtherProfiles(t *testing.T) {
	if _, err := newGCMSealer(srtp.ProtectionProfileAes128CmHmacSha1_80, make([]byte, 16), make([]byte, 14)); err == nil {
		t.Fatal("an AES-CM profile got a GCM sealer")
	}
}
