package loadtest

import (
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/cascade-sfu/cascade/client"
)

// Codec is the video codec publishers send.
type Codec string

// Video codecs the load tester can synthesize.
const (
	CodecVP8  Codec = "vp8"
	CodecH264 Codec = "h264"
)

// Layout is what each subscriber takes.
type Layout string

const (
	// LayoutAll takes every published track, video at Config.Layer.
	LayoutAll Layout = "all"
	// LayoutSpeaker takes the first video publisher at the top layer and up to five others
	// at the lowest, as a conference UI with one big tile does (plus every audio track).
	LayoutSpeaker Layout = "speaker"
)

// speakerSmallTiles is how many other publishers a speaker layout shows.
const speakerSmallTiles = 5

// TokenFunc mints an access token for identity in room. The load tester never holds API
// secrets itself; the caller (the sfu command) signs tokens.
type TokenFunc func(room, identity string, publish bool) (string, error)

// Impairment degrades the load tester's own receive path, per subscriber connection, so
// viewer figures can be taken under bad networks. Only RTP and RTCP are affected (STUN and
// DTLS pass), as a lossy link would mostly hit media.
type Impairment struct {
	// LossPercent drops this share of incoming RTP/RTCP packets at random (0..100).
	LossPercent float64
	// BandwidthBps caps each subscriber connection's incoming rate (0: no cap); packets
	// beyond a 200 ms queue are dropped, as at a bottleneck link.
	BandwidthBps int64
}

// Active reports whether the impairment changes anything.
func (i Impairment) Active() bool { return i.LossPercent > 0 || i.BandwidthBps > 0 }

// Config describes one load test run. Counts are per room.
type Config struct {
	URL   string    // the node's ws(s):// or http(s):// address
	Token TokenFunc // required

	Rooms           int // default 1
	Publishers      int // video publishers per room
	AudioPublishers int // audio-only publishers per room
	Subscribers     int // subscribers per room

	Duration  time.Duration // the whole run, joins included (default 30 s)
	Simulcast bool          // publish q, h and f layers
	Codec     Codec         // default vp8
	Layout    Layout        // default all
	Layer     string        // layer taken in LayoutAll: "q", "h" or "f" (default f)
	// Ramp is joins per second; 0 joins as fast as the node answers (a few at a time).
	Ramp float64
	// Warmup is left out of the steady window after the last join (default 2 s).
	Warmup time.Duration
	// Grace bounds the teardown after the run (default 10 s): a run always ends by
	// Duration + Grace.
	Grace time.Duration
	// JoinTimeout bounds one participant's join (default 15 s).
	JoinTimeout time.Duration

	Impairment Impairment

	// MetricsURL is the node's Prometheus endpoint; "" derives it from URL (/metrics on the
	// same host), "-" turns scraping off.
	MetricsURL string
	// RoomPrefix names the rooms RoomPrefix-0, RoomPrefix-1, ... (default "loadtest-" and a
	// random suffix, so runs do not collide).
	RoomPrefix string

	// Progress receives a progress line every ProgressInterval (default 2 s); nil: none.
	Progress         io.Writer
	ProgressInterval time.Duration
	Logger           *slog.Logger    // default: discard
	ClientOptions    []client.Option // added to every participant's options
}

func (c *Config) setDefaults() {
	if c.Rooms == 0 {
		c.Rooms = 1
	}
	if c.Duration == 0 {
		c.Duration = 30 * time.Second
	}
	if c.Codec == "" {
		c.Codec = CodecVP8
	}
	if c.Layout == "" {
		c.Layout = LayoutAll
	}
	if c.Layer == "" {
		c.Layer = "f"
	}
	if c.Warmup == 0 {
		c.Warmup = 2 * time.Second
	}
	if c.Grace == 0 {
		c.Grace = 10 * time.Second
	}
	if c.JoinTimeout == 0 {
		c.JoinTimeout = 15 * time.Second
	}
	if c.ProgressInterval == 0 {
		c.ProgressInterval = 2 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate checks the config after defaults are applied.
func (c Config) Validate() error {
	c.setDefaults()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadConfig, fmt.Sprintf(format, args...))
	}
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		return bad("no URL")
	case err != nil:
		return bad("URL %q: %v", c.URL, err)
	case u.Scheme != "ws" && u.Scheme != "wss" && u.Scheme != "http" && u.Scheme != "https":
		return bad("URL %q: scheme must be ws, wss, http or https", c.URL)
	case u.Host == "":
		return bad("URL %q has no host", c.URL)
	case c.Token == nil:
		return bad("no token source")
	case c.Rooms < 1 || c.Rooms > 10000:
		return bad("rooms %d out of 1..10000", c.Rooms)
	case c.Publishers < 0 || c.AudioPublishers < 0 || c.Subscribers < 0:
		return bad("negative participant count")
	case c.Publishers+c.AudioPublishers == 0:
		return bad("no publishers: give --publishers or --audio-publishers")
	case c.Publishers > 1000 || c.AudioPublishers > 1000 || c.Subscribers > 10000:
		return bad("too many participants per room")
	case c.Duration < time.Second:
		return bad("duration %v is under a second", c.Duration)
	case c.Codec != CodecVP8 && c.Codec != CodecH264:
		return bad("codec %q: want vp8 or h264", c.Codec)
	case c.Layout != LayoutAll && c.Layout != LayoutSpeaker:
		return bad("layout %q: want all or speaker", c.Layout)
	case layerIndex(c.Layer) < 0:
		return bad("layer %q: want q, h or f", c.Layer)
	case c.Ramp < 0:
		return bad("negative ramp")
	case c.Warmup < 0 || c.Grace < 0 || c.JoinTimeout < 0:
		return bad("negative warmup, grace or join timeout")
	case c.Impairment.LossPercent < 0 || c.Impairment.LossPercent > 100:
		return bad("loss %.1f%% out of 0..100", c.Impairment.LossPercent)
	case c.Impairment.BandwidthBps < 0 || (c.Impairment.BandwidthBps > 0 && c.Impairment.BandwidthBps < 16_000):
		return bad("bandwidth cap %d bit/s: want 0 (none) or at least 16 kbit/s", c.Impairment.BandwidthBps)
	}
	return nil
}

// layerNames are the simulcast rids, lowest first; index = the layer in frame headers.
var layerNames = [3]string{"q", "h", "f"}

func layerIndex(rid string) int {
	for i, n := range layerNames {
		if n == rid {
			return i
		}
	}
	return -1
}

// metricsURL is where the node's /metrics is, or "" when scraping is off.
func (c *Config) metricsURL() string {
	switch c.MetricsURL {
	case "-":
		return ""
	case "":
	default:
		return c.MetricsURL
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return ""
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	}
	u.Path, u.RawQuery, u.Fragment = "/metrics", "", ""
	return u.String()
}

// expectedTracks is how many tracks each subscriber should receive.
func (c *Config) expectedTracks() int {
	video := c.Publishers
	if c.Layout == LayoutSpeaker {
		video = min(c.Publishers, 1+speakerSmallTiles)
	}
	return video + c.AudioPublishers
}

// Identities of the load tester's participants: the index is what the speaker layout and
// the report go by.
func publisherID(i int) string      { return fmt.Sprintf("pub-%03d", i) }
func audioPublisherID(i int) string { return fmt.Sprintf("aud-%03d", i) }
func subscriberID(i int) string     { return fmt.Sprintf("sub-%04d", i) }

// publisherIndex parses a video publisher's identity, or returns -1.
func publisherIndex(identity string) int {
	var i int
	if !strings.HasPrefix(identity, "pub-") {
		return -1
	}
	if _, err := fmt.Sscanf(identity, "pub-%d", &i); err != nil {
		return -1
	}
	return i
}
