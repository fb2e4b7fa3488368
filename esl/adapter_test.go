package esl

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/internal/fakeesl"
	"github.com/sophia-pbx/sophia/internal/scenario"
)

// world loads the scenario table's world (alice, bob, carol; devices user/<id>).
func (h *harness) world(edit func(map[string]*config.Sheet)) {
	h.t.Helper()
	if err := scenario.Load(context.Background(), h.store, &scenario.Row{Edit: edit}, endpointOf); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) deviceState(uid string) config.DeviceState {
	v, err := h.store.CallView(context.Background(), uid)
	if err != nil {
		h.t.Fatal(err)
	}
	return v.Device
}

// TestRegistrationsAndReconnect: registrations and unregistrations reach the device
// states; a dropped inbound connection is reported (readiness, metrics) and made again,
// and the resync at connect catches up what changed meanwhile.
func TestRegistrationsAndReconnect(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.world(nil)
	h.waitLinked()
	h.register(fakeesl.Registration{User: "alice"})
	// The world starts online: take bob offline through FreeSWITCH.
	h.register(fakeesl.Registration{User: "bob"})
	if err := h.fake.Unregister("bob"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bob offline", func() bool { return h.deviceState("bob") == config.DeviceOffline })
	if h.deviceState("alice") != config.DeviceOnline {
		t.Errorf("alice %v after registering", h.deviceState("alice"))
	}

	// FreeSWITCH drops every socket (a restart); meanwhile alice unregisters and bob
	// registers: the resync at reconnection sees it.
	before := testutil.ToFloat64(h.a.m.connects.WithLabelValues("ok"))
	h.fake.DropConnections()
	waitFor(t, "the link to be reported down", func() bool { return h.a.Ready(context.Background()) != nil })
	if err := h.fake.Unregister("alice"); err != nil {
		t.Fatal(err)
	}
	if err := h.fake.Register(fakeesl.Registration{User: "bob"}); err != nil {
		t.Fatal(err)
	}
	h.waitLinked()
	waitFor(t, "the resync", func() bool {
		return h.deviceState("alice") == config.DeviceOffline && h.deviceState("bob") == config.DeviceOnline
	})
	if got := testutil.ToFloat64(h.a.m.connects.WithLabelValues("ok")); got != before+1 {
		t.Errorf("connects ok %v, want %v", got, before+1)
	}
	if got := testutil.ToFloat64(h.a.m.connected); got != 1 {
		t.Errorf("sophia_esl_inbound_connected %v", got)
	}
	if !strings.Contains(gather(t, h), `sophia_pbx_link_up{pbx="freeswitch"} 1`) {
		t.Error("sophia_pbx_link_up{pbx=freeswitch} is not 1")
	}
	problems, err := testutil.GatherAndLint(h.reg)
	if err != nil || len(problems) > 0 {
		t.Errorf("metric lint: %v %+v", err, problems)
	}
}

func gather(t *testing.T, h *harness) string {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			fmt.Fprintf(&b, "%s{%s} %v\n", mf.GetName(), strings.Join(ls, ","), v)
		}
	}
	return b.String()
}

// TestFreeSWITCHAbsent: without FreeSWITCH, the adapter reports not ready and keeps
// trying with backoff; calls are not affected (there are none to take).
func TestFreeSWITCHAbsent(t *testing.T) {
	h := newHarness(t, harnessOptions{noFake: true, addr: "127.0.0.1:1"})
	waitFor(t, "two failed connection attempts", func() bool {
		return testutil.ToFloat64(h.a.m.connects.WithLabelValues("error")) >= 2
	})
	if err := h.a.Ready(context.Background()); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("Ready() = %v, want not connected naming the address", err)
	}
}

// TestPresenceLightsBLF: a user's presence reaches FreeSWITCH as PRESENCE_IN from the
// device's SIP identity: do not disturb turned on through the store, then a call ringing.
func TestPresenceLightsBLF(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.world(nil)
	h.waitLinked()
	if _, err := h.store.UpdateUser(context.Background(), "bob", 0, func(s *config.Sheet) error { s.DND = true; return nil }, "test"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bob's DND as PRESENCE_IN", func() bool { return hasPresence(h.fake, "bob@127.0.0.1", "DND", "confirmed") })

	h.register(fakeesl.Registration{User: "alice", Endpoint: fakeesl.AnswerThenHangup(3*time.Second, time.Second)})
	id := h.inject(fakeesl.CallSpec{CallerIDNumber: scenario.Outsider, Destination: scenario.AliceMain})
	h.waitEnd(id)
	for _, want := range [][2]string{{"Ringing", "early"}, {"Talk", "confirmed"}, {"Available", "terminated"}} {
		if !hasPresence(h.fake, "alice@127.0.0.1", want[0], want[1]) {
			t.Errorf("no PRESENCE_IN alice %s/%s among %v", want[0], want[1], presences(h.fake))
		}
	}
}

func hasPresence(f *fakeesl.Server, from, status, answer string) bool {
	for _, e := range f.Presence() {
		if e.Get("from") == from && e.Get("status") == status && e.Get("answer-state") == answer {
			return true
		}
	}
	return false
}

func presences(f *fakeesl.Server) []string {
	var out []string
	for _, e := range f.Presence() {
		out = append(out, e.Get("from")+" "+e.Get("status"))
	}
	return out
}

// TestUnknownNumber: a call to a number no user owns goes back to the dialplan
// (socket_resume, then the socket closes) with the default policy.
func TestUnknownNumber(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.world(nil)
	id := h.inject(fakeesl.CallSpec{CallerIDNumber: scenario.Outsider, Destination: "+33999999999"})
	res := h.waitEnd(id)
	if !res.Continued {
		t.Fatalf("result %+v, want continued", res)
	}
	cmds := h.commands(id)
	if !slices.Contains(cmds, "execute set socket_resume=true") || slices.ContainsFunc(cmds, func(c string) bool { return strings.HasPrefix(c, "hangup") }) {
		t.Errorf("commands %q, want socket_resume and no hangup", cmds)
	}
	waitFor(t, "no leftovers", func() bool { return len(h.leftovers()) == 0 })
}

// TestFailedBridgeKeepsControl: a bridge that fails with a cause FreeSWITCH would hang
// the caller up with (USER_BUSY, ALLOTTED_TIMEOUT) leaves the caller's channel up,
// under the socket's control: sophia plays the busy sound on it and hangs up itself.
func TestFailedBridgeKeepsControl(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.world(func(u map[string]*config.Sheet) { u["alice"].Voicemail.Enabled = false })
	h.waitLinked()
	h.register(fakeesl.Registration{User: "alice", Endpoint: fakeesl.Busy()})
	id := h.inject(fakeesl.CallSpec{CallerIDNumber: scenario.Outsider, Destination: scenario.AliceMain})
	res := h.waitEnd(id)
	if res.Outcome.Kind != "busy" {
		t.Fatalf("outcome %+v", res.Outcome)
	}
	cmds := h.commands(id)
	bridge := slices.IndexFunc(cmds, func(c string) bool { return strings.HasPrefix(c, "execute bridge ") })
	play := slices.IndexFunc(cmds, func(c string) bool { return strings.HasPrefix(c, "execute playback ") })
	if bridge < 0 || play < bridge || cmds[len(cmds)-2] != "hangup USER_BUSY" {
		t.Errorf("commands %q: want the bridge, then the busy sound, then sophia's hangup", cmds)
	}
	for _, p := range h.fake.Played() {
		if p.UUID == id && p.App == "playback" && !strings.HasSuffix(p.File, "/media/busy-fr.wav") {
			t.Errorf("played %q", p.File)
		}
	}
	if !slices.Contains(cmds, "execute set continue_on_fail=true") {
		t.Errorf("no continue_on_fail in %q", cmds)
	}
}

// TestRingDeadlineBeforeFreeSWITCH: when sophia's ring deadline passes first (a
// FreeSWITCH whose timer is late, here one that never fires), the adapter stops the
// legs itself and the plan goes on (no answer → missed).
func TestRingDeadlineBeforeFreeSWITCH(t *testing.T) {
	// sophia's deadlines are short, and the fake's clock runs 100× slow: FreeSWITCH's
	// 20 s timeout would fire after 2000 s.
	h := newHarness(t, harnessOptions{clockScale: 100, seconds: func(int) time.Duration { return 50 * time.Millisecond }})
	h.world(func(u map[string]*config.Sheet) { u["alice"].Voicemail.Enabled = false })
	h.waitLinked()
	h.register(fakeesl.Registration{User: "alice", Endpoint: fakeesl.NeverAnswers()})
	id := h.inject(fakeesl.CallSpec{CallerIDNumber: scenario.Outsider, Destination: scenario.AliceMain})
	res := h.waitEnd(id)
	if res.Outcome.Kind != "missed" || res.Outcome.Reason != "no_answer" {
		t.Fatalf("outcome %+v, want missed no_answer", res.Outcome)
	}
	cmds := h.commands(id)
	if !slices.ContainsFunc(cmds, func(c string) bool {
		return strings.HasPrefix(c, "api uuid_kill ") && strings.HasSuffix(c, " NO_ANSWER")
	}) {
		t.Errorf("commands %q: want the leg killed", cmds)
	}
	waitFor(t, "no leftovers", func() bool { return len(h.leftovers()) == 0 })
}

// TestLoad: hundreds of concurrent calls on one sophia, to ten users whose desks answer,
// talk and hang up; afterwards no goroutine, socket, channel or lease is left.
func TestLoad(t *testing.T) {
	const users = 10
	calls := 300
	if raceEnabled {
		calls = 150 // the same path, within the package's time budget under -race on 2 cores
	}
	goroutines := runtime.NumGoroutine()
	var dir []string
	for u := range users {
		dir = append(dir, fmt.Sprintf("load%d", u))
	}
	// Under this load sophia's ring deadline gets a wide margin: the test is about
	// leftovers, not about which timer fires first.
	h := newHarness(t, harnessOptions{directory: dir, seconds: func(s int) time.Duration { return scaled(s) + 30*time.Second }})
	ctx := context.Background()
	h.world(nil)
	for u, id := range dir {
		s := config.DefaultSheet()
		s.ID, s.Name, s.MainNumber = id, id, fmt.Sprintf("+334780010%02d", u)
		s.Device = &config.Device{ID: "desk-" + id, Endpoint: "user/" + id}
		s.Advanced.MaxSimultaneousCalls, s.Advanced.CallWaiting = 50, true
		if _, err := h.store.PutUser(ctx, &s, "test"); err != nil {
			t.Fatal(err)
		}
	}
	h.waitLinked()
	for _, id := range dir {
		h.register(fakeesl.Registration{User: id, Endpoint: fakeesl.AnswerThenHangup(2*time.Second, 3*time.Second)})
	}
	var wg sync.WaitGroup
	ids := make([]string, calls)
	for i := range calls {
		wg.Go(func() {
			id, err := h.fake.InjectCall(fakeesl.CallSpec{Socket: h.a.Addr().String(), CallerIDNumber: fmt.Sprintf("+3314500%04d", i),
				Destination: fmt.Sprintf("+334780010%02d", i%users)})
			if err != nil {
				t.Error(err)
			}
			ids[i] = id
		})
	}
	wg.Wait()
	answered := 0
	for _, id := range ids {
		if res := h.waitEnd(id); res.Outcome.Kind == "answered" {
			answered++
		} else {
			t.Logf("call %s: %+v %v", id, res.Outcome, res.Err)
		}
	}
	if answered != calls {
		t.Errorf("%d of %d calls answered", answered, calls)
	}
	waitFor(t, "no channel or socket left on FreeSWITCH", func() bool { return len(h.leftovers()) == 0 })
	waitFor(t, "no socket open in sophia", func() bool { return h.a.open.Load() == 0 })
	if h.board.Leases() != 0 {
		t.Errorf("%d leases held", h.board.Leases())
	}
	for _, u := range dir {
		if n, _ := h.store.ActiveCalls(ctx, u); n != 0 {
			t.Errorf("%s: %d active calls", u, n)
		}
	}
	h.stop()
	waitFor(t, "every goroutine to end", func() bool { return runtime.NumGoroutine() <= goroutines })
}

// TestCallerHangsUpWhileRinging: the caller leaves while the desk and the mobile ring;
// FreeSWITCH cancels both legs (ORIGINATOR_CANCEL), sophia sends no hangup of its own,
// the call is a missed call for alice and nothing is left behind.
func TestCallerHangsUpWhileRinging(t *testing.T) {
	h := newHarness(t, harnessOptions{endpoints: map[string]fakeesl.Endpoint{
		"sofia/gateway/trunk/" + scenario.AliceMobile: fakeesl.NeverAnswers()}})
	h.world(func(u map[string]*config.Sheet) {
		u["alice"].Forwards.SimultaneousRing = config.SimultaneousRing{Enabled: true, Targets: []string{scenario.AliceMobile}}
	})
	h.waitLinked()
	h.register(fakeesl.Registration{User: "alice", Endpoint: fakeesl.NeverAnswers()})
	id := h.inject(fakeesl.CallSpec{CallerIDNumber: scenario.Outsider, Destination: scenario.AliceMain})
	waitFor(t, "both legs ringing", func() bool {
		for _, b := range h.fake.Bridges() {
			if b.UUID == id && len(b.Legs) == 2 && b.Legs[0].UUID != "" && b.Legs[1].UUID != "" {
				return true
			}
		}
		return false
	})
	if err := h.fake.Hangup(id, "NORMAL_CLEARING"); err != nil {
		t.Fatal(err)
	}
	res := h.waitEnd(id)
	if res.Outcome.Kind != "missed" || res.Outcome.Reason != "caller_hangup" {
		t.Errorf("outcome %+v", res.Outcome)
	}
	for _, b := range h.fake.Bridges() {
		for _, l := range b.Legs {
			if b.UUID == id && l.Cause != "ORIGINATOR_CANCEL" {
				t.Errorf("leg %s ended %q, want ORIGINATOR_CANCEL", l.Target, l.Cause)
			}
		}
	}
	if cmds := h.commands(id); slices.ContainsFunc(cmds, func(c string) bool { return strings.HasPrefix(c, "hangup") }) {
		t.Errorf("sophia hung up a caller already gone: %q", cmds)
	}
	waitFor(t, "no leftovers", func() bool { return len(h.leftovers()) == 0 })
	if n, _ := h.store.ActiveCalls(context.Background(), "alice"); n != 0 {
		t.Errorf("alice has %d active calls", n)
	}
}
