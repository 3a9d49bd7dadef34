package router

// Kind is audio or video.
type Kind uint8

const (
	KindAudio Kind = iota + 1
	KindVideo
)

// Codec is what a down track must find in a subscriber's negotiated codecs.
type Codec struct {
	Kind      Kind
	MimeType  string
	ClockRate uint32
	Channels  uint16
	FmtpLine  string
}
