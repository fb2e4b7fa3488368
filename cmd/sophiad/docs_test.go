package main

import (
	"bytes"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
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

// TestDocumentedMetrics: every sophia_* metric that README.md, the Grafana dashboard and
// the alerting rules name is one sophiad defines (a metric renamed in the code and not
// in deploy/ would leave a panel empty and an alert silent).
func TestDocumentedMetrics(t *testing.T) {
	defined := map[string]bool{}
	nameRE := regexp.MustCompile(`Name:\s+"(sophia_[a-z_]+)"`)
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		for _, m := range nameRE.FindAllSubmatch(src, -1) {
			defined[string(m[1])] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(defined) < 20 {
		t.Fatalf("found %d metric definitions", len(defined))
	}
	used := regexp.MustCompile(`sophia_[a-z_]+[a-z]`)
	for _, file := range []string{"../../README.md", "../../deploy/grafana/sophia.json", "../../deploy/prometheus/sophia-alerts.yml"} {
		text, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, loc := range used.FindAllIndex(text, -1) {
			name := string(text[loc[0]:loc[1]])
			if bytes.HasPrefix(text[loc[1]:], []byte("_*")) {
				continue // a family: sophia_esl_*
			}
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_count"), "_sum")
			if !defined[name] && !defined[base] && !notMetrics[name] {
				t.Errorf("%s names %s, which sophiad does not define", filepath.Base(file), name)
			}
		}
	}
}

// notMetrics are sophia_* words of the docs that are not metric names.
var notMetrics = map[string]bool{"sophia_direction": true, "sophia_playing": true}
