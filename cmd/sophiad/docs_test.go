package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"regexp"
	"testing"
)

// TestDocumentedSettings: every SOPHIA_* variable README.md's configuration table and
// deploy/systemd/sophiad.env name is one sophiad reads, and every flag is in the table.
func TestDocumentedSettings(t *testing.T) {
	var usage bytes.Buffer
	if _, err := parseConfig([]string{"-h"}, envOf(), &usage); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	known := map[string]bool{"SOPHIA_ADMIN_TOKEN": true}
	var flags []string
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z-]+)`).FindAllStringSubmatch(usage.String(), -1) {
		flags = append(flags, m[1])
		known[envName(m[1])] = true
	}
	if len(flags) < 10 {
		t.Fatalf("found %d flags in the usage: %q", len(flags), usage.String())
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	env, err := os.ReadFile("../../deploy/systemd/sophiad.env")
	if err != nil {
		t.Fatal(err)
	}
	sophiaVar := regexp.MustCompile(`SOPHIA_[A-Z_]+[A-Z]`)
	// Read by others: sophiactl (its URL and token), the tests (Redis, Chromium).
	others := map[string]bool{"SOPHIA_TOKEN": true, "SOPHIA_URL": true, "SOPHIA_TEST_REDIS": true, "SOPHIA_CHROMIUM": true}
	for name, text := range map[string][]byte{"README.md": readme, "sophiad.env": env} {
		for _, v := range sophiaVar.FindAll(text, -1) {
			if !known[string(v)] && !others[string(v)] {
				t.Errorf("%s names %s, which sophiad does not read", name, v)
			}
		}
	}
	for _, f := range flags {
		if !bytes.Contains(readme, []byte("| `--"+f+"` | `"+envName(f)+"` |")) {
			t.Errorf("README.md's configuration table has no row for --%s (%s)", f, envName(f))
		}
	}
}
