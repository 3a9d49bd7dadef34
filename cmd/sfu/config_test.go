package main

import (
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cascade-sfu/cascade/auth"
)

const (
	secretA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	secretB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	secretC = "cccccccccccccccccccccccccccccccccccc"
)

func mapEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cascade.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// loadArgs parses args as the serve command would and loads the settings.
func loadArgs(t *testing.T, env map[string]string, args ...string) (settings, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cf := addConfigFlags(fs, true)
	if err := fs.Parse(args); err != nil {
		return settings{}, &usageError{msg: err.Error()}
	}
	return cf.load(mapEnv(env))
}

func fixedKey() (string, string, error) { return "DEVTEST", secretC, nil }

func TestDefaults(t *testing.T) {
	s, err := loadArgs(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, generated, err := s.nodeConfig(fixedKey)
	if err != nil {
		t.Fatal(err)
	}
	if !generated || !cfg.Dev || !cfg.IncludeLoopback {
		t.Errorf("generated/dev/loopback = %v/%v/%v, want all true", generated, cfg.Dev, cfg.IncludeLoopback)
	}
	if cfg.HTTPPort != 7700 || cfg.RTCPort != 7702 || cfg.Bind != "" || cfg.NodeIP != "" {
		t.Errorf("cfg = %+v, want ports 7700/7702 on every interface", cfg)
	}
	if !reflect.DeepEqual(cfg.Keys, auth.Keys{"DEVTEST": secretC}) {
		t.Errorf("keys = %v", cfg.Keys)
	}
	if s.LogLevel != slog.LevelInfo {
		t.Errorf("log level = %v, want info", s.LogLevel)
	}
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, `
bind: 10.0.0.1
http_port: 8000
rtc_port: 8002
node_ip: 192.0.2.1
api_key: FILEKEY
api_secret: `+secretA+`
log_level: error
dev: false
`)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want settings
	}{
		{
			name: "file only",
			args: []string{"--config", file},
			want: settings{Bind: "10.0.0.1", HTTPPort: 8000, RTCPort: 8002, NodeIP: "192.0.2.1",
				APIKey: "FILEKEY", APISecret: secretA, LogLevel: slog.LevelError, Dev: ptr(false)},
		},
		{
			name: "env over file",
			env: map[string]string{"CASCADE_HTTP_PORT": "9000", "CASCADE_LOG_LEVEL": "DEBUG",
				"CASCADE_API_KEY": "ENVKEY", "CASCADE_API_SECRET": secretB, "CASCADE_DEV": "1",
				"CASCADE_BIND": "127.0.0.1"},
			args: []string{"--config", file},
			want: settings{Bind: "127.0.0.1", HTTPPort: 9000, RTCPort: 8002, NodeIP: "192.0.2.1",
				APIKey: "ENVKEY", APISecret: secretB, LogLevel: slog.LevelDebug, Dev: ptr(true)},
		},
		{
			name: "flags over env over file",
			env:  map[string]string{"CASCADE_HTTP_PORT": "9000", "CASCADE_RTC_PORT": "9002", "CASCADE_NODE_IP": "198.51.100.7"},
			args: []string{"--config", file, "--http-port", "9100", "--node-ip", "203.0.113.9",
				"--log-level", "warn", "--dev", "--api-key", "FLAGKEY", "--api-secret", secretC},
			want: settings{Bind: "10.0.0.1", HTTPPort: 9100, RTCPort: 9002, NodeIP: "203.0.113.9",
				APIKey: "FLAGKEY", APISecret: secretC, LogLevel: slog.LevelWarn, Dev: ptr(true)},
		},
		{
			name: "explicit flag equal to the default still overrides",
			env:  map[string]string{"CASCADE_HTTP_PORT": "9000"},
			args: []string{"--http-port", "7700", "--dev=false", "--bind", ""},
			want: settings{HTTPPort: 7700, RTCPort: 7702, LogLevel: slog.LevelInfo, Dev: ptr(false)},
		},
		{
			name: "empty environment variables count as unset",
			env:  map[string]string{"CASCADE_HTTP_PORT": "", "CASCADE_DEV": ""},
			args: []string{"--config", file},
			want: settings{Bind: "10.0.0.1", HTTPPort: 8000, RTCPort: 8002, NodeIP: "192.0.2.1",
				APIKey: "FILEKEY", APISecret: secretA, LogLevel: slog.LevelError, Dev: ptr(false)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := loadArgs(t, tc.env, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want.Keys == nil {
				tc.want.Keys = auth.Keys{}
			}
			if tc.want.GRPCPort == 0 {
				tc.want.GRPCPort = 7701 // none of the cases sets it; TestGRPCSettings does
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("settings\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestInvalidConfig(t *testing.T) {
	tests := []struct {
		name    string
		file    string // config file body; "" means no --config
		env     map[string]string
		args    []string
		wantErr string // substring of the message
	}{
		{name: "unknown yaml key", file: "http_prot: 1\n", wantErr: "http_prot"},
		{name: "yaml wrong type", file: "http_port: lots\n", wantErr: "line 1"},
		{name: "yaml not a mapping", file: "- a\n- b\n", wantErr: "config file"},
		{name: "yaml port out of range", file: "rtc_port: 70000\n", wantErr: "rtc_port: port 70000"},
		{name: "yaml bad bind", file: "bind: example.com\n", wantErr: "bind"},
		{name: "yaml short secret in keys", file: "keys:\n  K1: short\n", wantErr: "keys: K1"},
		{name: "yaml empty key", file: "keys:\n  \"\": " + secretA + "\n", wantErr: "empty API key"},
		{name: "yaml bad log level", file: "log_level: loud\n", wantErr: "loud"},
		{name: "yaml negative message size", file: "max_message_bytes: -1\n", wantErr: "max_message_bytes"},
		{name: "missing config file", args: []string{"--config", "/nonexistent/cascade.yaml"}, wantErr: "no such file"},
		{name: "env port not a number", env: map[string]string{"CASCADE_HTTP_PORT": "http"}, wantErr: "CASCADE_HTTP_PORT"},
		{name: "env port negative", env: map[string]string{"CASCADE_RTC_PORT": "-5"}, wantErr: "CASCADE_RTC_PORT"},
		{name: "env bad bool", env: map[string]string{"CASCADE_DEV": "sometimes"}, wantErr: "CASCADE_DEV"},
		{name: "env bad node ip", env: map[string]string{"CASCADE_NODE_IP": "my-host"}, wantErr: "CASCADE_NODE_IP"},
		{name: "env bad log level", env: map[string]string{"CASCADE_LOG_LEVEL": "trace"}, wantErr: "CASCADE_LOG_LEVEL"},
		{name: "env short secret", env: map[string]string{"CASCADE_API_KEY": "K", "CASCADE_API_SECRET": "x"}, wantErr: "CASCADE_API_SECRET"},
		{name: "flag port out of range", args: []string{"--http-port", "65536"}, wantErr: "--http-port"},
		{name: "flag bad bind", args: []string{"--bind", "localhost"}, wantErr: "--bind"},
		{name: "flag bad level", args: []string{"--log-level", "chatty"}, wantErr: "--log-level"},
		{name: "secret without key", args: []string{"--api-secret", secretA}, wantErr: "no API key"},
		{name: "key without secret", args: []string{"--api-key", "K"}, wantErr: `"K" has no secret`},
		{name: "key with spaces", env: map[string]string{"CASCADE_API_KEY": "K ", "CASCADE_API_SECRET": secretA}, wantErr: "spaces"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.file != "" {
				args = append([]string{"--config", writeFile(t, tc.file)}, args...)
			}
			_, err := loadArgs(t, tc.env, args...)
			if err == nil {
				t.Fatal("no error")
			}
			if !isUsage(err) {
				t.Errorf("error %q is not a usage error (exit 2)", err)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not mention %q", err, tc.wantErr)
			}
		})
	}
}

func TestFlagParseErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--http-port", "abc"},
		{"--dev=perhaps"},
		{"--no-such-flag"},
	} {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		addConfigFlags(fs, true)
		if err := fs.Parse(args); err == nil {
			t.Errorf("%v: parsed without error", args)
		}
	}
}

func TestNodeConfig(t *testing.T) {
	tests := []struct {
		name                     string
		file                     string
		env                      map[string]string
		args                     []string
		wantGenerated, wantDev   bool
		wantLoopback             bool
		wantKeys                 auth.Keys
		wantErr                  string
		wantMaxMessage, wantPort int
	}{
		{
			name:     "configured key is not dev",
			args:     []string{"--api-key", "K", "--api-secret", secretA},
			wantKeys: auth.Keys{"K": secretA}, wantPort: 7700,
		},
		{
			name:    "configured key with --dev",
			args:    []string{"--api-key", "K", "--api-secret", secretA, "--dev"},
			wantDev: true, wantLoopback: true, wantKeys: auth.Keys{"K": secretA}, wantPort: 7700,
		},
		{
			name:          "dev without loopback",
			args:          []string{"--include-loopback=false"},
			wantGenerated: true, wantDev: true, wantKeys: auth.Keys{"DEVTEST": secretC}, wantPort: 7700,
		},
		{
			name:         "loopback without dev",
			env:          map[string]string{"CASCADE_INCLUDE_LOOPBACK": "true"},
			args:         []string{"--api-key", "K", "--api-secret", secretA},
			wantLoopback: true, wantKeys: auth.Keys{"K": secretA}, wantPort: 7700,
		},
		{
			name:     "several keys from the file, api_key picks one already listed",
			file:     "keys:\n  K1: " + secretA + "\n  K2: " + secretB + "\napi_key: K2\nmax_message_bytes: 1024\nhttp_port: 0\n",
			wantKeys: auth.Keys{"K1": secretA, "K2": secretB}, wantMaxMessage: 1024, wantPort: 0,
		},
		{
			name:     "file keys plus env pair",
			file:     "keys:\n  K1: " + secretA + "\n",
			env:      map[string]string{"CASCADE_API_KEY": "K2", "CASCADE_API_SECRET": secretB},
			wantKeys: auth.Keys{"K1": secretA, "K2": secretB}, wantPort: 7700,
		},
		{
			name:    "no keys and dev off",
			args:    []string{"--dev=false"},
			wantErr: "development mode is off",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.file != "" {
				args = append([]string{"--config", writeFile(t, tc.file)}, args...)
			}
			s, err := loadArgs(t, tc.env, args...)
			if err != nil {
				t.Fatal(err)
			}
			cfg, generated, err := s.nodeConfig(fixedKey)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !isUsage(err) {
					t.Fatalf("error = %v, want a usage error mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if generated != tc.wantGenerated || cfg.Dev != tc.wantDev || cfg.IncludeLoopback != tc.wantLoopback {
				t.Errorf("generated/dev/loopback = %v/%v/%v, want %v/%v/%v", generated, cfg.Dev, cfg.IncludeLoopback,
					tc.wantGenerated, tc.wantDev, tc.wantLoopback)
			}
			if !reflect.DeepEqual(cfg.Keys, tc.wantKeys) {
				t.Errorf("keys = %v, want %v", cfg.Keys, tc.wantKeys)
			}
			if cfg.MaxMessageBytes != tc.wantMaxMessage || cfg.HTTPPort != tc.wantPort {
				t.Errorf("max message/http port = %d/%d, want %d/%d", cfg.MaxMessageBytes, cfg.HTTPPort, tc.wantMaxMessage, tc.wantPort)
			}
		})
	}
}

func TestNodeConfigKeyGenFailure(t *testing.T) {
	s, err := loadArgs(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("no entropy")
	_, _, err = s.nodeConfig(func() (string, string, error) { return "", "", boom })
	if !errors.Is(err, boom) || isUsage(err) {
		t.Errorf("error = %v, want the generator's error, not a usage error", err)
	}
}

func TestSigningKey(t *testing.T) {
	tests := []struct {
		name       string
		file       string
		env        map[string]string
		args       []string
		wantKey    string
		wantSecret string
		wantErr    string
	}{
		{name: "nothing configured", wantErr: "no API key and secret"},
		{name: "flags", args: []string{"--api-key", "K", "--api-secret", secretA}, wantKey: "K", wantSecret: secretA},
		{name: "env", env: map[string]string{"CASCADE_API_KEY": "E", "CASCADE_API_SECRET": secretB}, wantKey: "E", wantSecret: secretB},
		{name: "only key in file map", file: "keys:\n  K1: " + secretA + "\n", wantKey: "K1", wantSecret: secretA},
		{name: "several keys, none chosen", file: "keys:\n  K1: " + secretA + "\n  K2: " + secretB + "\n", wantErr: "K1, K2"},
		{name: "several keys, flag chooses", file: "keys:\n  K1: " + secretA + "\n  K2: " + secretB + "\n",
			args: []string{"--api-key", "K2"}, wantKey: "K2", wantSecret: secretB},
		{name: "several keys, env chooses", file: "keys:\n  K1: " + secretA + "\n  K2: " + secretB + "\n",
			env: map[string]string{"CASCADE_API_KEY": "K1"}, wantKey: "K1", wantSecret: secretA},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			cf := addConfigFlags(fs, false)
			args := tc.args
			if tc.file != "" {
				args = append([]string{"--config", writeFile(t, tc.file)}, args...)
			}
			if err := fs.Parse(args); err != nil {
				t.Fatal(err)
			}
			s, err := cf.load(mapEnv(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			key, secret, err := s.signingKey()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !isUsage(err) {
					t.Fatalf("error = %v, want a usage error mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if key != tc.wantKey || secret != tc.wantSecret {
				t.Errorf("key/secret = %s/%s, want %s/%s", key, secret, tc.wantKey, tc.wantSecret)
			}
		})
	}
}

func TestTokenCommandHasNoNodeFlags(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addConfigFlags(fs, false)
	if err := fs.Parse([]string{"--http-port", "1"}); err == nil {
		t.Error("--http-port accepted by a key-only flag set")
	}
}

// yamlKeys lists every key the config file accepts.
func yamlKeys() []string {
	var keys []string
	rt := reflect.TypeOf(layer{})
	for i := 0; i < rt.NumField(); i++ {
		keys = append(keys, strings.Split(rt.Field(i).Tag.Get("yaml"), ",")[0])
	}
	return keys
}

// TestExampleConfig keeps config.example.yaml loadable and complete.
func TestExampleConfig(t *testing.T) {
	path := filepath.Join("..", "..", "config.example.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseFile(path, data); err != nil {
		t.Fatalf("example does not load: %v", err)
	}
	// Every key is documented, set or commented out.
	for _, k := range yamlKeys() {
		if !strings.Contains(string(data), k+":") {
			t.Errorf("config.example.yaml does not document %q", k)
		}
	}
}

// TestREADMEDocumentsSettings keeps the README's config table in step with the code.
func TestREADMEDocumentsSettings(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	for _, k := range yamlKeys() {
		want := []string{"`" + k + "`"}
		if k != "keys" {
			want = append(want, "`"+envName(k)+"`", "`"+flagName(k)+"`")
		}
		for _, w := range want {
			if !strings.Contains(readme, w) {
				t.Errorf("README.md does not mention %s", w)
			}
		}
	}
}
