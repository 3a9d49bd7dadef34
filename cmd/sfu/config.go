package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/cascade-sfu/cascade/auth"
	"github.com/cascade-sfu/cascade/node"
)

// usageError is an error in what the user gave us (config, flags, environment): the
// command exits 2 on it, 1 on anything else.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func isUsage(err error) bool {
	var u *usageError
	return errors.As(err, &u)
}

// layer is what one source (config file, environment, flags) says. A nil field is one the
// source does not set, so a later source overrides only what it names.
//
// The YAML key is the name of a setting; its environment variable is CASCADE_ plus the key
// in upper case, and its flag is the key with dashes (http_port, CASCADE_HTTP_PORT,
// --http-port). Keep README.md and config.example.yaml in step with this struct.
type layer struct {
	Bind            *string           `yaml:"bind"`
	HTTPPort        *int              `yaml:"http_port"`
	RTCPort         *int              `yaml:"rtc_port"`
	GRPCPort        *int              `yaml:"grpc_port"`
	GRPCTLSCert     *string           `yaml:"grpc_tls_cert"`
	GRPCTLSKey      *string           `yaml:"grpc_tls_key"`
	NodeIP          *string           `yaml:"node_ip"`
	APIKey          *string           `yaml:"api_key"`
	APISecret       *string           `yaml:"api_secret"`
	Keys            map[string]string `yaml:"keys"` // config file only
	LogLevel        *string           `yaml:"log_level"`
	Dev             *bool             `yaml:"dev"`
	IncludeLoopback *bool             `yaml:"include_loopback"`
	MaxMessageBytes *int              `yaml:"max_message_bytes"`
}

// override copies onto l every field that o sets.
func (l *layer) override(o layer) {
	setIf(&l.Bind, o.Bind)
	setIf(&l.HTTPPort, o.HTTPPort)
	setIf(&l.RTCPort, o.RTCPort)
	setIf(&l.GRPCPort, o.GRPCPort)
	setIf(&l.GRPCTLSCert, o.GRPCTLSCert)
	setIf(&l.GRPCTLSKey, o.GRPCTLSKey)
	setIf(&l.NodeIP, o.NodeIP)
	setIf(&l.APIKey, o.APIKey)
	setIf(&l.APISecret, o.APISecret)
	setIf(&l.LogLevel, o.LogLevel)
	setIf(&l.Dev, o.Dev)
	setIf(&l.IncludeLoopback, o.IncludeLoopback)
	setIf(&l.MaxMessageBytes, o.MaxMessageBytes)
	if o.Keys != nil {
		l.Keys = o.Keys
	}
}

func setIf[T any](dst **T, src *T) {
	if src != nil {
		*dst = src
	}
}

// validate checks each field on its own, so an error names the source it came from. name
// turns a YAML key into that source's spelling of it.
func (l *layer) validate(name func(key string) string) error {
	checkIP := func(key string, v *string) error {
		if v != nil && *v != "" && net.ParseIP(*v) == nil {
			return usageErrorf("%s: %q is not an IP address", name(key), *v)
		}
		return nil
	}
	checkPort := func(key string, v *int) error {
		if v != nil && (*v < 0 || *v > 65535) {
			return usageErrorf("%s: port %d is out of range 0-65535", name(key), *v)
		}
		return nil
	}
	errs := []error{
		checkIP("bind", l.Bind),
		checkIP("node_ip", l.NodeIP),
		checkPort("http_port", l.HTTPPort),
		checkPort("rtc_port", l.RTCPort),
		checkPort("grpc_port", l.GRPCPort),
	}
	if l.APIKey != nil && strings.TrimSpace(*l.APIKey) != *l.APIKey {
		errs = append(errs, usageErrorf("%s: API key has leading or trailing spaces", name("api_key")))
	}
	if l.APISecret != nil {
		errs = append(errs, checkSecret(name("api_secret"), *l.APISecret))
	}
	for _, k := range sortedKeys(l.Keys) {
		if k == "" {
			errs = append(errs, usageErrorf("%s: empty API key", name("keys")))
			continue
		}
		errs = append(errs, checkSecret(fmt.Sprintf("%s: %s", name("keys"), k), l.Keys[k]))
	}
	if l.LogLevel != nil {
		if _, err := parseLevel(*l.LogLevel); err != nil {
			errs = append(errs, usageErrorf("%s: %v", name("log_level"), err))
		}
	}
	if l.MaxMessageBytes != nil && *l.MaxMessageBytes < 0 {
		errs = append(errs, usageErrorf("%s: must not be negative", name("max_message_bytes")))
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func checkSecret(what, secret string) error {
	if len(secret) < auth.MinSecretLen {
		return usageErrorf("%s: API secret is %d bytes; it must be at least %d", what, len(secret), auth.MinSecretLen)
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown log level %q (want debug, info, warn or error)", s)
}

// parseFile reads a YAML config. Unknown keys are errors: a misspelt key silently ignored
// is worse than a refusal to start.
func parseFile(path string, data []byte) (layer, error) {
	var l layer
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&l); err != nil && !errors.Is(err, io.EOF) {
		// yaml names our Go type; the user knows only the file.
		msg := strings.ReplaceAll(err.Error(), " in type main.layer", "")
		return layer{}, usageErrorf("config file %s: %s", path, msg)
	}
	err := l.validate(func(key string) string { return fmt.Sprintf("config file %s: %s", path, key) })
	return l, err
}

func loadFile(path string) (layer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return layer{}, usageErrorf("config file: %v", err)
	}
	return parseFile(path, data)
}

func envName(key string) string { return "CASCADE_" + strings.ToUpper(key) }

func flagName(key string) string { return "--" + strings.ReplaceAll(key, "_", "-") }

// envLayer reads the CASCADE_* variables. An empty variable counts as unset.
func envLayer(getenv func(string) string) (layer, error) {
	var l layer
	str := func(key string, dst **string) {
		if v := getenv(envName(key)); v != "" {
			*dst = &v
		}
	}
	var errs []error
	num := func(key string, dst **int) {
		if v := getenv(envName(key)); v != "" {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				errs = append(errs, usageErrorf("%s: %q is not a whole number", envName(key), v))
				return
			}
			*dst = &n
		}
	}
	boolean := func(key string, dst **bool) {
		if v := getenv(envName(key)); v != "" {
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				errs = append(errs, usageErrorf("%s: %q is not true or false", envName(key), v))
				return
			}
			*dst = &b
		}
	}
	str("bind", &l.Bind)
	num("http_port", &l.HTTPPort)
	num("rtc_port", &l.RTCPort)
	num("grpc_port", &l.GRPCPort)
	str("grpc_tls_cert", &l.GRPCTLSCert)
	str("grpc_tls_key", &l.GRPCTLSKey)
	str("node_ip", &l.NodeIP)
	str("api_key", &l.APIKey)
	str("api_secret", &l.APISecret)
	str("log_level", &l.LogLevel)
	boolean("dev", &l.Dev)
	boolean("include_loopback", &l.IncludeLoopback)
	num("max_message_bytes", &l.MaxMessageBytes)
	if len(errs) > 0 {
		return layer{}, errs[0]
	}
	return l, l.validate(envName)
}

// Flag values that record whether they were given: a flag left out must not override the
// environment or the config file with its default.
type (
	strFlag  struct{ p **string }
	intFlag  struct{ p **int }
	boolFlag struct{ p **bool }
)

func (f strFlag) String() string {
	if f.p == nil || *f.p == nil {
		return ""
	}
	return **f.p
}

func (f strFlag) Set(s string) error { *f.p = &s; return nil }

func (f intFlag) String() string {
	if f.p == nil || *f.p == nil {
		return ""
	}
	return strconv.Itoa(**f.p)
}

func (f intFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return errors.New("not a whole number")
	}
	*f.p = &n
	return nil
}

func (f boolFlag) String() string {
	if f.p == nil || *f.p == nil {
		return ""
	}
	return strconv.FormatBool(**f.p)
}

func (f boolFlag) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("not true or false")
	}
	*f.p = &b
	return nil
}

func (boolFlag) IsBoolFlag() bool { return true }

// configFlags are the flags that feed configuration: --config, the API key flags, and for
// commands that run a node, the node flags too.
type configFlags struct {
	path  string
	flags layer
}

// addConfigFlags registers the configuration flags on fs. With nodeFlags false only
// --config, --api-key and --api-secret are registered (commands that only need a key).
func addConfigFlags(fs *flag.FlagSet, nodeFlags bool) *configFlags {
	cf := &configFlags{}
	l := &cf.flags
	fs.StringVar(&cf.path, "config", "", "YAML config `file` (see config.example.yaml)")
	fs.Var(strFlag{&l.APIKey}, "api-key", "API `key` that signs access tokens (env CASCADE_API_KEY)")
	fs.Var(strFlag{&l.APISecret}, "api-secret", "API `secret` for --api-key, at least 32 bytes (env CASCADE_API_SECRET)")
	if !nodeFlags {
		return cf
	}
	fs.Var(strFlag{&l.Bind}, "bind", "`IP` address to listen on; empty means every interface (env CASCADE_BIND)")
	fs.Var(intFlag{&l.HTTPPort}, "http-port", "HTTP and WebSocket `port`, 0 picks one (default 7700; env CASCADE_HTTP_PORT)")
	fs.Var(intFlag{&l.RTCPort}, "rtc-port", "ICE UDP mux `port`, 0 picks one (default 7702; env CASCADE_RTC_PORT)")
	fs.Var(intFlag{&l.GRPCPort}, "grpc-port", "gRPC control-plane `port`, 0 picks one (default 7701; env CASCADE_GRPC_PORT)")
	fs.Var(strFlag{&l.GRPCTLSCert}, "grpc-tls-cert", "PEM certificate `file` to serve gRPC over TLS, with --grpc-tls-key (env CASCADE_GRPC_TLS_CERT)")
	fs.Var(strFlag{&l.GRPCTLSKey}, "grpc-tls-key", "PEM private key `file` for --grpc-tls-cert (env CASCADE_GRPC_TLS_KEY)")
	fs.Var(strFlag{&l.NodeIP}, "node-ip", "`IP` address advertised in ICE candidates, for NAT and containers (env CASCADE_NODE_IP)")
	fs.Var(strFlag{&l.LogLevel}, "log-level", "log `level`: debug, info, warn or error (default info; env CASCADE_LOG_LEVEL)")
	fs.Var(boolFlag{&l.Dev}, "dev", "development mode: /v1/dev/token for the demo page, loopback candidates (env CASCADE_DEV)")
	fs.Var(boolFlag{&l.IncludeLoopback}, "include-loopback", "advertise loopback ICE candidates (default: on in dev mode; env CASCADE_INCLUDE_LOOPBACK)")
	fs.Var(intFlag{&l.MaxMessageBytes}, "max-message-bytes", "largest signaling frame in `bytes`, 0 for the node default of 64 KiB (env CASCADE_MAX_MESSAGE_BYTES)")
	return cf
}

// load merges the config file, then the environment, then the flags, each overriding what
// the one before said.
func (cf *configFlags) load(getenv func(string) string) (settings, error) {
	var merged layer
	if cf.path != "" {
		fl, err := loadFile(cf.path)
		if err != nil {
			return settings{}, err
		}
		merged.override(fl)
	}
	el, err := envLayer(getenv)
	if err != nil {
		return settings{}, err
	}
	merged.override(el)
	if err := cf.flags.validate(flagName); err != nil {
		return settings{}, err
	}
	merged.override(cf.flags)
	return resolve(merged)
}

// settings is the merged configuration with defaults filled in.
type settings struct {
	Bind            string
	HTTPPort        int
	RTCPort         int
	GRPCPort        int
	GRPCTLSCert     string
	GRPCTLSKey      string
	NodeIP          string
	APIKey          string
	APISecret       string
	Keys            auth.Keys // from the config file's keys map
	LogLevel        slog.Level
	Dev             *bool // nil: development mode exactly when no API key is configured
	IncludeLoopback *bool // nil: same as Dev
	MaxMessageBytes int
}

func resolve(l layer) (settings, error) {
	s := settings{
		HTTPPort: node.DefaultHTTPPort,
		RTCPort:  node.DefaultRTCPort,
		GRPCPort: node.DefaultGRPCPort,
		LogLevel: slog.LevelInfo,
		Keys:     auth.Keys{},
	}
	if l.Bind != nil {
		s.Bind = *l.Bind
	}
	if l.HTTPPort != nil {
		s.HTTPPort = *l.HTTPPort
	}
	if l.RTCPort != nil {
		s.RTCPort = *l.RTCPort
	}
	if l.GRPCPort != nil {
		s.GRPCPort = *l.GRPCPort
	}
	if l.GRPCTLSCert != nil {
		s.GRPCTLSCert = *l.GRPCTLSCert
	}
	if l.GRPCTLSKey != nil {
		s.GRPCTLSKey = *l.GRPCTLSKey
	}
	if (s.GRPCTLSCert == "") != (s.GRPCTLSKey == "") {
		return settings{}, usageErrorf("gRPC TLS needs both grpc_tls_cert and grpc_tls_key (CASCADE_GRPC_TLS_CERT/KEY, --grpc-tls-cert/--grpc-tls-key)")
	}
	if l.NodeIP != nil {
		s.NodeIP = *l.NodeIP
	}
	if l.APIKey != nil {
		s.APIKey = *l.APIKey
	}
	if l.APISecret != nil {
		s.APISecret = *l.APISecret
	}
	for k, v := range l.Keys {
		s.Keys[k] = v
	}
	if l.LogLevel != nil {
		lvl, err := parseLevel(*l.LogLevel)
		if err != nil { // validated per source already; kept for safety
			return settings{}, usageErrorf("log_level: %v", err)
		}
		s.LogLevel = lvl
	}
	s.Dev = l.Dev
	s.IncludeLoopback = l.IncludeLoopback
	if l.MaxMessageBytes != nil {
		s.MaxMessageBytes = *l.MaxMessageBytes
	}
	if s.APISecret != "" && s.APIKey == "" {
		return settings{}, usageErrorf("an API secret is set (api_secret / CASCADE_API_SECRET / --api-secret) but no API key")
	}
	if s.APIKey != "" && s.APISecret == "" {
		if _, ok := s.Keys[s.APIKey]; !ok {
			return settings{}, usageErrorf("API key %q has no secret: set api_secret / CASCADE_API_SECRET / --api-secret, or list it under keys in the config file", s.APIKey)
		}
	}
	return s, nil
}

// apiKeys is every configured key: the config file's keys map plus api_key/api_secret.
func (s *settings) apiKeys() auth.Keys {
	keys := make(auth.Keys, len(s.Keys)+1)
	for k, v := range s.Keys {
		keys[k] = v
	}
	if s.APIKey != "" && s.APISecret != "" {
		keys[s.APIKey] = s.APISecret
	}
	return keys
}

// signingKey picks the key that mints tokens: the one named by api_key, or the only key
// configured.
func (s *settings) signingKey() (key, secret string, err error) {
	keys := s.apiKeys()
	if s.APIKey != "" {
		return s.APIKey, keys[s.APIKey], nil
	}
	switch len(keys) {
	case 0:
		return "", "", usageErrorf("no API key and secret: pass --api-key and --api-secret, set CASCADE_API_KEY and CASCADE_API_SECRET, or give --config FILE with api_key/api_secret or keys (the dev node prints its key and secret when it starts)")
	case 1:
		for k, v := range keys {
			return k, v, nil
		}
	}
	return "", "", usageErrorf("the config has %d API keys (%s); choose one with --api-key or CASCADE_API_KEY", len(keys), strings.Join(sortedKeys(keys), ", "))
}

// nodeConfig builds the node's config. With no API key configured and development mode not
// switched off, it makes a development key with newKey and reports generated = true.
func (s *settings) nodeConfig(newKey func() (string, string, error)) (cfg node.Config, generated bool, err error) {
	keys := s.apiKeys()
	if len(keys) == 0 {
		if s.Dev != nil && !*s.Dev {
			return node.Config{}, false, usageErrorf("no API keys configured and development mode is off: set api_key/api_secret (or keys) in the config file, CASCADE_API_KEY/CASCADE_API_SECRET, or --api-key/--api-secret")
		}
		k, sec, err := newKey()
		if err != nil {
			return node.Config{}, false, fmt.Errorf("generating a development API key: %w", err)
		}
		keys[k] = sec
		generated = true
	}
	dev := generated
	if s.Dev != nil {
		dev = *s.Dev
	}
	loopback := dev
	if s.IncludeLoopback != nil {
		loopback = *s.IncludeLoopback
	}
	cfg = node.Config{
		Bind:            s.Bind,
		HTTPPort:        s.HTTPPort,
		RTCPort:         s.RTCPort,
		GRPCPort:        s.GRPCPort,
		GRPCTLSCert:     s.GRPCTLSCert,
		GRPCTLSKey:      s.GRPCTLSKey,
		NodeIP:          s.NodeIP,
		IncludeLoopback: loopback,
		Keys:            keys,
		Dev:             dev,
		MaxMessageBytes: s.MaxMessageBytes,
	}
	if err := cfg.Validate(); err != nil {
		return node.Config{}, false, usageErrorf("%v", err)
	}
	return cfg, generated, nil
}
