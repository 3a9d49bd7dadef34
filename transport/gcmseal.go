package transport

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"

	"github.com/pion/srtp/v3"
)

// gcmSealer encrypts RTP for one subscriber connection under an AEAD_AES_128_GCM or
// AEAD_AES_256_GCM profile (RFC 7714): one AES-GCM instance, safe for concurrent use, for
// every stream of the connection. Each stream keeps its own rollover counter (gcmStream).
// It does per packet what pion's SRTP context does, without a per-SSRC map lookup, a second
// parse of the header it was just given, or a context per stream holding its own copy of
// the cipher (with hundreds of subscribers those copies fall out of the CPU cache).
type gcmSealer struct {
	aead cipher.AEAD
	salt [12]byte // the session salt
}

// SRTP key derivation labels (RFC 3711 section 4.3.1).
const (
	labelSRTPEncryption = 0x00
	labelSRTPSalt       = 0x02
)

var errNotGCM = errors.New("transport: not an AES-GCM SRTP profile")

// newGCMSealer derives the SRTP session key and salt from the master key and salt (RFC 3711
// section 4.3 with a key derivation rate of zero, as RFC 7714 section 11 has for AES-GCM).
func newGCMSealer(profile srtp.ProtectionProfile, masterKey, masterSalt []byte) (*gcmSealer, error) {
	if profile != srtp.ProtectionProfileAeadAes128Gcm && profile != srtp.ProtectionProfileAeadAes256Gcm {
		return nil, errNotGCM
	}
	if len(masterSalt) != 12 || (len(masterKey) != 16 && len(masterKey) != 32) {
		return nil, errNotGCM
	}
	key, err := deriveSessionBytes(masterKey, masterSalt, labelSRTPEncryption, len(masterKey))
	if err != nil {
		return nil, err
	}
	salt, err := deriveSessionBytes(masterKey, masterSalt, labelSRTPSalt, 12)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	s := &gcmSealer{aead: aead}
	copy(s.salt[:], salt)
	return s, nil
}

// deriveSessionBytes is the AES-CM PRF of RFC 3711 section 4.3.3: AES in counter mode under
// the master key, from IV = (label << 48 XOR master salt) << 16, cut to n bytes.
func deriveSessionBytes(masterKey, masterSalt []byte, label byte, n int) ([]byte, error) {
	block, err := aes.NewCipher(masterKey)
	if err != nil {
		return nil, err
	}
	var iv [16]byte
	copy(iv[:], masterSalt) // the salt fills the high bytes; the low two are the counter
	iv[7] ^= label
	out := make([]byte, (n+15)/16*16)
	for i := 0; i*16 < n; i++ {
		binary.BigEndian.PutUint16(iv[14:], uint16(i))
		block.Encrypt(out[i*16:], iv[:])
	}
	return out[:n], nil
}

// gcmStream is one outgoing stream's rollover counter state (RFC 3711 section 3.3.1), for a
// sender that numbers its own packets: the counter goes up when the sequence number wraps,
// and a packet sent again from before a wrap (a retransmission) is sealed with the counter
// it first had. Guarded by the DirectStream's mutex.
type gcmStream struct {
	started bool
	highest uint16 // highest sequence number sent, in wrap-around order
	roc     uint32
	iv      [12]byte // scratch: a nonce on the stack would escape through the AEAD interface
}

// rolloverFor is the rollover counter of sequence number seq, advancing the state.
func (g *gcmStream) rolloverFor(seq uint16) uint32 {
	if !g.started {
		g.started, g.highest = true, seq
		return g.roc
	}
	diff := int32(seq) - int32(g.highest)
	switch {
	case diff > 0 && diff < 1<<15: // ahead
		g.highest = seq
		return g.roc
	case diff < -(1 << 15): // ahead, across a wrap
		g.roc++
		g.highest = seq
		return g.roc
	case diff > 1<<15: // behind, from before the last wrap
		return g.roc - 1
	default: // behind, or the same
		return g.roc
	}
}

var errNoRoomForTag = errors.New("transport: no room for the SRTP tag")

// seal encrypts the packet in buf[:n], whose RTP header is headerLen bytes, in place, as
// packet seq of stream ssrc (its sequence number, and st's rollover counter for it), and
// returns it with its authentication tag. buf has room for the tag.
func (s *gcmSealer) seal(buf []byte, n, headerLen int, ssrc uint32, seq uint16, st *gcmStream) ([]byte, error) {
	if n+s.aead.Overhead() > len(buf) {
		return nil, errNoRoomForTag
	}
	roc := st.rolloverFor(seq)
	// RFC 7714 section 8.1: 00 00 || SSRC || ROC || SEQ, XOR the session salt.
	iv := &st.iv
	iv[0], iv[1] = 0, 0
	binary.BigEndian.PutUint32(iv[2:], ssrc)
	binary.BigEndian.PutUint32(iv[6:], roc)
	binary.BigEndian.PutUint16(iv[10:], seq)
	for i := range iv {
		iv[i] ^= s.salt[i]
	}
	out := s.aead.Seal(buf[headerLen:headerLen], iv[:], buf[headerLen:n], buf[:headerLen])
	return buf[:headerLen+len(out)], nil
}
