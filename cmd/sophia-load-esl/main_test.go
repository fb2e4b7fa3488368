package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/sophia-pbx/sophia/internal/redistest"
)

// TestMain lets the test binary play the child (the fake FreeSWITCH), as
// sophia-load-esl re-executes itself.
func TestMain(m *testing.M) {
	for _, a := range os.Args[1:] {
		if a == "--serve-fake" {
			os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
		}
	}
	os.Exit(m.Run())
}

func TestLoadToolReports(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process and places calls for 1 s")
	}
	var out, errs bytes.Buffer
	code := run([]string{"--rate", "10", "--duration", "1s", "--users", "5", "--redis-url", "redis://" + redistest.Addr()}, &out, &errs)
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, out.String(), errs.String())
	}
	for _, want := range []string{"calls: 10 placed at 10/s", "10 answered", "socket accept → first bridge: p50", "sophia CPU:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestFlags(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run([]string{"--rate", "0"}, &out, &errs); code != 2 || !strings.Contains(errs.String(), "must be positive") {
		t.Errorf("--rate 0: exit %d, %q", code, errs.String())
	}
}
