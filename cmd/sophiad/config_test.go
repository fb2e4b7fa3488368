package main

import (
	"bytes"
	"errors"
	"flag"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func envOf(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestFlagEnvPrecedence(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   []string
		check func(*Config) string
	}{
		{"defaults", nil, nil, func(c *Config) string {
			if c.APIAddr != "127.0.0.1:8080" || c.DataDir != "./sophia-data" || !c.Embedded() || c.LogFormat != "text" ||
				c.LogLevel != slog.LevelInfo || c.RedisPrefix != "sophia" || c.Demo || c.ShutdownTimeout != 15*time.Second {
				return "wrong defaults"
			}
			return ""
		}},
		{"env beats default", nil, []string{"SOPHIA_API_ADDR", "127.0.0.1:9000", "SOPHIA_LOG_LEVEL", "debug", "SOPHIA_DEMO", "true",
			"SOPHIA_REDIS_URL", "redis://127.0.0.1:6379/2"}, func(c *Config) string {
			if c.APIAddr != "127.0.0.1:9000" || c.LogLevel != slog.LevelDebug || !c.Demo || c.Embedded() {
				return "env not applied"
			}
			return ""
		}},
		{"flag beats env", []string{"--api-addr", "127.0.0.1:9100", "--demo=false", "--log-format=json"},
			[]string{"SOPHIA_API_ADDR", "127.0.0.1:9000", "SOPHIA_DEMO", "true", "SOPHIA_LOG_FORMAT", "text"}, func(c *Config) string {
				if c.APIAddr != "127.0.0.1:9100" || c.Demo || c.LogFormat != "json" {
					return "flag did not win"
				}
				return ""
			}},
		{"confirm prompts reach the adapters", []string{"--ari-confirm-prompt", "sound:custom/press-1"},
			[]string{"SOPHIA_ESL_CONFIRM_PROMPT", "/usr/share/sophia/press-1.wav"}, func(c *Config) string {
				a, e := c.ariOptions(nil, "127.0.0.1:8080"), c.eslOptions(nil, nil, "127.0.0.1:8080")
				if a.ConfirmPrompt != "sound:custom/press-1" || e.ConfirmPrompt != "/usr/share/sophia/press-1.wav" {
					return "confirm prompts " + a.ConfirmPrompt + ", " + e.ConfirmPrompt
				}
				if a.Media != "http://127.0.0.1:8080/media" {
					return "ari media " + a.Media
				}
				return ""
			}},
		{"empty env is unset", nil, []string{"SOPHIA_API_ADDR", ""}, func(c *Config) string {
			if c.APIAddr != "127.0.0.1:8080" {
				return "empty env overrode the default"
			}
			return ""
		}},
		{"admin token from env only", nil, []string{"SOPHIA_ADMIN_TOKEN", "0123456789abcdef0123"}, func(c *Config) string {
			if string(c.AdminToken) != "0123456789abcdef0123" {
				return "admin token not read"
			}
			return ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			c, err := parseConfig(tt.args, envOf(tt.env...), &out)
			if err != nil {
				t.Fatalf("parseConfig: %v", err)
			}
			if msg := tt.check(c); msg != "" {
				t.Errorf("%s: %+v", msg, c)
			}
		})
	}
}

func TestBadConfig(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  []string
		want string // in the error
	}{
		{"bad log format", []string{"--log-format", "xml"}, nil, `log-format "xml"`},
		{"bad level from env", nil, []string{"SOPHIA_LOG_LEVEL", "loud"}, `log-level "loud"`},
		{"bad duration from env", nil, []string{"SOPHIA_SHUTDOWN_TIMEOUT", "soon"}, `SOPHIA_SHUTDOWN_TIMEOUT="soon"`},
		{"bad bool from env", nil, []string{"SOPHIA_DEMO", "maybe"}, `SOPHIA_DEMO="maybe"`},
		{"bad address", []string{"--api-addr", "8080"}, nil, `api-addr "8080"`},
		{"bad redis url", []string{"--redis-url", "http://x"}, nil, "redis-url"},
		{"bad prefix", []string{"--redis-prefix", "a{b}"}, nil, "redis-prefix"},
		{"short admin token", nil, []string{"SOPHIA_ADMIN_TOKEN", "short"}, "SOPHIA_ADMIN_TOKEN"},
		{"unknown flag", []string{"--colour"}, nil, "colour"},
		{"stray argument", []string{"serve"}, nil, `"serve"`},
		{"every problem", []string{"--log-format", "xml", "--api-addr", "x"}, nil, "; "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig(tt.args, envOf(tt.env...), &bytes.Buffer{})
			if err == nil || !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want a usage error containing %q", err, tt.want)
			}
		})
	}
	if _, err := parseConfig([]string{"-h"}, envOf(), &bytes.Buffer{}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

func TestCheckConfig(t *testing.T) {
	var out bytes.Buffer
	code := run([]string{"--check-config", "--redis-url", "redis://:hunter2hunter2@127.0.0.1:6379/0", "--log-format", "json"},
		envOf("SOPHIA_ADMIN_TOKEN", "0123456789-secret-token"), &out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, &out)
	}
	for _, secret := range []string{"hunter2hunter2", "0123456789-secret-token"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("--check-config printed a secret: %s", &out)
		}
	}
	for _, want := range []string{"configuration ok", `"admin_token_from_env":true`, "127.0.0.1:6379"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q: %s", want, &out)
		}
	}
	out.Reset()
	if code := run([]string{"--check-config", "--log-level", "loud"}, envOf(), &out); code != 2 {
		t.Errorf("bad config: exit %d, want 2 (%s)", code, &out)
	}
	// A missing ARI password is said once, in sophiad's terms.
	out.Reset()
	if code := run([]string{"--check-config", "--ari-url", "http://127.0.0.1:8088"}, envOf(), &out); code != 2 ||
		strings.Count(out.String(), "password") != 1 || !strings.Contains(out.String(), "SOPHIA_ARI_PASSWORD") {
		t.Errorf("no ARI password: exit %d, want 2 and one mention of SOPHIA_ARI_PASSWORD: %s", code, &out)
	}
	out.Reset()
	if code := run([]string{"-h"}, envOf(), &out); code != 0 || !strings.Contains(out.String(), "SOPHIA_API_ADDR") {
		t.Errorf("-h: exit %d, output %s", code, &out)
	}
}
