package sfu

import (
	"errors"
	"time"
)

// Config holds the SFU's behaviour knobs; zero values take the defaults.
type Config struct {
	// MaxParticipants per room, 0 for no limit.
	MaxParticipants int
	// NegotiationTimeout bounds how long the SFU waits for a subscriber answer before it
	// gives up on the participant (default 15 s).
	NegotiationTimeout time.Duration
	// LayerCheckInterval is how often each subscription's target layer is re-evaluated
	// against the layers the publisher actually sends (default 500 ms).
	LayerCheckInterval time.Duration
	// SpeakerInterval is how often active speakers are computed (default 300 ms).
	SpeakerInterval time.Duration
	// MaxDataMessageBytes bounds one data message (default 64 KiB).
	MaxDataMessageBytes int
	// MaxDataBufferedBytes is how much may queue on one recipient's data channel before
	// further messages to it are dropped (default 4 MiB).
	MaxDataBufferedBytes uint64
	// MaxTracksPerParticipant bounds published tracks (default 16).
	MaxTracksPerParticipant int
}

func (c *Config) setDefaults() {
	if c.NegotiationTimeout == 0 {
		c.NegotiationTimeout = 15 * time.Second
	}
	if c.LayerCheckInterval == 0 {
		c.LayerCheckInterval = 500 * time.Millisecond
	}
	if c.SpeakerInterval == 0 {
		c.SpeakerInterval = 300 * time.Millisecond
	}
	if c.MaxDataMessageBytes == 0 {
		c.MaxDataMessageBytes = 64 << 10
	}
	if c.MaxDataBufferedBytes == 0 {
		c.MaxDataBufferedBytes = 4 << 20
	}
	if c.MaxTracksPerParticipant == 0 {
		c.MaxTracksPerParticipant = 16
	}
}

// Validate checks the config.
func (c *Config) Validate() error {
	if c.MaxParticipants < 0 || c.MaxDataMessageBytes < 0 || c.MaxTracksPerParticipant < 0 {
		return errors.New("sfu: negative limit")
	}
	if c.NegotiationTimeout < 0 || c.LayerCheckInterval < 0 || c.SpeakerInterval < 0 {
		return errors.New("sfu: negative interval")
	}
	return nil
}
