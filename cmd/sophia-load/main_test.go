package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/sophia-pbx/sophia/internal/redistest"
)

// TestMain lets the test binary play the child (the fake PBX), as sophia-load
// re-executes itself.
func TestMain(m *testing.M) {
	for _, a := range os.Args[1:] {
		if a == "--serve-fake" {
			os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
		}
	}
	os.Exit(m.Run())
}

// A short run of each PBX: 10 calls in 1 s, desks answering after 100 ms and hanging up
// 100 ms later; every call must end, answered, and be timed.
func TestLoadToolReports(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process and places calls for 1 s")
	}
	for pbx, span := range map[string]string{
		"asterisk":   "StasisStart → first dial, timed by the fake Asterisk (",
		"freeswitch": "socket accept → first bridge execute written, timed by sophia: p50 ",
	} {
		t.Run(pbx, func(t *testing.T) {
			var out, errs bytes.Buffer
			code := run([]string{"--pbx", pbx, "--rate", "10", "--duration", "1s", "--users", "5",
				"--ring", "100ms", "--talk", "100ms", "--redis-url", "redis://" + redistest.Addr()}, nil, &out, &errs)
			if code != 0 {
				t.Fatalf("exit %d: %s\n%s", code, out.String(), errs.String())
			}
			for _, want := range []string{"machine: ", "load average ",
				pbx + " calls: 10 placed at 10/s for 1s, 10 ended, 10 answered",
				span, "(10 calls)", "sophia CPU: "} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("report lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--pbx", "yate"}, `--pbx "yate": want asterisk or freeswitch`},
		{[]string{"--rate", "0"}, "--rate: must be positive"},
		{[]string{"--duration", "-1s"}, "--duration: must be positive"},
		{[]string{"--users", "0"}, "--users: must be 1 to 10000"},
		{[]string{"--users", "10001"}, "--users: must be 1 to 10000"},
		{[]string{"--ring", "-1s"}, "--ring, --talk: must not be negative"},
		{[]string{"--rate", "0.5", "--duration", "1s"}, "less than one call"},
	} {
		var out, errs bytes.Buffer
		if code := run(tc.args, nil, &out, &errs); code != 2 || !strings.Contains(errs.String(), tc.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", tc.args, code, errs.String(), tc.want)
		}
	}
}
