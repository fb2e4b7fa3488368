package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sophia-pbx/sophia/internal/fakeari"
	"github.com/sophia-pbx/sophia/internal/tone"
)

// TestAsteriskAbsentAtStart: sophiad starts and serves with Asterisk down, says so on
// /readyz, connects once Asterisk is up, and then handles a call end to end (the call
// log through the API, the metrics).
func TestAsteriskAbsentAtStart(t *testing.T) {
	f := fakeari.New(t, fakeari.Options{TimeScale: 0.01, RestartDropAfter: time.Millisecond, RestartDowntime: time.Minute}) // scaled: 600 ms down
	f.Restart()                                                                                                             // down for a while, on the same address
	waitCond(t, "the fake Asterisk to go down", func() bool { return !f.Up() })

	dir := t.TempDir()
	cfg, err := parseConfig([]string{"--api-addr", "127.0.0.1:0", "--data-dir", dir, "--ari-url", "http://" + f.Addr(),
		"--ari-trunk", "PJSIP/{number}@trunk"},
		envOf("SOPHIA_ADMIN_TOKEN", testToken, "SOPHIA_ARI_PASSWORD", "sophia"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	logs := &watchWriter{}
	base, _ := startApp(t, cfg, logs)
	if st, _ := call(t, "GET", base+"/healthz", ""); st != 200 {
		t.Errorf("/healthz = %d while Asterisk is down", st)
	}
	if st, b := call(t, "GET", base+"/readyz", ""); st != 503 || !bytes.Contains(b, []byte("asterisk")) {
		t.Errorf("/readyz = %d %s while Asterisk is down, want 503 naming asterisk", st, b)
	}
	if bytes.Contains([]byte(logs.String()), []byte("password=sophia")) || strings.Contains(logs.String(), `"sophia"}`) {
		t.Error("the ARI password reached the log")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := f.WaitConnected(ctx, "sophia", true); err != nil {
		t.Fatal(err)
	}
	waitCond(t, "/readyz to pass", func() bool { st, _ := call(t, "GET", base+"/readyz", ""); return st == 200 })

	// A user, a busy sound, a call that finds the desk busy.
	if st, b := call(t, "PUT", base+"/v1/media/busy-fr", string(tone.WAV(8000, tone.Segment{Hz: 425, Dur: 100 * time.Millisecond})), "Content-Type", "audio/wav"); st != 201 {
		t.Fatalf("PUT media: %d %s", st, b)
	}
	alice := `{"name":"Alice","main_number":"+33478000001","device":{"id":"d","endpoint":"PJSIP/alice"},"audio":{"busy":"busy-fr"},"voicemail":{"enabled":false}}`
	if st, b := call(t, "PUT", base+"/v1/users/alice", alice); st != 201 {
		t.Fatalf("PUT alice: %d %s", st, b)
	}
	f.Script("PJSIP/alice", fakeari.Busy())
	c, err := f.Inbound(fakeari.InboundCall{CallerNumber: "+33145000000", CallerName: "Eve", Exten: "+33478000001"})
	if err != nil {
		t.Fatal(err)
	}
	waitCond(t, "the call to end", c.Ended)
	var page struct {
		Items []struct{ ID, Outcome, Reason string }
	}
	waitCond(t, "the call log", func() bool {
		_, b := call(t, "GET", base+"/v1/users/alice/calls", "")
		return json.Unmarshal(b, &page) == nil && len(page.Items) == 1
	})
	if p := page.Items[0]; p.ID != c.ID() || p.Outcome != "busy" || p.Reason != "busy" {
		t.Errorf("call log %+v", page.Items)
	}
	// The busy sound came from sophiad's media route, as Asterisk would fetch it.
	var played string
	for _, a := range f.Actions(c.ID()) {
		if a.Kind == "play" {
			played = a.Detail
		}
	}
	url, ok := strings.CutPrefix(played, "sound:")
	if !ok || !strings.HasSuffix(url, "/media/busy-fr.wav") {
		t.Fatalf("played %q, want sophiad's media URL", played)
	}
	res, err := http.Get(strings.Replace(url, "127.0.0.1:0", strings.TrimPrefix(base, "http://"), 1))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "audio/wav" {
		t.Errorf("GET %s: %d %s", url, res.StatusCode, res.Header.Get("Content-Type"))
	}
	_, metrics := call(t, "GET", base+"/metrics", "")
	for _, want := range []string{`sophia_calls_total{direction="inbound",outcome="busy"} 1`, `sophia_pbx_link_up{pbx="asterisk"} 1`} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// waitCond waits for cond with a deadline, checking it after each short pause.
func waitCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
