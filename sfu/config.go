package sfu

import (
	"errors"
	"github.com/cascade-sfu/cascade/bwe"
	"time"
)

// Config holds the SFU's behaviour knobs; zero values take the defaults.
type Config struct {
	// BWE bounds each subscriber's bandwidth estimate.
	BWE bwe.Config
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
	// MaxMetadataBytes bounds room and participant metadata (default 64 KiB).
	MaxMetadataBytes int
	// EmptyTimeout is how long a room made by CreateRoom stays open with nobody in it,
	// when the request names no timeout (default 5 min). Rooms made by a join close when
	// their last participant leaves.
	EmptyTimeout time.Duration
	// EventWindow is how many of each room's newest events are kept for watchers that
	// resume (default 512).
	EventWindow int
	// EventRetention is how long a finished room's events stay available for resuming
	// (default 2 min).
	EventRetention time.Duration
	// WatchBuffer is how many events may wait for one watcher before it is dropped
	// (default 256).
	WatchBuffer int
}

func (c *Config) setDefaults() {
	if c.NegotiationTimeout == 0 {
		c.NegotiationTimeout = 15 * time.Second
	}
	if c.LayerCheckInterval == 0 {
		c.LayerCheckInterval = 200 * time.Millisecond
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
	if c.MaxMetadataBytes == 0 {
		c.MaxMetadataBytes = 64 << 10
	}
	if c.EmptyTimeout == 0 {
		c.EmptyTimeout = 5 * time.Minute
	}
	if c.EventWindow == 0 {
		c.EventWindow = 512
	}
	if c.EventRetention == 0 {
		c.EventRetention = 2 * time.Minute
	}
	if c.WatchBuffer == 0 {
		c.WatchBuffer = 256
	}
}

// Validate checks the config.
func (c *Config) Validate() error {
	if c.MaxParticipants < 0 || c.MaxDataMessageBytes < 0 || c.MaxTracksPerParticipant < 0 ||
		c.MaxMetadataBytes < 0 || c.EventWindow < 0 || c.WatchBuffer < 0 {
		return errors.New("sfu: negative limit")
	}
	if c.NegotiationTimeout < 0 || c.LayerCheckInterval < 0 || c.SpeakerInterval < 0 ||
		c.EmptyTimeout < 0 || c.EventRetention < 0 {
		return errors.New("sfu: negative interval")
	}
	return nil
}
