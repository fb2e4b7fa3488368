package config_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/sophia-pbx/sophia/config"
)

// TestSecretNeverPrinted logs, prints and marshals a known PIN every way a careless
// caller might, then greps the output for it.
func TestSecretNeverPrinted(t *testing.T) {
	const pin = "480913"
	s := config.Secret(pin)
	var out bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&out, nil), slog.NewTextHandler(&out, nil)} {
		log := slog.New(h)
		log.Info("pin set", "pin", s, slog.Any("any", s), slog.Group("g", "pin", s))
		log.Info("in a struct", "req", struct{ PIN config.Secret }{s})
		log.Info("in a map", "m", map[string]config.Secret{"pin": s})
	}
	fmt.Fprintf(&out, "%v %s %+v %#v %q\n", s, s, s, s, s)
	fmt.Fprintf(&out, "%v %+v %#v\n", struct{ PIN config.Secret }{s}, struct{ PIN config.Secret }{s}, []config.Secret{s})
	data, err := json.Marshal(map[string]any{"pin": s, "list": []config.Secret{s}})
	if err != nil {
		t.Fatal(err)
	}
	out.Write(data)
	if strings.Contains(out.String(), pin) {
		t.Fatalf("the PIN leaked:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "[redacted]") {
		t.Fatalf("no [redacted] in the output:\n%s", out.String())
	}
	if string(s) != pin {
		t.Fatal("the value itself was lost")
	}
}
