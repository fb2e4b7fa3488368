package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sophia-pbx/sophia/api"
	"github.com/sophia-pbx/sophia/callflow"
)

func TestRouteAndLint(t *testing.T) {
	s := newServer(t)
	s.must(0, "", "users", "set", "bob", writeFile(t, "bob.json", `{"name":"Bob","main_number":"+33478000002",
		"device":{"id":"desk-bob","endpoint":"PJSIP/bob"},
		"forwards":{"not_connected":{"enabled":true,"target":"voicemail"}}}`))
	s.must(0, "", "users", "set", "alice", writeFile(t, "alice.json", `{"name":"Alice","main_number":"+33478000001",
		"device":{"id":"desk-alice","endpoint":"PJSIP/alice"},
		"forwards":{"no_answer":{"enabled":true,"target":"user:bob","timeout_s":15}},
		"voicemail":{"enabled":false}}`))

	out := s.must(0, "", "route", "alice", "--at", "2026-12-07T10:00:00+01:00", "--respond", "user:bob=answer")
	for _, want := range []string{"alice", "ring", "no_answer", "bob", "answered"} {
		if !strings.Contains(out, want) {
			t.Errorf("route alice: %q missing from\n%s", want, out)
		}
	}
	var x callflow.Explanation
	if err := json.Unmarshal([]byte(s.must(0, "", "route", "alice", "-o", "json", "--respond", "user:alice=busy")), &x); err != nil {
		t.Fatal(err)
	}
	if len(x.Trace) == 0 || x.Trace[0].Rule != "ring" {
		t.Errorf("route -o json: %+v", x)
	}
	s.must(7, "", "route", "alice", "--respond", "user:alice=perhaps")
	s.must(4, "", "route", "nobody")
	s.must(2, "", "route")

	// alice has no not-connected forward and no voicemail: calls are lost while her
	// phone is off, a warning: exit 8, each item printed.
	out = s.must(8, "", "lint", "--all")
	if !strings.Contains(out, "alice") || !strings.Contains(out, callflow.AdviceNoNotConnected) || !strings.Contains(out, "2 user(s) checked") {
		t.Errorf("lint --all:\n%s", out)
	}
	var answers []api.AdviceAnswer
	code, js, _ := s.ctl("", "lint", "bob", "-o", "json")
	if err := json.Unmarshal([]byte(js), &answers); err != nil || len(answers) != 1 || answers[0].User != "bob" {
		t.Errorf("lint bob -o json (exit %d): %v %s", code, err, js)
	}
	s.must(2, "", "lint")
	s.must(2, "", "lint", "alice", "--all")
}
