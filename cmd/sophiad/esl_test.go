package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sophia-pbx/sophia/internal/fakeesl"
	"github.com/sophia-pbx/sophia/internal/tone"
)

// TestFreeSWITCHAbsentAtStart: sophiad starts and serves with FreeSWITCH down, says so on
// /readyz, connects once FreeSWITCH is up, and then handles a call end to end through
// the outbound socket (registration → device online, busy desk → the user's busy sound
// fetched from sophiad's media route, the call log through the API, the metrics).
func TestFreeSWITCHAbsentAtStart(t *testing.T) {
	// An address where FreeSWITCH will listen, later.
	hold, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fsAddr := hold.Addr().String()
	hold.Close()

	dir := t.TempDir()
	cfg, err := parseConfig([]string{"--api-addr", "127.0.0.1:0", "--data-dir", dir, "--esl-listen", "127.0.0.1:0",
		"--esl-addr", fsAddr, "--esl-gateway", "sofia/gateway/trunk/{number}"},
		envOf("SOPHIA_ADMIN_TOKEN", testToken, "SOPHIA_ESL_PASSWORD", "S3cret-ESL"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	logs := &watchWriter{}
	base, _ := startApp(t, cfg, logs)
	if st, _ := call(t, "GET", base+"/healthz", ""); st != 200 {
		t.Errorf("/healthz = %d while FreeSWITCH is down", st)
	}
	if st, b := call(t, "GET", base+"/readyz", ""); st != 503 || !bytes.Contains(b, []byte("freeswitch")) {
		t.Errorf("/readyz = %d %s while FreeSWITCH is down, want 503 naming freeswitch", st, b)
	}
	m := regexp.MustCompile(`listening for FreeSWITCH's socket application" addr=(\S+)`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no socket listener in the log:\n%s", logs)
	}
	socket := m[1]

	f, err := fakeesl.New(fakeesl.Options{Listen: fsAddr, Password: "S3cret-ESL", Clock: fakeesl.NewScaledClock(0.01),
		Directory: []string{"alice"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	waitCond(t, "/readyz to pass", func() bool { st, _ := call(t, "GET", base+"/readyz", ""); return st == 200 })

	if st, b := call(t, "PUT", base+"/v1/media/busy-fr", string(tone.WAV(8000, tone.Segment{Hz: 425, Dur: 100 * time.Millisecond})), "Content-Type", "audio/wav"); st != 201 {
		t.Fatalf("PUT media: %d %s", st, b)
	}
	alice := `{"name":"Alice","main_number":"+33478000001","device":{"id":"d","endpoint":"user/alice"},"audio":{"busy":"busy-fr"},"voicemail":{"enabled":false}}`
	if st, b := call(t, "PUT", base+"/v1/users/alice", alice); st != 201 {
		t.Fatalf("PUT alice: %d %s", st, b)
	}
	if err := f.Register(fakeesl.Registration{User: "alice", Endpoint: fakeesl.Busy()}); err != nil {
		t.Fatal(err)
	}
	id, err := f.InjectCall(fakeesl.CallSpec{Socket: socket, CallerIDNumber: "+33145000000", CallerIDName: "Eve", Destination: "+33478000001"})
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Items []struct{ ID, Outcome, Reason string }
	}
	waitCond(t, "the call log", func() bool {
		_, b := call(t, "GET", base+"/v1/users/alice/calls", "")
		return json.Unmarshal(b, &page) == nil && len(page.Items) == 1
	})
	if p := page.Items[0]; p.ID != id || p.Outcome != "busy" || p.Reason != "busy" {
		t.Errorf("call log %+v", page.Items)
	}
	var played string
	for _, p := range f.Played() {
		if p.UUID == id && p.App == "playback" {
			played = p.File
		}
	}
	url, ok := strings.CutPrefix(played, "http_cache://")
	if !ok || !strings.HasSuffix(url, "/media/busy-fr.wav") {
		t.Fatalf("played %q, want sophiad's media URL through mod_http_cache", played)
	}
	if st, _ := call(t, "GET", strings.Replace(url, "http://127.0.0.1:0", base, 1), ""); st != 200 {
		t.Errorf("GET %s: %d", url, st)
	}
	_, metrics := call(t, "GET", base+"/metrics", "")
	for _, want := range []string{`sophia_calls_total{direction="inbound",outcome="busy"} 1`, `sophia_pbx_link_up{pbx="freeswitch"} 1`,
		`sophia_esl_inbound_connected 1`} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(logs.String(), "S3cret-ESL") {
		t.Error("the Event Socket password reached the log")
	}
}
